"""Face-crop folders for verification, calibration and evaluation, preprocessed like the runtime.

A crop folder is any folder of images (searched recursively, sorted by path). A *labelled*
folder additionally holds ``labels.csv`` with the header ``image,yaw,pitch,roll`` (degrees, the
project's angle convention; an empty cell means a missing label) and image paths relative to it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from headpose.errors import InvalidImageError, InvalidInputError
from headpose.image_io import IMAGE_SUFFIXES
from headpose.metadata import ModelMetadata
from headpose.preprocess import resize_image, to_input_tensor
from headpose.training.data.csv_folder import read_pose_csv
from headpose.training.data.errors import DataError
from headpose.training.data.records import stack_targets

LABEL_FILE = "labels.csv"
LABEL_COLUMNS = ("image", "yaw", "pitch", "roll")


def default_crops_dir() -> Path | None:
    """The AFLW2000 crops of the shared data folder: ``$HEADPOSE_SHARED``, else ``../shared`` from
    the current folder (a checkout's root, as in the README), or None when absent. Never a path
    relative to this file: an installed package is not inside a checkout."""
    env = os.environ.get("HEADPOSE_SHARED")
    shared = Path(env) if env else Path.cwd().parent / "shared"
    folder = shared / "data" / "aflw2000-crops"
    return folder if folder.is_dir() else None


def list_images(folder: str | Path, limit: int | None = None) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted), at most ``limit``.

    Raises :class:`InvalidInputError` if the folder does not exist or holds no image.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInputError(f"image folder not found: {root}")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise InvalidInputError(
            f"{root}: no images found (expected files ending in {', '.join(IMAGE_SUFFIXES)})"
        )
    return paths[:limit] if limit is not None else paths


def read_crop(path: str | Path) -> np.ndarray:
    """Read one face crop as BGR uint8 ``(H, W, 3)``; raises :class:`InvalidImageError`."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise InvalidImageError(f"cannot read image {path} (missing, empty or not an image)")
    return image


def preprocess_crops(paths: Sequence[str | Path], meta: ModelMetadata) -> np.ndarray:
    """Read and preprocess face crops exactly like the runtime.

    Each crop is resized with :func:`headpose.preprocess.resize_image` to ``meta.input_size``
    and normalised with :func:`headpose.preprocess.to_input_tensor`. Returns float32
    ``(N, 3, H, W)``.
    """
    size = (int(meta.input_size[0]), int(meta.input_size[1]))
    crops = [resize_image(read_crop(p), size) for p in paths]
    return to_input_tensor(crops, meta)


@dataclass(frozen=True)
class LabelledSet:
    """Image paths and their labels ``(N, 3)`` [yaw, pitch, roll] degrees, NaN when missing."""

    paths: list[Path]
    labels: np.ndarray


def read_labelled_folder(folder: str | Path, limit: int | None = None) -> LabelledSet:
    """Read a labelled crop folder (``labels.csv``: ``image,yaw,pitch,roll``) with the project's
    one label reader, :func:`headpose.training.data.csv_folder.read_pose_csv` (BOM tolerated,
    empty cell = unknown, inf refused). At most ``limit`` rows.

    Raises :class:`InvalidInputError` naming the file and line for a bad header, a non-numeric
    angle or an image that does not exist.
    """
    root = Path(folder)
    csv_path = root / LABEL_FILE
    if not csv_path.is_file():
        raise InvalidInputError(
            f"labelled folder {root}: no {LABEL_FILE} (expected columns {LABEL_COLUMNS})"
        )
    try:
        records = read_pose_csv(csv_path)
    except DataError as exc:
        raise InvalidInputError(str(exc)) from None
    if not records:
        raise InvalidInputError(f"{csv_path}: no rows")
    records = records[:limit] if limit is not None else records
    return LabelledSet(
        paths=[Path(r.image) for r in records],
        labels=stack_targets(records).astype(np.float64).reshape(-1, 3),
    )
