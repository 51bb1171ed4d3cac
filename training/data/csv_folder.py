"""``csv`` format: a folder of images plus a CSV ``image,yaw,pitch,roll`` (degrees).

The header must start with exactly ``image,yaw,pitch,roll``. Image paths are relative to the CSV's
folder (absolute paths also work). Empty angle cells (or ``nan``) mean "missing" -> NaN.
Optional extra columns, in any order after the first four:

* ``subject``: identity of the person (enables subject-wise splits);
* ``x1,y1,x2,y2``: face box in pixels of the image; when present the sample is cropped with
  the runtime's crop rule (:func:`headpose.preprocess.crop_box`, square, ``crop_scale`` times the
  larger side, border replicated). All four or none; a row may leave all four empty. Training
  views may jitter the box first (``box_jitter``: :class:`BoxJitter`);
* ``spread_yaw,spread_pitch,spread_roll``: uncertainty of each label in degrees (a teacher's
  spread for pseudo-labels, see :mod:`.pseudo_labels`); all three or none;
* ``source``: the image a synthesized row was made from, relative to the CSV's folder or
  absolute; training refuses a ``synth.labels`` row made from one of the run's tuning or test
  images.

Other extra columns are ignored. Every image file is checked for existence when the index is
built (fail fast); decoding happens when a sample is loaded.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headpose.metadata import CropRule
from headpose.preprocess import crop_box

from .base import PoseDataset, Transform
from .errors import DataError
from .image_io import cut_region, read_rgb
from .records import ANGLES, PoseRecord, within_range

HEADER = ("image", "yaw", "pitch", "roll")
BOX_COLUMNS = ("x1", "y1", "x2", "y2")
SPREAD_COLUMNS = ("spread_yaw", "spread_pitch", "spread_roll")
DEFAULT_CSV_NAME = "labels.csv"


def _parse_angle(cell: str, csv_path: Path, line: int, column: str) -> float:
    text = cell.strip()
    if text == "" or text.lower() == "nan":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or math.isinf(value):
        raise DataError(
            f"{csv_path}: line {line}, column '{column}': expected a number in degrees or an "
            f"empty cell, got {cell!r}"
        )
    return value


def _parse_box(row: dict[str, str], csv_path: Path, line: int) -> tuple[float, ...] | None:
    cells = [row.get(c, "") or "" for c in BOX_COLUMNS]
    if all(c.strip() == "" for c in cells):
        return None
    box = []
    for column, cell in zip(BOX_COLUMNS, cells, strict=True):
        try:
            box.append(float(cell))
        except ValueError:
            raise DataError(
                f"{csv_path}: line {line}, column '{column}': expected a box coordinate in pixels "
                f"(all of x1,y1,x2,y2 or none), got {cell!r}"
            ) from None
    if not (box[2] > box[0] and box[3] > box[1]):
        raise DataError(
            f"{csv_path}: line {line}: expected a box with x2 > x1 and y2 > y1, got {tuple(box)}"
        )
    return tuple(box)


def read_pose_csv(csv_path: str | Path, image_root: str | Path | None = None) -> list[PoseRecord]:
    """Parse a pose CSV into records (checks that every image file exists)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(
            f"{csv_path}: label file not found (expected a CSV with header {','.join(HEADER)})"
        )
    root = Path(image_root) if image_root is not None else csv_path.parent
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{csv_path}: empty file, expected header {','.join(HEADER)}")
        header = [h.strip() for h in header]
        if tuple(header[:4]) != HEADER:
            raise DataError(
                f"{csv_path}: wrong header: expected {','.join(HEADER)} (then optional extra "
                f"columns), got {','.join(header)}"
            )
        has_box = [c in header for c in BOX_COLUMNS]
        if any(has_box) and not all(has_box):
            missing = [c for c, h in zip(BOX_COLUMNS, has_box, strict=True) if not h]
            raise DataError(f"{csv_path}: box columns need all of x1,y1,x2,y2, missing {missing}")
        has_spread = [c in header for c in SPREAD_COLUMNS]
        if any(has_spread) and not all(has_spread):
            missing = [c for c, h in zip(SPREAD_COLUMNS, has_spread, strict=True) if not h]
            raise DataError(f"{csv_path}: spread columns need all three, missing {missing}")
        records: list[PoseRecord] = []
        for line, cells in enumerate(reader, start=2):
            if not cells or all(c.strip() == "" for c in cells):
                continue
            if len(cells) != len(header):
                raise DataError(
                    f"{csv_path}: line {line}: expected {len(header)} cells, got {len(cells)}"
                )
            row = dict(zip(header, cells, strict=True))
            name = row["image"].strip()
            if not name:
                raise DataError(f"{csv_path}: line {line}, column 'image': empty image path")
            angles = [_parse_angle(row[a], csv_path, line, a) for a in ANGLES]
            image_path = (root / name) if not Path(name).is_absolute() else Path(name)
            if not image_path.is_file():
                raise DataError(
                    f"{csv_path}: line {line}: image file not found: {name} (looked in {root})"
                )
            subject = (row.get("subject") or "").strip() or None
            box = _parse_box(row, csv_path, line) if all(has_box) else None
            spread = None
            if all(has_spread):
                spread = np.array(
                    [_parse_angle(row[c], csv_path, line, c) for c in SPREAD_COLUMNS],
                    dtype=np.float32,
                )
            source = (row.get("source") or "").strip() or None
            if source is not None and not Path(source).is_absolute():
                source = str(root / source)
            records.append(
                PoseRecord(
                    str(image_path),
                    np.array(angles, dtype=np.float32),
                    subject,
                    box,
                    spread=spread,
                    source=source,
                )
            )
    return records


