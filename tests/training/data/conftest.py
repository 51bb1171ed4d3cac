"""Fixtures of the data-layer tests: a few real face images from ../shared."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def crop_rows(crops_dir: Path) -> list[tuple[Path, np.ndarray]]:
    """The first 6 fully labelled rows of aflw2000-crops: (image path, [yaw, pitch, roll])."""
    rows = []
    with open(crops_dir / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["pitch"] and row["roll"]:
                target = np.array([row["yaw"], row["pitch"], row["roll"]], dtype=np.float32)
                rows.append((crops_dir / row["image"], target))
            if len(rows) == 6:
                break
    return rows


@pytest.fixture(scope="session")
def small_faces_bgr(crop_rows) -> list[np.ndarray]:
    """Six real face crops, BGR uint8, resized to 48x48."""
    return [
        cv2.resize(cv2.imread(str(p)), (48, 48), interpolation=cv2.INTER_AREA) for p, _ in crop_rows
    ]


@pytest.fixture(scope="session")
def originals_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "aflw2000-originals"
