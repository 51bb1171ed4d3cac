"""Video mode: find each known face again in a small region around its last box.

Running the face detector on the whole frame is the largest per-frame cost after the pose
network. In video the face was found a frame ago, so :class:`VideoTracker` runs the detector only
on a region of interest (ROI) around each face's last box (a square of ``roi_scale`` times the
box's longer side, resized to at most ``roi_size`` pixels) and maps the boxes back to the frame.
The whole frame is searched again every ``redetect_every`` frames (so new faces appear) and at
once whenever a face is not found in its ROI. Identities and One Euro smoothing come from
:class:`~headpose.smoothing.Tracker`; each frame gives the same :class:`~headpose.estimator.Face`
list as :meth:`~headpose.estimator.Estimator.predict`, with ``track_id`` set.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from headpose.detectors._common import iou_matrix
from headpose.errors import InvalidImageError, InvalidInputError
from headpose.image_io import ImageInput, clip_boxes, load_image
from headpose.smoothing import Tracker

if TYPE_CHECKING:  # pragma: no cover
    from headpose.estimator import Estimator, Face

# Boxes from two ROIs overlapping more than this are the same face (the better score is kept).
DUPLICATE_IOU = 0.5


@dataclass(frozen=True)
class VideoOptions:
    """Settings of video mode (``Estimator(video={...})`` or ``track(..., video={...})``).

    ``roi``: search known faces in a region around their last box (``False``: the whole frame on
    every frame, as :meth:`~headpose.estimator.Estimator.predict` does). ``redetect_every``:
    search the whole frame every N frames (1 = every frame), also at once when a face is not found
    in its ROI. ``roi_scale``: ROI side over the longer side of the face's last box.
    ``roi_size``: the ROI is shrunk so that its side is at most this many pixels before the
    detector sees it (a face then spans about ``roi_size / roi_scale`` px).
    Defaults measured with ``bench/speed.py`` (``bench/results/speed.md``).
    """

    roi: bool = True
    redetect_every: int = 10
    roi_scale: float = 2.0
    roi_size: int = 192

    def __post_init__(self) -> None:
        if int(self.redetect_every) < 1:
            raise InvalidInputError(
                f"video redetect_every: expected an integer >= 1, got {self.redetect_every}"
            )
        if not (math.isfinite(self.roi_scale) and self.roi_scale >= 1.0):
            raise InvalidInputError(
                f"video roi_scale: expected a number >= 1, got {self.roi_scale}"
            )
        if int(self.roi_size) < 32:
            raise InvalidInputError(f"video roi_size: expected >= 32 pixels, got {self.roi_size}")

    @staticmethod
    def make(value: VideoOptions | Mapping[str, Any] | bool | None) -> VideoOptions:
        """Options from ``None`` (defaults), ``True``/``False`` (ROI on/off), a dict or options."""
        if value is None or value is True:
            return VideoOptions()
        if value is False:
            return VideoOptions(roi=False)
        if isinstance(value, VideoOptions):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(VideoOptions)}
            unknown = set(value) - known
            if unknown:
                raise InvalidInputError(
                    f"video: unknown key(s) {sorted(unknown)}, expected {sorted(known)}"
                )
            return VideoOptions(**value)
        raise InvalidInputError(
            f"video: expected None, True/False, a dict or VideoOptions, got {type(value).__name__}"
        )

    def merged(self, override: VideoOptions | Mapping[str, Any] | bool | None) -> VideoOptions:
        """These options with ``override`` applied (a dict changes only its keys)."""
        if override is None:
            return self
        if isinstance(override, Mapping):
            VideoOptions.make(override)  # validates the keys
            return replace(self, **override)
        return VideoOptions.make(override)


def roi_around(box: np.ndarray, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer ROI ``(x1, y1, x2, y2)``: a square of ``scale`` x the box's longer side around its
    centre, clipped to the image ``width`` x ``height``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    half = scale * max(x2 - x1, y2 - y1) / 2.0
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    rx1, ry1 = max(0, int(math.floor(cx - half))), max(0, int(math.floor(cy - half)))
    rx2, ry2 = min(width, int(math.ceil(cx + half))), min(height, int(math.ceil(cy + half)))
    return rx1, ry1, rx2, ry2


class VideoTracker:
    """Faces of a video, frame after frame: ``process(frame, t) -> list[Face]``.

    Made by :meth:`~headpose.estimator.Estimator.video_tracker`; :meth:`Estimator.track
    <headpose.estimator.Estimator.track>` drives one over a whole video. ``smooth=False`` keeps
    identities but returns the raw per-frame angles. Counters: ``full_detections`` (frames where
    the whole frame was searched), ``roi_detections`` (detector runs on an ROI), ``frames``.
    """

    def __init__(
        self,
        estimator: Estimator,
        options: VideoOptions,
        tracker: Tracker,
        fps: float = 30.0,
    ) -> None:
        if estimator.detector is None:
            raise InvalidInputError(
                "video: this Estimator has detector=None; tracking a video needs a face detector"
            )
        if not (fps > 0 and math.isfinite(fps)):
            raise InvalidInputError(f"fps: expected a number > 0, got {fps}")
        self.estimator = estimator
        self.options = options
        self.tracker = tracker
        self.fps = float(fps)
        self.frames = 0
        self.full_detections = 0
        self.roi_detections = 0
        self._last_full: int | None = None
        self._boxes = np.zeros((0, 4))  # boxes of the faces returned for the previous frame

    def process(self, frame: ImageInput, t: float | None = None) -> list[Face]:
        """Faces of the next frame (best detector score first), with ``track_id`` set.
        ``t``: time in seconds (default: frame index / fps)."""
        img = load_image(frame, f"frame {self.frames}")
        now = self.frames / self.fps if t is None else float(t)
        index = self.frames
        self.frames += 1
        found = self._detect(img, index)
        faces = self.estimator._faces_in_image(img, *found)
        return self.tracker.update(faces, t=now)

    def _detect(
        self, img: np.ndarray, index: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        opts = self.options
        due = self._last_full is None or index - self._last_full >= opts.redetect_every
        if opts.roi and not due and len(self._boxes):
            found = self._detect_rois(img)
            if found is not None:
                self._boxes = found[0]
                return found
        self._last_full = index
        self.full_detections += 1
        found = self.estimator._detect(img)
        self._boxes = found[0]
        return found

    def _detect_rois(
        self, img: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """Each previous face found again in its ROI, or ``None`` if any of them is missing."""
        h, w = img.shape[:2]
        detector = self.estimator.detector
        min_score = self.estimator.min_score
        boxes, scores, points = [], [], []
        with_points = True
        for box in self._boxes:
            rx1, ry1, rx2, ry2 = roi_around(box, self.options.roi_scale, w, h)
            roi = img[ry1:ry2, rx1:rx2]
            side = max(roi.shape[:2])
            scale = min(1.0, self.options.roi_size / side) if side else 1.0
            if scale < 1.0:
                size = (max(1, round(roi.shape[1] * scale)), max(1, round(roi.shape[0] * scale)))
                roi = cv2.resize(roi, size, interpolation=cv2.INTER_AREA)
            self.roi_detections += 1
            det = detector.detect(np.ascontiguousarray(roi))
            cand = np.asarray(det.boxes, dtype=np.float64).reshape(-1, 4)
            cand_scores = np.asarray(det.scores, dtype=np.float64).reshape(-1)
            ok = np.isfinite(cand).all(axis=1) & (cand_scores >= min_score)
            if not ok.any():
                return None
            cand = cand / scale + np.array([rx1, ry1, rx1, ry1], dtype=np.float64)
            overlap = iou_matrix(box[None, :], cand)[0]
            pick = int(np.argmax(np.where(ok, overlap + 1e-6 * cand_scores, -1.0)))
            boxes.append(cand[pick])
            scores.append(cand_scores[pick])
            if det.landmarks is None:
                with_points = False
            else:
                pts = np.asarray(det.landmarks, dtype=np.float64)[pick] / scale
                points.append(pts + np.array([rx1, ry1], dtype=np.float64))
        all_boxes, all_scores = np.array(boxes).reshape(-1, 4), np.array(scores)
        all_points = np.array(points) if with_points and points else None
        keep = _dedupe(all_boxes, all_scores)
        if self.estimator.max_faces is not None:
            keep = keep[: self.estimator.max_faces]
        clipped, kept = clip_boxes(all_boxes[keep], w, h)
        if len(kept) < len(keep):  # a box outside the frame: not a face found
            return None
        keep = keep[kept]
        return clipped, all_scores[keep], None if all_points is None else all_points[keep]


def _dedupe(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices of boxes kept, best score first, dropping any overlapping a better one by more
    than :data:`DUPLICATE_IOU` (two ROIs that found the same face)."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    for i in order:
        if keep and (iou_matrix(boxes[i : i + 1], boxes[keep])[0] > DUPLICATE_IOU).any():
            continue
        keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)


def open_video(path: str | os.PathLike[str]) -> Any:
    """A ``cv2.VideoCapture`` on a video file; :class:`InvalidImageError` naming the file if it
    does not exist, is a directory or cannot be opened."""
    p = Path(path)
    if not p.exists():
        raise InvalidImageError(f"{p}: video file not found")
    if p.is_dir():
        raise InvalidImageError(f"{p}: is a directory, expected a video file")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        cap.release()
        raise InvalidImageError(f"{p}: cannot open as a video (corrupt or unsupported codec)")
    return cap


def capture_fps(capture: Any) -> float | None:
    """Frame rate a capture reports (``CAP_PROP_FPS``), or ``None`` when it gives none."""
    get = getattr(capture, "get", None)
    if not callable(get):
        return None
    try:
        fps = float(get(cv2.CAP_PROP_FPS))
    except (TypeError, ValueError, cv2.error):
        return None
    return fps if math.isfinite(fps) and 1.0 <= fps <= 1000.0 else None


def check_open(capture: Any) -> None:
    """:class:`InvalidInputError` if ``capture`` has ``isOpened()`` and is not open (a camera
    that is absent or busy, a file OpenCV cannot read), instead of a video with no frames."""
    is_opened = getattr(capture, "isOpened", None)
    if callable(is_opened) and not is_opened():
        raise InvalidInputError(
            "capture: the video capture is not open (camera absent or busy, or a file OpenCV "
            "cannot read)"
        )


def iter_capture(capture: Any) -> Iterator[np.ndarray]:
    """Frames of anything with ``read() -> (ok, frame)`` until it ends (checked with
    :func:`check_open` first)."""
    check_open(capture)
    while True:
        ok, frame = capture.read()
        if not ok or frame is None:
            return
        yield frame
