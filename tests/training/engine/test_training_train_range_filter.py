"""data.train_max_abs_angle drops out-of-range training labels and never changes validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headpose.training.config import ConfigError, load_config
from headpose.training.data.run_split import open_dataset, split_train_val


def _split(crops_dir: Path, *extra: str):
    cfg = load_config(
        None,
        [
            "data.kind=csv",
            f"data.root={crops_dir}",
            "data.split.by=file",
            "data.split.val_fraction=0.2",
            *extra,
        ],
    )
    full = open_dataset(cfg, "csv", crops_dir)
    return full, *split_train_val(cfg, full)


def test_filter_drops_training_labels_outside_the_range_only(crops_dir: Path) -> None:
    full, train_all, val_all = _split(crops_dir)
    _, train, val = _split(crops_dir, "data.train_max_abs_angle=99")
    assert val == val_all  # same validation images
    dropped = sorted(set(train_all) - set(train))
    assert set(train) <= set(train_all) and dropped
    for i in dropped:  # e.g. the AFLW2000 labels with |roll| > 900 deg
        assert np.nanmax(np.abs(full.records[i].target)) > 99
    for i in train:
        assert np.nanmax(np.abs(full.records[i].target)) <= 99


def test_filter_value_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="data.train_max_abs_angle"):
        load_config(None, ["data.train_max_abs_angle=-5"])


def test_tuning_split_comes_out_of_training_only(crops_dir: Path) -> None:
    from headpose.training.data.run_split import split_train_tune_val

    full, train_all, val_all = _split(crops_dir, "data.train_max_abs_angle=99")
    cfg = load_config(
        None,
        [
            "data.kind=csv",
            f"data.root={crops_dir}",
            "data.split.val_fraction=0.2",
            "data.split.tune_fraction=0.2",
            "data.train_max_abs_angle=99",
        ],
    )
    train, tune, val = split_train_tune_val(cfg, full)
    assert val == val_all  # validation untouched
    assert not set(train) & set(tune) and set(train) | set(tune) == set(train_all)
    assert abs(len(tune) - 0.2 * (len(train) + len(tune))) < 5
    for i in tune:
        assert np.nanmax(np.abs(full.records[i].target)) <= 99
