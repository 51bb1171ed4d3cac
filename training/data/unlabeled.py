"""``unlabeled`` format: any folder of face images (recursive), target all NaN (for SSL)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import PoseDataset, Transform
from .errors import DataError
from .image_io import IMAGE_SUFFIXES, read_rgb
from .records import NO_LABEL, PoseRecord


def find_images(root: str | Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files under ``root`` (recursive, by extension, case-insensitive), sorted. No decoding."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: image folder not found")
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.lower().endswith(suffixes):
                found.append(Path(dirpath) / name)
    if not found:
        raise DataError(f"{root}: no images found (expected files ending in {', '.join(suffixes)})")
    return sorted(found)


class UnlabeledFolderDataset(PoseDataset):
    """Every image under a folder; targets are all NaN. Indexing reads directory entries only."""

    kind = "unlabeled"

    def __init__(
        self,
        root: str | Path,
        *,
        suffixes: tuple[str, ...] = IMAGE_SUFFIXES,
        transform: Transform | None = None,
        train: bool = False,
    ) -> None:
        self.root = Path(root)
        suffixes = tuple(s.lower() for s in suffixes)
        records = [PoseRecord(str(p), NO_LABEL) for p in find_images(root, suffixes)]
        super().__init__(records, transform=transform, train=train)

    def load_image(self, record: PoseRecord, train: bool) -> np.ndarray:
        return read_rgb(record.image)
