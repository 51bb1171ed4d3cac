"""biwi format: a tiny FSA-Net-style .npz written with real face crops."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from headpose.training.data import DataError, build_dataset


@pytest.fixture
def biwi_npz(tmp_path: Path, small_faces_bgr, crop_rows) -> Path:
    path = tmp_path / "BIWI_test.npz"
    pose = np.stack([t for _, t in crop_rows]).astype(np.float64)  # [yaw, pitch, roll] degrees
    np.savez(path, image=np.stack(small_faces_bgr), pose=pose, img_size=48)
    return path


def test_npz_items_are_rgb_with_yaw_pitch_roll(biwi_npz: Path, small_faces_bgr, crop_rows):
    ds = build_dataset("biwi", biwi_npz)
    assert len(ds) == 6
    image, target = ds[3]
    np.testing.assert_array_equal(image, small_faces_bgr[3][:, :, ::-1])  # BGR file -> RGB item
    assert image.flags["C_CONTIGUOUS"] and image.dtype == np.uint8
    np.testing.assert_allclose(target, crop_rows[3][1], atol=1e-4)
    rgb = build_dataset("biwi", biwi_npz, color_order="RGB")
    np.testing.assert_array_equal(rgb[3][0], small_faces_bgr[3])
    assert build_dataset("biwi", biwi_npz.parent).path == biwi_npz  # folder with one .npz


def test_pickles_without_pixels(biwi_npz: Path):
    ds = build_dataset("biwi", biwi_npz)
    ds[0]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._images is None
    np.testing.assert_array_equal(clone[1][0], ds[1][0])


def test_optional_subject_key(tmp_path: Path, small_faces_bgr):
    path = tmp_path / "b.npz"
    np.savez(
        path, image=np.stack(small_faces_bgr[:2]), pose=np.zeros((2, 3)), subject=np.array([3, 7])
    )
    assert [r.subject for r in build_dataset("biwi", path).records] == ["3", "7"]


def test_missing_key_and_bad_shapes(tmp_path: Path, small_faces_bgr):
    path = tmp_path / "b.npz"
    np.savez(path, image=np.stack(small_faces_bgr[:2]), angles=np.zeros((2, 3)))
    with pytest.raises(
        DataError, match=r"b\.npz: missing key\(s\) \['pose'\].*has \['angles', 'image'\]"
    ):
        build_dataset("biwi", path)
    np.savez(path, image=np.stack(small_faces_bgr[:2]), pose=np.zeros((3, 3)))
    with pytest.raises(DataError, match=r"N = 3 rows of 'pose', got \(2, 48, 48, 3\)"):
        build_dataset("biwi", path)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match=r"b\.npz: cannot read \.npz"):
        build_dataset("biwi", path)
