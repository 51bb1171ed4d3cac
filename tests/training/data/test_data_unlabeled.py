"""unlabeled format: recursive image folder, NaN targets, fast indexing."""

from __future__ import annotations

import shutil
import time
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


def test_utkface_indexes_quickly(shared_dir: Path):
    t0 = time.perf_counter()
    ds = build_dataset("unlabeled", shared_dir / "data" / "utkface")
    elapsed = time.perf_counter() - t0
    assert len(ds) == 9780
    assert elapsed < 3.0  # directory entries only; no decoding (measured ~0.2 s)
    assert ds[0][0].shape == (200, 200, 3)


def test_empty_or_missing_folder(tmp_path: Path):
    with pytest.raises(DataError, match="no images found"):
        build_dataset("unlabeled", tmp_path)
    with pytest.raises(DataError, match="image folder not found"):
        build_dataset("unlabeled", tmp_path / "nope")
