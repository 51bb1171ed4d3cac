"""eth_xgaze format: tiny per-subject .h5 files written with h5py and real face crops."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
from torch.utils.data import DataLoader

from headpose.training.data import (
    DEFAULT_VAL_SUBJECTS,
    DataError,
    PoseTransform,
    build_dataset,
    split_by_subject,
)

# [pitch, yaw] radians per row, as in the release
HEAD_POSE = np.radians([[10.0, -30.0], [-5.0, 45.0], [0.0, 0.0]])


@pytest.fixture
def eth_root(tmp_path: Path, small_faces_bgr) -> Path:
    for n, subject in enumerate(("subject0002.h5", "subject0108.h5")):
        with h5py.File(tmp_path / subject, "w") as h5:
            h5.create_dataset("face_patch", data=np.stack(small_faces_bgr[3 * n : 3 * n + 3]))
            h5.create_dataset("face_head_pose", data=HEAD_POSE)
            h5.create_dataset("face_gaze", data=np.zeros((3, 2)))
    return tmp_path


def test_items_yaw_pitch_nan_roll_and_rgb(eth_root: Path, small_faces_bgr):
    ds = build_dataset("eth_xgaze", eth_root)
    assert len(ds) == 6
    assert [r.subject for r in ds.records] == ["2"] * 3 + ["108"] * 3
    image, target = ds[4]
    np.testing.assert_array_equal(image, small_faces_bgr[4][:, :, ::-1])
    np.testing.assert_allclose(target[:2], [45.0, -5.0], atol=1e-4)  # [yaw, pitch] degrees
    assert np.isnan(target[2])


def test_sign_options_and_subject_filter(eth_root: Path):
    flipped = build_dataset("eth_xgaze", eth_root, yaw_sign=-1, subjects=[108])
    assert len(flipped) == 3
    np.testing.assert_allclose(flipped.records[0].target[:2], [30.0, 10.0], atol=1e-4)
    with pytest.raises(DataError, match="yaw_sign: expected"):
        build_dataset("eth_xgaze", eth_root, yaw_sign=2)


def test_default_held_out_subjects_split(eth_root: Path):
    ds = build_dataset("eth_xgaze", eth_root)
    split = split_by_subject(ds, val_subjects=DEFAULT_VAL_SUBJECTS)
    assert split.val.tolist() == [3, 4, 5] and split.train.tolist() == [0, 1, 2]


def test_loader_batches_and_pickling(eth_root: Path):
    ds = build_dataset("eth_xgaze", eth_root, transform=PoseTransform(32))
    ds[0]
    clone = pickle.loads(pickle.dumps(ds))
    images, targets = next(iter(DataLoader(clone, batch_size=4)))
    assert images.shape == (4, 3, 32, 32) and targets.shape == (4, 3)


def test_missing_dataset_and_bad_file(eth_root: Path, tmp_path: Path):
    bad = tmp_path / "other"
    bad.mkdir()
    with h5py.File(bad / "subject0005.h5", "w") as h5:
        h5.create_dataset("face_patch", data=np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(
        DataError, match=r"subject0005\.h5: missing dataset\(s\) \['face_head_pose'\]"
    ):
        build_dataset("eth_xgaze", bad)
    (bad / "subject0005.h5").write_bytes(b"garbage" * 10)
    with pytest.raises(DataError, match=r"subject0005\.h5: cannot read \.h5"):
        build_dataset("eth_xgaze", bad)
    with pytest.raises(DataError, match="not found"):
        build_dataset("eth_xgaze", tmp_path / "missing")
