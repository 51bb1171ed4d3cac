"""MediaPipe BlazeFace short-range face detector (Apache-2.0, Google), run in onnxruntime.

The shipped ``blazeface_short_range.onnx`` was converted offline from MediaPipe's
``face_detection_short_range.tflite`` by ``tools/convert_blazeface.py``. The model sees the image
letterboxed (aspect kept, centred, grey padding) into 128 x 128, RGB scaled to [-1, 1], and gives
896 SSD anchors (16 x 16 cells x 2 at stride 8, 8 x 8 cells x 6 at stride 16): a logit each, and
16 numbers: box centre offset, box size, then 6 keypoints (x, y), all in 128-pixel units.

Its 6 keypoints are right eye, left eye, nose tip, mouth centre, right and left ear tragion
(subject's right = image left). They do not include mouth corners, so :class:`Detections` gets
``landmarks=None``; :meth:`BlazeFaceDetector.detect_keypoints` returns the 6 points.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from headpose.detectors._common import (
    as_bgr,
    clipped_detections,
    model_file,
    too_small,
    weighted_nms,
)
from headpose.detectors.base import Detections, Detector
from headpose.errors import InvalidInputError
from headpose.preprocess import area_downscale
from headpose.runtime import create_session

BLAZEFACE_FILE = "blazeface_short_range.onnx"
INPUT_SIZE = 128
NUM_KEYPOINTS = 6


def ssd_anchor_centres() -> np.ndarray:
    """Anchor centres ``(896, 2)`` (x, y) in [0, 1] of the short-range model, in model order."""
    centres = []
    for stride, per_cell in ((8, 2), (16, 6)):
        cells = INPUT_SIZE // stride
        yy, xx = np.mgrid[0:cells, 0:cells]
        xy = (np.stack([xx.ravel(), yy.ravel()], 1) + 0.5) / cells
        centres.append(np.repeat(xy, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


# BlazeFace box -> YuNet-style box: (centre shift x, y in BlazeFace box widths/heights, width
# factor, height factor); medians over 1,367 AFLW2000 crops, printed by bench/box_spread.py
YUNET_STYLE = (-0.006, -0.084, 0.904, 1.239)
BOX_STYLES = ("yunet", "native")


def to_yunet_style(boxes: np.ndarray) -> np.ndarray:
    """BlazeFace boxes ``(N, 4)`` x1, y1, x2, y2 -> the boxes YuNet would draw (same units)."""
    dx, dy, fw, fh = YUNET_STYLE
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + dx * w
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + dy * h
    w, h = w * fw, h * fh
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


class BlazeFaceDetector(Detector):
    """BlazeFace short-range (faces within ~2 m of the camera) in onnxruntime.

    ``score_threshold``: minimum sigmoid score (MediaPipe's default 0.5); ``nms_threshold``:
    IoU for MediaPipe's weighted NMS; ``providers``/``threads``: onnxruntime options.
    ``box_style``: ``"yunet"`` (default) maps BlazeFace's square box onto the box YuNet draws for
    the same face (taller, higher), since the pose model's crop rule was fitted to YuNet's boxes;
    ``"native"`` keeps BlazeFace's own box. The mapping (:data:`YUNET_STYLE`) is the median
    relation of the two detectors' boxes on the AFLW2000 crops (``bench/box_spread.py``).
    """

    name = "blazeface"

    def __init__(
        self,
        model_path: str | Path = BLAZEFACE_FILE,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.3,
        providers: Sequence[str] | str | None = None,
        threads: int | None = None,
        box_style: str = "yunet",
    ) -> None:
        if box_style not in BOX_STYLES:
            raise InvalidInputError(f"box_style: expected one of {BOX_STYLES}, got {box_style!r}")
        self.box_style = box_style
        if not 0.0 <= score_threshold <= 1.0:
            raise InvalidInputError(f"score_threshold: expected 0..1, got {score_threshold}")
        if not 0.0 < nms_threshold <= 1.0:
            raise InvalidInputError(f"nms_threshold: expected in (0, 1], got {nms_threshold}")
        self.model_path = model_file(model_path)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.session = create_session(str(self.model_path), providers=providers, threads=threads)
        self._input = self.session.get_inputs()[0].name
        self._anchors = ssd_anchor_centres()
        # logit threshold equivalent to the sigmoid threshold (avoids a sigmoid on all anchors)
        p = min(max(self.score_threshold, 1e-7), 1 - 1e-7)
        self._logit_threshold = float(np.log(p / (1 - p)))

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """Model input ``(1, 3, 128, 128)`` and the (scale, pad_x, pad_y) that made it."""
        h, w = image.shape[:2]
        scale = INPUT_SIZE / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        if scale < 1.0:
            small = area_downscale(image, (nh, nw))
        else:
            small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        pad_x, pad_y = (INPUT_SIZE - nw) // 2, (INPUT_SIZE - nh) // 2
        canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.float32)  # 0 = mid-grey after scaling
        canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = small[:, :, ::-1] / 127.5 - 1.0
        return canvas.transpose(2, 0, 1)[None].copy(), scale, pad_x, pad_y

    def detect_keypoints(self, image_bgr: np.ndarray) -> tuple[Detections, np.ndarray]:
        """Like :meth:`detect`, plus the 6 BlazeFace keypoints ``(N, 6, 2)`` in image pixels."""
        image = as_bgr(image_bgr)
        if too_small(image):
            return Detections.empty(), np.zeros((0, NUM_KEYPOINTS, 2), np.float32)
        blob, scale, pad_x, pad_y = self._letterbox(image)
        regressors, logits = self.session.run(None, {self._input: blob})
        logits = np.clip(logits[0, :, 0], -100.0, 100.0)
        hit = logits >= self._logit_threshold
        if not hit.any():
            return Detections.empty(), np.zeros((0, NUM_KEYPOINTS, 2), np.float32)
        raw = regressors[0, hit] / INPUT_SIZE
        anchors = self._anchors[hit]
        centre = raw[:, :2] + anchors
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], 1)
        points = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None, :]
        scores = 1.0 / (1.0 + np.exp(-logits[hit]))
        boxes, scores, points = weighted_nms(boxes, scores, points, self.nms_threshold)
        # [0, 1] of the 128 letterbox -> original pixels
        offset = np.array([pad_x, pad_y], np.float32)
        boxes = (boxes * INPUT_SIZE - np.tile(offset, 2)) / scale
        if self.box_style == "yunet":
            boxes = to_yunet_style(boxes)
        points = (points * INPUT_SIZE - offset) / scale
        dets, kept = clipped_detections(boxes, scores, None, image.shape[1], image.shape[0])
        return dets, points[kept].astype(np.float32)

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Faces in a BGR uint8 image, best first; boxes in its pixels; ``landmarks=None``."""
        return self.detect_keypoints(image_bgr)[0]
