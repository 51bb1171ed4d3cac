"""csv format: the real aflw2000-crops labels, optional columns, and every error case."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.metadata import CropRule
from headpose.preprocess import crop_box
from headpose.training.data import CsvPoseDataset, DataError, build_dataset


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def small_folder(tmp_path: Path, crop_rows) -> Path:
    """A folder with 3 real crops (one in a subfolder) and a valid labels.csv."""
    (tmp_path / "sub").mkdir()
    lines = ["image,yaw,pitch,roll"]
    for i, (src, t) in enumerate(crop_rows[:3]):
        rel = f"sub/{src.name}" if i == 2 else src.name
        shutil.copy(src, tmp_path / rel)
        lines.append(f"{rel},{t[0]},{t[1]},{t[2]}")
    _write(tmp_path / "labels.csv", "\n".join(lines) + "\n")
    return tmp_path


def test_real_aflw2000_crops_index(crops_dir: Path):
    ds = build_dataset("csv", crops_dir)
    assert len(ds) == 1389
    targets = ds.targets()
    assert targets.shape == (1389, 3) and targets.dtype == np.float32
    yaw_only = np.isnan(targets[:, 1]) & np.isnan(targets[:, 2]) & np.isfinite(targets[:, 0])
    assert int(yaw_only.sum()) == 141
    assert np.isfinite(targets[~yaw_only]).all()
    # first row of labels.csv: images/image00002.jpg,1.0443,-22.8742,4.9089
    np.testing.assert_allclose(ds.records[0].target, [1.0443, -22.8742, 4.9089], atol=1e-4)


def test_item_is_rgb_uint8_and_target(small_folder: Path, crop_rows):
    ds = CsvPoseDataset(small_folder)
    assert len(ds) == 3
    image, target = ds[2]
    bgr = cv2.imread(str(crop_rows[2][0]))
    assert image.dtype == np.uint8 and image.shape == bgr.shape
    np.testing.assert_array_equal(image, bgr[:, :, ::-1])
    np.testing.assert_allclose(target, crop_rows[2][1], atol=1e-4)
    # the CSV path itself also works as root
    assert len(CsvPoseDataset(small_folder / "labels.csv")) == 3


def test_empty_cells_are_nan(small_folder: Path):
    rows = (small_folder / "labels.csv").read_text().splitlines()
    name = rows[1].split(",")[0]
    _write(small_folder / "labels.csv", f"image,yaw,pitch,roll\n{name},12.5,,\n")
    ds = CsvPoseDataset(small_folder)
    assert ds.records[0].target[0] == pytest.approx(12.5)
    assert np.isnan(ds.records[0].target[1:]).all()


def test_subject_and_box_columns(small_folder: Path, crop_rows):
    name = crop_rows[0][0].name
    box = (100.0, 120.0, 260.0, 300.0)
    _write(
        small_folder / "labels.csv",
        "image,yaw,pitch,roll,subject,x1,y1,x2,y2,note\n"
        f"{name},1,2,3,s07,{box[0]},{box[1]},{box[2]},{box[3]},hello\n"
        f"{name},4,5,6,s08,,,,,\n",
    )
    ds = CsvPoseDataset(small_folder, crop_scale=1.5)
    assert [r.subject for r in ds.records] == ["s07", "s08"]
    assert ds.records[0].box == box and ds.records[1].box is None
    cropped, _ = ds[0]
    cx1, cy1, cx2, cy2 = crop_box(box, CropRule(scale=1.5))
    assert cropped.shape == (int(cy2) - int(cy1), int(cx2) - int(cx1), 3)
    full = cv2.imread(str(crop_rows[0][0]))[:, :, ::-1]
    np.testing.assert_array_equal(
        cropped[10:20, 10:20], full[int(cy1) + 10 : int(cy1) + 20, int(cx1) + 10 : int(cx1) + 20]
    )
    assert ds[1][0].shape == full.shape


def test_missing_csv(tmp_path: Path):
    with pytest.raises(DataError, match="labels.csv.*not found"):
        CsvPoseDataset(tmp_path)


def test_wrong_header_says_expected_and_got(small_folder: Path):
    _write(small_folder / "labels.csv", "file,yaw,pitch,roll\na.jpg,1,2,3\n")
    with pytest.raises(DataError) as err:
        CsvPoseDataset(small_folder)
    msg = str(err.value)
    assert (
        "labels.csv" in msg
        and "expected image,yaw,pitch,roll" in msg
        and "got file,yaw,pitch,roll" in msg
    )


def test_non_number_names_line_and_column(small_folder: Path):
    lines = (small_folder / "labels.csv").read_text().splitlines()
    parts = lines[2].split(",")
    parts[2] = "abc"
    lines[2] = ",".join(parts)
    _write(small_folder / "labels.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"labels\.csv: line 3, column 'pitch'.*got 'abc'"):
        CsvPoseDataset(small_folder)


def test_missing_image_fails_at_index_time(small_folder: Path):
    with open(small_folder / "labels.csv", "a") as f:
        f.write("nowhere/ghost.jpg,1,2,3\n")
    with pytest.raises(DataError, match=r"line 5: image file not found: nowhere/ghost\.jpg"):
        CsvPoseDataset(small_folder)


def test_corrupt_image_fails_when_loaded(small_folder: Path, crop_rows):
    victim = small_folder / crop_rows[1][0].name
    victim.write_bytes(b"\x00\x01 this is not a jpeg " * 20)
    ds = CsvPoseDataset(small_folder)  # index only checks existence
    ds[0]
    with pytest.raises(DataError, match=f"{victim.name}: cannot decode image"):
        ds[1]


def test_partial_box_columns_rejected(small_folder: Path):
    _write(small_folder / "labels.csv", "image,yaw,pitch,roll,x1,y1\na.jpg,1,2,3,4,5\n")
    with pytest.raises(DataError, match="x1,y1,x2,y2"):
        CsvPoseDataset(small_folder)


def test_max_abs_angle_filter(small_folder: Path, crop_rows):
    name = crop_rows[0][0].name
    _write(small_folder / "labels.csv", f"image,yaw,pitch,roll\n{name},120,0,0\n{name},5,,\n")
    assert len(CsvPoseDataset(small_folder)) == 2
    kept = CsvPoseDataset(small_folder, max_abs_angle=99)
    assert len(kept) == 1 and kept.records[0].target[0] == 5
