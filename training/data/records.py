"""PoseRecord: one labelled sample of a dataset index (no pixels)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

ANGLES = ("yaw", "pitch", "roll")
REDUCED_LIMIT = 99.0  # degrees: the usual "within +-99" subset (AFLW2000: 1,969 of 2,000)
NO_LABEL = np.full(3, np.nan, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class PoseRecord:
    """One sample of a dataset index.

    ``image``: path of the image file, or of the container file (``.npz``, ``.h5``) that holds it.
    ``target``: float32 ``(3,)`` ``[yaw, pitch, roll]`` in degrees, NaN = missing.
    ``subject``: identity of the person (for subject-wise splits), or None.
    ``box``: face box ``(x1, y1, x2, y2)`` in pixels of the source image, or None.
    ``index``: row inside a container file, or None for one-image-per-file datasets.
    ``spread``: float32 ``(3,)`` uncertainty of each label in degrees (e.g. a teacher's spread for
    a pseudo-label), NaN = not given; None for ordinary labels.
    ``source``: path of the image this sample was made from (a synthesized face's source, the
    ``source`` column of a csv dataset), or None.
    """

    image: str
    target: np.ndarray
    subject: str | None = None
    box: tuple[float, float, float, float] | None = None
    index: int | None = None
    spread: np.ndarray | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if self.spread is not None:
            spread = np.array(self.spread, dtype=np.float32).reshape(-1)
            if spread.shape != (3,):
                raise ValueError(f"PoseRecord spread must have 3 values, got {spread.shape}")
            object.__setattr__(self, "spread", spread)
        target = np.array(self.target, dtype=np.float32).reshape(-1)
        if target.shape != (3,):
            raise ValueError(
                f"PoseRecord target must have 3 values [yaw, pitch, roll], got {target.shape}"
            )
        object.__setattr__(self, "target", target)

    @property
    def labelled(self) -> bool:
        """True when at least one angle is known."""
        return bool(np.isfinite(self.target).any())


def make_target(yaw: float = np.nan, pitch: float = np.nan, roll: float = np.nan) -> np.ndarray:
    """float32 ``(3,)`` ``[yaw, pitch, roll]`` in degrees (NaN = missing)."""
    return np.array([yaw, pitch, roll], dtype=np.float32)


def stack_targets(records: Sequence[PoseRecord]) -> np.ndarray:
    """float32 ``(N, 3)`` of the records' targets."""
    if len(records) == 0:
        return np.zeros((0, 3), dtype=np.float32)
    return np.stack([r.target for r in records]).astype(np.float32, copy=False)


def within_range(records: Iterable[PoseRecord], max_abs_angle: float | None) -> list[PoseRecord]:
    """Keep the records whose known angles all satisfy ``|angle| <= max_abs_angle`` degrees.

    ``None`` keeps everything. Missing (NaN) angles never cause a record to be dropped. This is
    the usual "within +-99 degrees" filter (AFLW2000: 1,969 of 2,000 images).
    """
    records = list(records)
    if max_abs_angle is None:
        return records
    limit = float(max_abs_angle)
    kept = []
    for r in records:
        known = r.target[np.isfinite(r.target)]
        if np.all(np.abs(known) <= limit):
            kept.append(r)
    return kept


def within_limit(target: np.ndarray, limit: float = REDUCED_LIMIT) -> np.ndarray:
    """Boolean ``(N,)``: rows of ``target`` ``(N, 3)`` whose known angles all satisfy
    ``|angle| <= limit`` degrees (NaN never drops a row)."""
    target = np.asarray(target, dtype=np.float64)
    return np.all(np.isnan(target) | (np.abs(target) <= limit), axis=1)
