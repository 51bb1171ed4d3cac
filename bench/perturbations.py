"""Image and box perturbations of the robustness benchmark (``bench/robustness.py``), testable alone.

Images are BGR uint8 ``(H, W, 3)``; boxes ``(x1, y1, x2, y2)`` pixels; labels ``[yaw, pitch,
roll]`` degrees in the project convention (roll > 0: clockwise tilt on screen). Every random
choice takes a seed, so a run is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from headpose.training.data.csv_folder import BoxJitter
from headpose.training.data.transforms import rotate_in_plane
from headpose.training.engine.data_setup import seeded_call


def jitter_box(box: Sequence[float], fraction: float, seed: int) -> np.ndarray:
    """``box`` moved and resized by up to ``fraction``, uniformly at random (seeded).

    The training toolkit's box jitter (one copy of the rule,
    :class:`headpose.training.data.csv_folder.BoxJitter`) with ``shift = fraction`` (the centre
    moves by up to ``fraction`` of the box's longer side in x and y) and ``scale = log(1 +
    fraction)`` (both sides times a factor in ``[1 / (1 + fraction), 1 + fraction]``, aspect
    kept). Returns float64 ``(4,)``.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction: expected a number in [0, 1), got {fraction}")
    jitter = BoxJitter(shift=float(fraction), scale=math.log1p(fraction), aspect=0.0)
    return np.asarray(seeded_call(int(seed), jitter, tuple(float(v) for v in box)), np.float64)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels (kernel sized by OpenCV)."""
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """The image after a JPEG round trip at ``quality`` (0-100)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def darken(image: np.ndarray, factor: float) -> np.ndarray:
    """Pixel values times ``factor`` (e.g. 0.35), rounded, uint8."""
    return np.clip(np.rint(image.astype(np.float32) * float(factor)), 0, 255).astype(np.uint8)


def shrink_face(image: np.ndarray, face_side: float, target_side: float = 48.0) -> np.ndarray:
    """The whole image downscaled (area filter) so that a face ``face_side`` px tall becomes
    ``target_side`` px; an image whose face is already that small is returned unchanged."""
    scale = float(target_side) / float(face_side)
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def rotate(
    image: np.ndarray, label: Sequence[float], theta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Turn ``image`` by ``theta`` degrees **clockwise on screen** about its centre and update the
    label exactly: ``R' = Rz(theta) R`` (equivalently ``Rz(-t) R`` for ``t = -theta`` measured
    counter-clockwise, OpenCV's sense), converted with :mod:`headpose.rotation`.

    The training toolkit's in-plane rotation (one copy of the rule). Returns the rotated image
    (edges replicated) and ``[yaw, pitch, roll]`` float64; the label needs all three angles.
    """
    target = np.asarray(label, dtype=np.float64)
    if target.shape != (3,) or not np.isfinite(target).all():
        raise ValueError(f"label: expected finite [yaw, pitch, roll], got {label!r}")
    out, new = rotate_in_plane(image, target, float(theta))
    return out, np.asarray(new, dtype=np.float64)
