"""unlabeled format: recursive image folder, NaN targets, indexing without decoding."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.training.data import DataError, build_dataset


def test_recursive_folder_nan_targets(tmp_path: Path, crop_rows):
    (tmp_path / "x" / "y").mkdir(parents=True)
    shutil.copy(crop_rows[0][0], tmp_path / "a.JPG")
    cv2.imwrite(str(tmp_path / "x" / "y" / "b.png"), cv2.imread(str(crop_rows[1][0])))
    (tmp_path / "x" / "notes.txt").write_text("not an image")
    ds = build_dataset("unlabeled", tmp_path)
    assert [Path(r.image).name for r in ds.records] == ["a.JPG", "b.png"]
    image, target = ds[1]
    assert image.dtype == np.uint8 and image.ndim == 3 and np.isnan(target).all()
    np.testing.assert_array_equal(image, cv2.imread(str(crop_rows[1][0]))[:, :, ::-1])


def test_utkface_indexes_without_reading_images(shared_dir: Path, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("an image was read while indexing")

    with monkeypatch.context() as m:  # indexing lists directory entries only
        for name in ("imread", "imdecode"):
            m.setattr(cv2, name, no_reading)
        m.setattr(np, "fromfile", no_reading)
        ds = build_dataset("unlabeled", shared_dir / "data" / "utkface")
    assert len(ds) == 9780
    assert ds[0][0].shape == (200, 200, 3)  # decoded on access


def test_empty_or_missing_folder(tmp_path: Path):
    with pytest.raises(DataError, match="no images found"):
        build_dataset("unlabeled", tmp_path)
    with pytest.raises(DataError, match="image folder not found"):
        build_dataset("unlabeled", tmp_path / "nope")