class CsvPoseDataset(PoseDataset):
    """Images listed in a pose CSV (see the module docstring for the layout)."""

    kind = "csv"

    def __init__(
        self,
        root: str | Path,
        *,
        csv_name: str = DEFAULT_CSV_NAME,
        image_root: str | Path | None = None,
        crop_scale: float = CropRule.scale,
        crop_shift_y: float = CropRule.shift_y,
        max_abs_angle: float | None = None,
        box_jitter: BoxJitter | None = None,
        transform: Transform | None = None,
        train: bool = False,
    ) -> None:
        root = Path(root)
        self.box_jitter = box_jitter
        csv_path = root if root.suffix.lower() == ".csv" else root / csv_name
        self.csv_path = csv_path
        self.crop_rule = CropRule(scale=float(crop_scale), shift_y=float(crop_shift_y))
        records = within_range(read_pose_csv(csv_path, image_root), max_abs_angle)
        super().__init__(records, transform=transform, train=train)

    def load_image(self, record: PoseRecord, train: bool) -> np.ndarray:
        image = read_rgb(record.image)
        if record.box is None:
            return image
        box = record.box
        if train and self.box_jitter is not None:
            box = self.box_jitter(box)
        return cut_region(image, crop_box(box, self.crop_rule), border="replicate")


@dataclass(frozen=True)
class BoxJitter:
    """Random change of a face box (training crops that vary as the runtime's detectors do).

    Half-widths of uniform ranges: ``shift`` moves the centre by up to that fraction of the
    box's longer side in x and y; ``scale`` multiplies both sides by ``exp(u)``, and ``aspect``
    the width/height ratio by ``exp(u)``, ``u`` uniform in +-value. Draws from the global torch
    generator, which the training data seeds per sample, so a run is reproducible.
    ``bench/box_spread.py`` measures the spread these should cover.
    """

    shift: float = 0.0
    scale: float = 0.0
    aspect: float = 0.0

    def __call__(self, box: tuple[float, float, float, float]) -> tuple[float, ...]:
        import torch  # seeded per sample by the training loop; csv datasets import no torch

        u = (torch.rand(4, dtype=torch.float64) * 2.0 - 1.0).tolist()
        x1, y1, x2, y2 = (float(v) for v in box)
        w, h = x2 - x1, y2 - y1
        side = max(w, h)
        cx = (x1 + x2) / 2.0 + u[0] * self.shift * side
        cy = (y1 + y2) / 2.0 + u[1] * self.shift * side
        s, a = math.exp(u[2] * self.scale), math.exp(u[3] * self.aspect)
        w, h = w * s * math.sqrt(a), h * s / math.sqrt(a)
        return (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
