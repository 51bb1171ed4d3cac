"""One result: :class:`Face` (a face's box, score and head pose) and :func:`make_face`.

Angles are degrees in the project convention (see :mod:`headpose.rotation`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from headpose.camera import CameraPose
from headpose.rotation import euler_to_matrix


@dataclass(frozen=True)
class Face:
    """One face and its head pose.

    ``box``: ``(x1, y1, x2, y2)`` float pixels in the input image; ``score``: detector confidence
    in [0, 1] (1.0 for boxes given by the caller and for crops); ``yaw``, ``pitch``, ``roll``:
    degrees (NaN for an angle the model does not predict); ``spread``: the per-angle standard
    deviation in degrees of the model's bin distribution ``(yaw, pitch, roll)``; ``matrix``:
    ``(3, 3)`` rotation head -> camera (see :mod:`headpose.rotation`; an unknown angle counts as
    0 there); ``landmarks``: ``(5, 2)`` pixel (x, y) from the detector or ``None``;
    ``track_id``: set by tracking, else ``None``; ``camera``: the pose relative to the camera's
    axis and the approximate head position (:class:`~headpose.camera.CameraPose`, from the
    Estimator's ``camera``) for faces found in a frame, ``None`` for
    :meth:`~headpose.estimator.Estimator.predict_crops`.

    ``uncertainty`` (degrees) depends on the model. A **calibrated** model (metadata
    ``calibration``, see ``python -m headpose.export.calibrate``): the expected absolute error,
    mean over the predicted angles of ``expected_error`` ``(yaw, pitch, roll)``; ``interval90``
    holds per-angle half-widths of an interval that contains the true angle for 90% of faces
    like those the calibration was fitted on. An **uncalibrated** model (``expected_error`` and
    ``interval90`` are ``None``): the mean of ``spread``, which ranks faces by how unsure the
    model is but is not an error in degrees.
    """

    box: tuple[float, float, float, float]
    score: float
    yaw: float
    pitch: float
    roll: float
    uncertainty: float
    spread: tuple[float, float, float]
    matrix: np.ndarray = field(repr=False, compare=False)
    landmarks: np.ndarray | None = field(default=None, repr=False, compare=False)
    track_id: int | None = None
    expected_error: tuple[float, float, float] | None = None
    interval90: tuple[float, float, float] | None = None
    camera: CameraPose | None = field(default=None, compare=False)

    @property
    def angles(self) -> np.ndarray:
        """``[yaw, pitch, roll]`` degrees, float64 ``(3,)``."""
        return np.array([self.yaw, self.pitch, self.roll], dtype=np.float64)

    def with_angles(self, angles: Sequence[float]) -> Face:
        """A copy with ``[yaw, pitch, roll]`` (degrees) replaced and :attr:`matrix` to match
        (:attr:`camera` is kept: :meth:`~headpose.pipeline.FacePipeline.with_camera` recomputes
        it)."""
        yaw, pitch, roll = (float(v) for v in angles)
        return replace(self, yaw=yaw, pitch=pitch, roll=roll, matrix=pose_matrix(yaw, pitch, roll))

    @property
    def center(self) -> tuple[float, float]:
        """Centre ``(x, y)`` of the box in pixels."""
        x1, y1, x2, y2 = self.box
        return ((x1 + x2) / 2.0, (y1 + y2) / 2.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (plain floats and lists; NaN becomes ``None``)."""
        return {
            "box": [_num(v) for v in self.box],
            "score": _num(self.score),
            "yaw": _num(self.yaw),
            "pitch": _num(self.pitch),
            "roll": _num(self.roll),
            "uncertainty": _num(self.uncertainty),
            "spread": {
                k: _num(v) for k, v in zip(("yaw", "pitch", "roll"), self.spread, strict=True)
            },
            "matrix": [[_num(v) for v in row] for row in np.asarray(self.matrix)],
            "landmarks": None
            if self.landmarks is None
            else [[_num(v) for v in p] for p in np.asarray(self.landmarks)],
            "track_id": self.track_id,
            "expected_error": _per_angle(self.expected_error),
            "interval90": _per_angle(self.interval90),
            "camera": None if self.camera is None else self.camera.to_dict(),
        }


def _num(value: Any) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


def _per_angle(values: Sequence[float] | None) -> dict[str, float | None] | None:
    if values is None:
        return None
    return {k: _num(v) for k, v in zip(("yaw", "pitch", "roll"), values, strict=True)}


def pose_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """:attr:`Face.matrix` of these angles (degrees; an unknown, NaN angle counts as 0)."""
    return euler_to_matrix(*(v if math.isfinite(v) else 0.0 for v in (yaw, pitch, roll)))


def make_face(
    box: Sequence[float],
    score: float,
    angles: Sequence[float],
    spread: Sequence[float],
    landmarks: np.ndarray | None = None,
    expected_error: Sequence[float] | None = None,
    interval90: Sequence[float] | None = None,
) -> Face:
    """Build a :class:`Face` from ``[yaw, pitch, roll]`` and per-angle spread (NaN = absent);
    ``expected_error`` / ``interval90`` (``[yaw, pitch, roll]`` degrees) from a calibrated model."""
    yaw, pitch, roll = (float(v) for v in angles)
    spreads = tuple(float(v) for v in spread)
    errors = None if expected_error is None else tuple(float(v) for v in expected_error)
    known = [s for s in (spreads if errors is None else errors) if math.isfinite(s)]
    uncertainty = float(np.mean(known)) if known else math.nan
    matrix = pose_matrix(yaw, pitch, roll)
    return Face(
        box=tuple(float(v) for v in box),  # type: ignore[arg-type]
        score=float(score),
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        uncertainty=uncertainty,
        spread=spreads,  # type: ignore[arg-type]
        matrix=matrix,
        landmarks=None if landmarks is None else np.asarray(landmarks, dtype=np.float32),
        expected_error=errors,  # type: ignore[arg-type]
        interval90=None if interval90 is None else tuple(float(v) for v in interval90),  # type: ignore[arg-type]
    )
