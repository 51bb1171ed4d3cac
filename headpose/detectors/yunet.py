"""YuNet face detector (OpenCV Zoo, MIT, Shiqi Yu): boxes, scores and 5 landmarks.

:class:`YuNetDetector` (``"yunet"``) runs the ONNX file in onnxruntime with our own pre- and
post-processing (the tests check it against OpenCV's ``cv2.FaceDetectorYN`` on the same file).
It resizes images whose longer side exceeds ``max_side`` (the detector is meant for faces of
roughly 10-300 px), pads bottom/right to a multiple of 32, and returns boxes in the original
image's pixels. The model takes BGR pixels 0-255 as float32 ``(1, 3, H, W)`` (no normalisation)
and gives, for each stride 8/16/32, one prediction per grid cell: ``cls`` and ``obj`` scores,
``bbox`` = (dx, dy, log w, log h) in stride units and ``kps`` = 5 (dx, dy) points.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from headpose.detectors._common import as_bgr, clipped_detections, model_file, nms, too_small
from headpose.detectors.base import Detections, Detector
from headpose.errors import InvalidInputError
from headpose.preprocess import area_downscale
from headpose.runtime import create_session

YUNET_FILE = "face_detection_yunet_2026may.onnx"
STRIDES = (8, 16, 32)


def _check_options(score_threshold: float, nms_threshold: float, max_side: int) -> None:
    if not 0.0 <= score_threshold <= 1.0:
        raise InvalidInputError(f"score_threshold: expected 0..1, got {score_threshold}")
    if not 0.0 < nms_threshold <= 1.0:
        raise InvalidInputError(f"nms_threshold: expected in (0, 1], got {nms_threshold}")
    if int(max_side) < 32:
        raise InvalidInputError(f"max_side: expected >= 32 pixels, got {max_side}")


def _resize_for_model(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longer side is at most ``max_side``; returns (image, scale applied)."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = area_downscale(image, (size[1], size[0]))
    return image, scale


def _pad32(n: int) -> int:
    return ((n + 31) // 32) * 32


class YuNetDetector(Detector):
    """YuNet in onnxruntime.

    ``score_threshold``: minimum face score (``sqrt(cls * obj)``, as OpenCV computes it);
    ``nms_threshold``: IoU above which the lower-scored box is dropped; ``top_k``: candidates
    kept before NMS; ``max_side``: longer image side the model sees (pixels);
    ``providers``/``threads``: onnxruntime execution providers and intra-op threads.
    """

    name = "yunet"

    def __init__(
        self,
        model_path: str | Path = YUNET_FILE,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
        max_side: int = 640,
        providers: Sequence[str] | str | None = None,
        threads: int | None = None,
    ) -> None:
        _check_options(score_threshold, nms_threshold, max_side)
        self.model_path = model_file(model_path)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.top_k = int(top_k)
        self.max_side = int(max_side)
        self.session = create_session(str(self.model_path), providers=providers, threads=threads)
        self._input = self.session.get_inputs()[0].name
        self._outputs = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES]
        self._grids: dict[tuple[int, int], list[np.ndarray]] = {}

    def _grid(self, pad_h: int, pad_w: int) -> list[np.ndarray]:
        """Per stride, the (col, row) of every cell, ``(rows * cols, 2)`` float32, row-major."""
        key = (pad_h, pad_w)
        if key not in self._grids:
            grids = []
            for s in STRIDES:
                rows, cols = pad_h // s, pad_w // s
                yy, xx = np.mgrid[0:rows, 0:cols]
                grids.append(np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32))
            self._grids[key] = grids
        return self._grids[key]

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Faces in a BGR uint8 image, best first; boxes/landmarks in its pixels."""
        image = as_bgr(image_bgr)
        if too_small(image):
            return Detections.empty()
        small, scale = _resize_for_model(image, self.max_side)
        h, w = small.shape[:2]
        pad_h, pad_w = _pad32(h), _pad32(w)
        blob = np.zeros((1, 3, pad_h, pad_w), np.float32)
        blob[0, :, :h, :w] = small.transpose(2, 0, 1)
        results = self.session.run(self._outputs, {self._input: blob})
        outs = dict(zip(self._outputs, results, strict=True))

        boxes, scores, points = [], [], []
        for s, cells in zip(STRIDES, self._grid(pad_h, pad_w), strict=True):
            cls = np.clip(outs[f"cls_{s}"][0, :, 0], 0.0, 1.0)
            obj = np.clip(outs[f"obj_{s}"][0, :, 0], 0.0, 1.0)
            score = np.sqrt(cls * obj)
            hit = score >= self.score_threshold
            if not hit.any():
                continue
            cell, bbox, kps = cells[hit], outs[f"bbox_{s}"][0, hit], outs[f"kps_{s}"][0, hit]
            centre = (cell + bbox[:, :2]) * s
            size = np.exp(bbox[:, 2:4]) * s
            boxes.append(np.concatenate([centre - size / 2, centre + size / 2], 1))
            points.append((kps.reshape(-1, 5, 2) + cell[:, None, :]) * s)
            scores.append(score[hit])
        if not boxes:
            return Detections.empty()
        all_boxes = np.concatenate(boxes) / scale
        all_scores = np.concatenate(scores).astype(np.float32)
        all_points = np.concatenate(points) / scale
        if all_scores.size > self.top_k:
            top = np.argsort(-all_scores, kind="stable")[: self.top_k]
            all_boxes, all_scores, all_points = all_boxes[top], all_scores[top], all_points[top]
        keep = nms(all_boxes, all_scores, self.nms_threshold)
        dets, _ = clipped_detections(
            all_boxes[keep], all_scores[keep], all_points[keep], image.shape[1], image.shape[0]
        )
        return dets
