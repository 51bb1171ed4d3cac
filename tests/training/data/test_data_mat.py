"""300wlp / aflw2000 formats on the real .mat files, the HopeNet loose crop, and errors."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from headpose.training.data import DataError, build_dataset, loose_crop_box, read_pose_mat


def _csv_labels(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as f:
        return {
            r["image"]: np.array([r["yaw"], r["pitch"], r["roll"]], dtype=np.float64)
            for r in csv.DictReader(f)
        }


def test_aflw2000_labels_match_labels_csv(originals_dir: Path):
    ds = build_dataset("aflw2000", originals_dir, subset="full")
    assert len(ds) == 16  # 16 of the 25 images have a .mat
    expected = _csv_labels(originals_dir / "labels.csv")
    for record in ds.records:
        np.testing.assert_allclose(record.target, expected[Path(record.image).name], atol=1e-3)


def test_300wlp_sample_label_conversion(shared_dir: Path):
    folder = shared_dir / "data" / "300wlp-sample"
    ds = build_dataset("300wlp", folder)
    assert len(ds) == 1
    pitch, yaw, roll = np.degrees(
        scipy.io.loadmat(folder / "IBUG_image_008_1_0.mat")["Pose_Para"][0, :3]
    )
    np.testing.assert_allclose(ds.records[0].target, [yaw, pitch, roll], atol=1e-4)
    # yaw is about -44 degrees: the face turns toward the image's right (negative yaw)
    assert ds.records[0].target[0] == pytest.approx(-44.0, abs=0.5)


def test_invisible_points_are_ignored_for_the_box(originals_dir: Path):
    # image00251 has 9 invisible AFLW points stored as (-1, 452)
    _, box = read_pose_mat(originals_dir / "image00251.mat")
    x1, y1, x2, y2 = box
    assert 0 <= x1 < x2 <= 450 and 0 <= y1 < y2 <= 450
    assert (x1, y1, x2, y2) == pytest.approx((113.3, 205.0, 260.5, 360.0), abs=0.1)


def test_loose_crop_rules_match_hopenet_arithmetic():
    box = (100.0, 200.0, 200.0, 300.0)
    # AFLW2000 test rule, k = 0.2, sequential updates
    x1 = 100 - 0.4 * 100  # 60
    y1 = 200 - 0.4 * 100  # 160
    x2 = 200 + 0.4 * (200 - x1)  # 256
    y2 = 300 + 0.12 * (300 - y1)  # 316.8
    assert loose_crop_box(box, "aflw2000", 0.2) == pytest.approx((x1, y1, x2, y2))
    # 300W-LP training rule, k = 0.3
    x1 = 100 - 0.18 * 100
    y1 = 200 - 0.6 * 100
    assert loose_crop_box(box, "300wlp", 0.3) == pytest.approx(
        (x1, y1, 200 + 0.18 * (200 - x1), 300 + 0.18 * (300 - y1))
    )


def test_crop_sizes_eval_fixed_train_random(originals_dir: Path, shared_dir: Path):
    aflw = build_dataset("aflw2000", originals_dir, subset="full")
    rec = aflw.records[0]
    bx1, by1, bx2, by2 = loose_crop_box(rec.box, "aflw2000", 0.2)
    image, _ = aflw[0]
    assert image.shape == (int(by2) - int(by1), int(bx2) - int(bx1), 3)

    lp = build_dataset("300wlp", shared_dir / "data" / "300wlp-sample", train=True)
    lo = loose_crop_box(lp.records[0].box, "300wlp", 0.2)
    hi = loose_crop_box(lp.records[0].box, "300wlp", 0.4)
    torch.manual_seed(0)
    heights = {lp[0][0].shape[0] for _ in range(6)}
    assert len(heights) > 1  # k is drawn per sample
    assert all(int(lo[3]) - int(lo[1]) - 1 <= h <= int(hi[3]) - int(hi[1]) + 1 for h in heights)
    torch.manual_seed(0)
    again = {lp[0][0].shape[0] for _ in range(6)}
    assert again == heights
    assert lp.load(0, train=False)[0].shape == lp.load(0, train=False)[0].shape  # eval: fixed k


def _copy_pair(src_dir: Path, stem: str, dst: Path) -> None:
    for ext in (".jpg", ".mat"):
        shutil.copy(src_dir / f"{stem}{ext}", dst / f"{stem}{ext}")


def test_reduced_subset_drops_beyond_99_degrees(originals_dir: Path, tmp_path: Path):
    _copy_pair(originals_dir, "image00050", tmp_path)
    mat = scipy.io.loadmat(originals_dir / "image00081.mat")
    mat["Pose_Para"] = mat["Pose_Para"].copy()
    mat["Pose_Para"][0, 1] = np.radians(120.0)  # yaw beyond 99
    shutil.copy(originals_dir / "image00081.jpg", tmp_path / "image00081.jpg")
    scipy.io.savemat(
        tmp_path / "image00081.mat", {k: v for k, v in mat.items() if not k.startswith("__")}
    )
    assert len(build_dataset("aflw2000", tmp_path, subset="full")) == 2
    reduced = build_dataset("aflw2000", tmp_path)
    assert [Path(r.image).name for r in reduced.records] == ["image00050.jpg"]


def test_recursive_root_and_file_list(originals_dir: Path, tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    _copy_pair(originals_dir, "image00050", tmp_path / "a")
    _copy_pair(originals_dir, "image00430", tmp_path / "a" / "b")
    shutil.copy(originals_dir / "image00181.jpg", tmp_path / "a")  # jpg without .mat: skipped
    assert len(build_dataset("aflw2000", tmp_path)) == 2
    (tmp_path / "list.txt").write_text("a/b/image00430\n")
    listed = build_dataset("aflw2000", tmp_path, file_list=tmp_path / "list.txt")
    assert [Path(r.image).name for r in listed.records] == ["image00430.jpg"]
    with pytest.raises(DataError, match=r"list\.txt: line 1: file not found: .*image99999\.mat"):
        (tmp_path / "list.txt").write_text("image99999\n")
        build_dataset("aflw2000", tmp_path, file_list=tmp_path / "list.txt")


def test_mat_without_pose_para_names_file_and_keys(originals_dir: Path, tmp_path: Path):
    shutil.copy(originals_dir / "image00050.jpg", tmp_path / "image00050.jpg")
    scipy.io.savemat(
        tmp_path / "image00050.mat", {"pt2d": np.zeros((2, 21)), "roi": np.zeros((1, 4))}
    )
    with pytest.raises(DataError) as err:
        build_dataset("aflw2000", tmp_path)
    msg = str(err.value)
    assert "image00050.mat" in msg and "Pose_Para" in msg and "['pt2d', 'roi']" in msg


def test_unreadable_mat(originals_dir: Path, tmp_path: Path):
    shutil.copy(originals_dir / "image00050.jpg", tmp_path / "image00050.jpg")
    (tmp_path / "image00050.mat").write_bytes(b"MATLAB? no." * 30)
    with pytest.raises(DataError, match=r"image00050\.mat: cannot read \.mat file"):
        build_dataset("aflw2000", tmp_path)


def test_missing_folder(tmp_path: Path):
    with pytest.raises(DataError, match="dataset folder not found"):
        build_dataset("300wlp", tmp_path / "nope")
