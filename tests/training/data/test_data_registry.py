"""build_dataset registry: kinds, unknown kinds/options, plugging in a new format, views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headpose.training.data import (
    DataError,
    PoseDataset,
    PoseRecord,
    PoseTransform,
    available_datasets,
    build_dataset,
    register_dataset,
)
from headpose.training.data import registry as registry_module


def test_builtin_kinds():
    assert available_datasets() == ["300wlp", "aflw2000", "biwi", "csv", "eth_xgaze", "unlabeled"]


def test_unknown_kind_and_option(crops_dir: Path):
    with pytest.raises(DataError, match=r"expected one of \['300wlp'.*got 'afw'"):
        build_dataset("afw", crops_dir)
    with pytest.raises(DataError, match=r"dataset 'csv': unknown option\(s\) \['colour'\]"):
        build_dataset("csv", crops_dir, colour="RGB")
    with pytest.raises(DataError, match=r"unknown option\(s\) \['k_rnage'\]"):
        build_dataset("aflw2000", crops_dir, k_rnage=(0.1, 0.2))


def test_register_new_format():
    class Constant(PoseDataset):
        kind = "constant"

        def __init__(self, root, *, n=2, transform=None, train=False):
            recs = [PoseRecord(str(root), np.array([1.0, 2.0, 3.0])) for _ in range(n)]
            super().__init__(recs, transform=transform, train=train)

        def load_image(self, record, train):
            return np.full((10, 12, 3), 7, np.uint8)

    register_dataset("constant")(Constant)
    try:
        ds = build_dataset("constant", "x", n=3)
        assert len(ds) == 3 and ds[0][0].shape == (10, 12, 3)
        view = ds.view([2, 0], transform=PoseTransform(16))
        x, y = view[0]
        assert x.shape == (3, 16, 16) and y.tolist() == [1.0, 2.0, 3.0]
        assert len(view.records) == 2
        with pytest.raises(IndexError):
            ds.view([5])
    finally:
        registry_module._REGISTRY.pop("constant", None)
