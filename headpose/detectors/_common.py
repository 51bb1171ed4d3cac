"""Helpers shared by the detectors: model file lookup, input validation, NMS, box clipping."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from headpose.detectors.base import Detections
from headpose.errors import InvalidImageError, InvalidModelError
from headpose.image_io import clip_boxes

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"

# Smaller images cannot hold a detectable face; they give an empty result without running a model.
MIN_IMAGE_SIDE = 8


def model_file(name_or_path: str | Path) -> Path:
    """A file in ``headpose/models/`` (by name) or any existing path; InvalidModelError if absent."""
    path = Path(name_or_path)
    if not path.is_file() and not path.is_absolute():
        path = MODELS_DIR / path
    if not path.is_file():
        raise InvalidModelError(f"detector model file not found: {path}")
    return path


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Check an image and return it as BGR uint8 ``(H, W, 3)``; grey ``(H, W)`` and BGRA are
    converted. Raises InvalidImageError naming the problem."""
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"image: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidImageError(f"image: expected dtype uint8, got {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImageError(f"image: expected shape (H, W, 3) BGR, got {image.shape}")
    return image


def too_small(image: np.ndarray) -> bool:
    """True when the image is smaller than :data:`MIN_IMAGE_SIDE` on a side (or empty)."""
    return bool(min(image.shape[0], image.shape[1]) < MIN_IMAGE_SIDE)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a (N, 4)`` against ``b (M, 4)``, both ``(x1, y1, x2, y2)`` -> ``(N, M)``."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    iou: np.ndarray = inter / np.maximum(union, 1e-9)
    return iou


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices of kept boxes, best score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        ious = iou_matrix(boxes[best : best + 1], boxes[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe-style weighted NMS: each kept face is the score-weighted mean of the boxes (and
    points ``(N, K, 2)``) that overlap the best remaining one by more than ``iou_threshold``;
    its score is the best one's. Returns ``(boxes, scores, points)``, best first."""
    order = np.argsort(-scores, kind="stable")
    out_b, out_s, out_p = [], [], []
    while order.size:
        best = int(order[0])
        ious = iou_matrix(boxes[best : best + 1], boxes[order])[0]
        group = order[ious > iou_threshold]
        if group.size == 0:  # degenerate box: keep it alone
            group = order[:1]
        w = scores[group][:, None]
        total = float(w.sum())
        out_b.append((boxes[group] * w).sum(0) / total)
        out_p.append((points[group] * w[:, :, None]).sum(0) / total)
        out_s.append(scores[best])
        order = order[ious <= iou_threshold]
        order = order[order != best]
    return (
        np.asarray(out_b, np.float32).reshape(-1, 4),
        np.asarray(out_s, np.float32),
        np.asarray(out_p, np.float32).reshape(-1, points.shape[1], 2),
    )


def clipped_detections(
    boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray | None, width: int, height: int
) -> tuple[Detections, np.ndarray]:
    """:class:`Detections` with the boxes clipped to the image by the runtime's one rule,
    :func:`headpose.image_io.clip_boxes` (a box empty after clipping is dropped with its score
    and landmarks). Returns ``(detections, kept indices into boxes)``."""
    clipped, kept = clip_boxes(boxes, width, height)
    marks = None if landmarks is None else np.asarray(landmarks, np.float32)[kept]
    return Detections(clipped.astype(np.float32), np.asarray(scores, np.float32)[kept], marks), kept
