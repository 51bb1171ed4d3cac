"""Training box jitter: bounded, reproducible per seed, off for validation views."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from headpose.training.data.csv_folder import BoxJitter, CsvPoseDataset


def _stats(box, out):
    w, h = box[2] - box[0], box[3] - box[1]
    ow, oh = out[2] - out[0], out[3] - out[1]
    side = max(w, h)
    dx = ((out[0] + out[2]) - (box[0] + box[2])) / 2 / side
    dy = ((out[1] + out[3]) - (box[1] + box[3])) / 2 / side
    return dx, dy, math.log(math.sqrt(ow * oh) / math.sqrt(w * h)), math.log((ow / oh) / (w / h))


def test_zero_jitter_is_the_identity() -> None:
    box = (10.0, 20.0, 110.0, 150.0)
    assert BoxJitter()(box) == pytest.approx(box)


def test_jitter_stays_within_its_ranges_and_covers_them() -> None:
    jitter = BoxJitter(shift=0.08, scale=0.12, aspect=0.1)
    box = (10.0, 20.0, 110.0, 150.0)
    torch.manual_seed(0)
    got = np.array([_stats(box, jitter(box)) for _ in range(2000)])
    limits = np.array([0.08, 0.08, 0.12, 0.1])
    assert np.all(np.abs(got) <= limits + 1e-9)
    assert np.all(np.abs(got).max(axis=0) > 0.9 * limits)  # the whole range is used
    assert np.all(np.abs(got.mean(axis=0)) < 0.1 * limits)  # centred on the runtime's box


def test_jitter_is_reproducible_from_the_torch_seed() -> None:
    jitter, box = BoxJitter(0.05, 0.1, 0.1), (0.0, 0.0, 50.0, 60.0)
    torch.manual_seed(3)
    a = jitter(box)
    torch.manual_seed(3)
    assert jitter(box) == a


def test_csv_dataset_jitters_training_crops_only(tmp_path: Path, crops_dir: Path) -> None:
    with open(crops_dir / "labels.csv", newline="") as f:
        first = next(csv.DictReader(f))
    image = (crops_dir / first["image"]).resolve()
    labels = tmp_path / "boxes.csv"
    labels.write_text(
        "image,yaw,pitch,roll,x1,y1,x2,y2\n"
        f"{image},{first['yaw']},{first['pitch']},{first['roll']},120,110,260,280\n"
    )
    plain = CsvPoseDataset(labels)
    jittered = CsvPoseDataset(labels, box_jitter=BoxJitter(0.08, 0.12, 0.1))
    val_a, _ = jittered.load(0, train=False)
    val_b, _ = plain.load(0, train=True)
    assert np.array_equal(val_a, val_b)  # validation (and no jitter) = the runtime crop
    torch.manual_seed(1)
    train_a, _ = jittered.load(0, train=True)
    torch.manual_seed(2)
    train_b, _ = jittered.load(0, train=True)
    assert train_a.shape != train_b.shape or not np.array_equal(train_a, train_b)
