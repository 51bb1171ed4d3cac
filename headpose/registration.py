"""Where a face's image moved between frames: phase correlation of a small grey patch.

A face detector's box moves by a pixel or two from frame to frame even on a still face, and a
box kept between detections (``VideoOptions.detect_every``) stays put while the face moves.
:class:`BoxShifter` measures instead where the image under each box went: it keeps a
``PATCH`` x ``PATCH`` grey patch of the square around each box from the frame where the box was
last set, cuts the same square from a later frame and finds the shift between the two with
OpenCV's phase correlation (sub-pixel, Hanning window). Used by
:class:`~headpose.tracking.VideoTracker` when ``Estimator.video.box_shift`` is on.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from headpose.errors import checked_number
from headpose.smoothing import match_boxes

# Side of the grey patch, pixels (a power of two: the FFT's fast size).
PATCH = 64
# A phase-correlation peak below this (0..1) is no match: the box keeps its place.
MIN_RESPONSE = 0.1
_WINDOW = cv2.createHanningWindow((PATCH, PATCH), cv2.CV_32F)

Found = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def checked_gain(gain: object) -> float:
    """``gain`` as a float after checking it is a number in (0, 1]; else an
    :class:`~headpose.errors.InvalidInputError` naming ``video box_shift_gain``."""
    return checked_number("video box_shift_gain", gain, 0.0, 1.0, low_open=True)


def square_of(box: np.ndarray) -> tuple[float, float, float]:
    """``(cx, cy, side)``: centre and longer side of an ``(x1, y1, x2, y2)`` box, pixels."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1 + x2) / 2.0, (y1 + y2) / 2.0, max(x2 - x1, y2 - y1, 1.0)


def grey_patch(image: np.ndarray, square: tuple[float, float, float]) -> np.ndarray:
    """The square ``(cx, cy, side)`` of a BGR ``(H, W, 3)`` uint8 image as a ``(PATCH, PATCH)``
    float32 grey patch (bilinear, sub-pixel placed; outside the image reads as the edge pixels).
    Only the pixels under the square are converted."""
    cx, cy, side = square
    h, w = image.shape[:2]
    x0 = min(max(0, int(math.floor(cx - side / 2.0)) - 1), w - 1)
    y0 = min(max(0, int(math.floor(cy - side / 2.0)) - 1), h - 1)
    x1 = max(min(w, int(math.ceil(cx + side / 2.0)) + 2), x0 + 1)
    y1 = max(min(h, int(math.ceil(cy + side / 2.0)) + 2), y0 + 1)
    region = image[y0:y1, x0:x1]
    grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY) if region.ndim == 3 else region
    k = PATCH / side
    # patch pixel p looks at region pixel (p - PATCH/2) / k + (c - origin)
    m = np.array(
        [[k, 0.0, PATCH / 2.0 - k * (cx - x0)], [0.0, k, PATCH / 2.0 - k * (cy - y0)]],
        dtype=np.float64,
    )
    out = cv2.warpAffine(
        grey, m, (PATCH, PATCH), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return out.astype(np.float32)


def image_shift(
    reference: np.ndarray, image: np.ndarray, square: tuple[float, float, float]
) -> tuple[float, float] | None:
    """How far, in image pixels ``(dx, dy)``, the content of ``reference`` (a :func:`grey_patch`
    of ``square`` in an earlier frame) moved in ``image``; ``None`` when the correlation peak is
    weaker than :data:`MIN_RESPONSE` (no reliable match)."""
    current = grey_patch(image, square)
    (sx, sy), response = cv2.phaseCorrelate(reference, current, _WINDOW)
    if not (response >= MIN_RESPONSE and math.isfinite(sx) and math.isfinite(sy)):
        return None
    scale = square[2] / PATCH
    return sx * scale, sy * scale


class BoxShifter:
    """Face boxes that follow the image between detections.

    ``settle(image, found)`` on a frame where the detector ran: each found box is matched (by
    overlap, at least ``iou_threshold``) to a face's box shifted to this frame, and becomes
    ``shifted + gain * (detection - shifted)`` (``gain`` 1: the detection as it is); its patch is
    kept. ``follow(image, found)`` on a frame in between: each box moves by its image's shift
    since its patch was kept. Both return ``(boxes (N, 4), scores (N,), landmarks (N, K, 2) or
    None)`` with the landmarks moved with their box's centre.
    """

    def __init__(self, gain: float = 1.0, iou_threshold: float = 0.3) -> None:
        self.gain = checked_gain(gain)
        self.iou_threshold = float(iou_threshold)
        self._anchors = np.zeros((0, 4))  # boxes where the patches were cut
        self._patches: list[np.ndarray] = []

    def _shifted(self, image: np.ndarray) -> np.ndarray:
        """The anchor boxes moved by their images' shifts into ``image`` ``(N, 4)``."""
        out: np.ndarray = self._anchors.copy()
        for i, (anchor, patch) in enumerate(zip(self._anchors, self._patches, strict=True)):
            shift = image_shift(patch, image, square_of(anchor))
            if shift is not None:
                out[i] += (shift[0], shift[1], shift[0], shift[1])
        return out

    def follow(self, image: np.ndarray, found: Found) -> Found:
        """``found`` (the boxes of the previous frame, one per anchor) moved to ``image``."""
        boxes, scores, points = found
        if len(boxes) != len(self._anchors):
            return found
        moved = self._shifted(image)
        return moved, scores, moved_landmarks(points, boxes, moved)

    def settle(self, image: np.ndarray, found: Found) -> Found:
        """Detections ``found`` on ``image``, blended with the shifted boxes (``gain``); the
        result's patches are kept for the frames that follow."""
        boxes, scores, points = found
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        out = boxes.copy()
        if self.gain < 1.0 and len(self._anchors) and len(boxes):
            shifted = self._shifted(image)
            for new, old in match_boxes(shifted, boxes, self.iou_threshold).items():
                out[new] = shifted[old] + self.gain * (boxes[new] - shifted[old])
        self._anchors = out
        self._patches = [grey_patch(image, square_of(box)) for box in out]
        return out, scores, moved_landmarks(points, boxes, out)


def moved_landmarks(
    points: np.ndarray | None, before: np.ndarray, after: np.ndarray
) -> np.ndarray | None:
    """Landmarks ``(N, K, 2)`` (or ``None``) moved by their box's centre move from ``before`` to
    ``after`` (both ``(N, 4)``)."""
    if points is None or not len(before):
        return points
    move = (after - before).reshape(-1, 2, 2).mean(axis=1)
    moved: np.ndarray = np.asarray(points, dtype=np.float64) + move[:, None, :]
    return moved
