"""Crop folders and labelled folders used by export checks, calibration and evaluation."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from headpose.errors import InvalidImageError, InvalidInputError
from headpose.export.images import list_images, preprocess_crops, read_crop, read_labelled_folder
from headpose.metadata import ModelMetadata
from headpose.preprocess import resize_image, to_input_tensor


def test_preprocess_matches_runtime_functions(crops_dir: Path) -> None:
    meta = ModelMetadata(input_size=(48, 40))
    paths = list_images(crops_dir / "images", limit=2)
    x = preprocess_crops(paths, meta)
    expected = to_input_tensor([resize_image(read_crop(p), (48, 40)) for p in paths], meta)
    assert x.shape == (2, 3, 48, 40) and x.dtype == np.float32
    np.testing.assert_array_equal(x, expected)


def test_list_images_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="image folder not found"):
        list_images(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidInputError, match="no images found"):
        list_images(tmp_path)
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InvalidImageError, match="broken.jpg"):
        preprocess_crops(list_images(tmp_path), ModelMetadata(input_size=(32, 32)))


def test_labelled_folder(labelled_dir: Path) -> None:
    data = read_labelled_folder(labelled_dir)
    assert len(data.paths) == 12 and data.labels.shape == (12, 3)
    assert np.isnan(data.labels).any() and np.isfinite(data.labels[:, 0]).all()
    assert len(read_labelled_folder(labelled_dir, limit=5).paths) == 5


def test_labelled_folder_errors(labelled_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    shutil.copytree(labelled_dir, folder)
    lines = (folder / "labels.csv").read_text().splitlines()
    (folder / "labels.csv").write_text("image,yaw,pitch\n" + "\n".join(lines[1:]))
    with pytest.raises(
        InvalidInputError, match="expected image,yaw,pitch,roll.*got image,yaw,pitch"
    ):
        read_labelled_folder(folder)
    bad = lines[1].split(",")
    bad[2] = "up"
    (folder / "labels.csv").write_text("\n".join([lines[0], ",".join(bad)]))
    with pytest.raises(InvalidInputError, match=r"labels.csv: line 2, column 'pitch'.*'up'"):
        read_labelled_folder(folder)
    (folder / "labels.csv").write_text(lines[0] + "\nimages/ghost.jpg,1,2,3\n")
    with pytest.raises(InvalidInputError, match="line 2: image file not found: images/ghost.jpg"):
        read_labelled_folder(folder)
    (folder / "labels.csv").unlink()
    with pytest.raises(InvalidInputError, match="no labels.csv"):
        read_labelled_folder(folder)


def test_labels_read_like_training_bom_and_inf(labelled_dir: Path, tmp_path: Path) -> None:
    """export and training read labels.csv with the same reader: a BOM is fine, inf is not."""
    from headpose.training.data.csv_folder import read_pose_csv

    folder = tmp_path / "lab"
    shutil.copytree(labelled_dir, folder)
    text = (folder / "labels.csv").read_text()
    (folder / "labels.csv").write_text("\ufeff" + text, encoding="utf-8")
    data = read_labelled_folder(folder)
    train = read_pose_csv(folder / "labels.csv")
    assert [p.name for p in data.paths] == [Path(r.image).name for r in train]
    lines = text.splitlines()
    bad = lines[1].split(",")
    bad[1] = "inf"
    (folder / "labels.csv").write_text("\n".join([lines[0], ",".join(bad)]) + "\n")
    with pytest.raises(InvalidInputError, match="column 'yaw'.*'inf'"):
        read_labelled_folder(folder)


def test_default_crops_dir_is_not_looked_up_beside_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headpose.export.images import default_crops_dir

    monkeypatch.delenv("HEADPOSE_SHARED", raising=False)
    monkeypatch.chdir(tmp_path)  # no ../shared here
    assert default_crops_dir() is None
