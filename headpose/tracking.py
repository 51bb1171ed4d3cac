"""Video mode: find each known face again in a small region around its last box.

Running the face detector on the whole frame is the largest per-frame cost after the pose
network. In video the face was found a frame ago, so :class:`VideoTracker` runs the detector only
on a region of interest (ROI) around each face's last box (a square of ``roi_scale`` times the
box's longer side, cut from the frame as the detector sees it) and maps the boxes back.
The whole frame is searched again every ``redetect_every`` frames (so new faces appear) and at
once whenever a face is not found in its ROI. Identities and One Euro smoothing come from
:class:`~headpose.smoothing.Tracker`; each frame gives the same :class:`~headpose.face.Face`
list as :meth:`~headpose.estimator.Estimator.predict`, with ``track_id`` set.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from headpose.detectors._common import iou_matrix
from headpose.errors import (
    IncompleteVideoError,
    IncompleteVideoWarning,
    InvalidImageError,
    InvalidInputError,
    InvalidModelError,
    checked_count,
    checked_number,
    options_from_mapping,
)
from headpose.image_io import ImageInput, clip_boxes, load_image
from headpose.registration import BoxShifter, checked_gain
from headpose.smoothing import Tracker

if TYPE_CHECKING:  # pragma: no cover
    from headpose.face import Face
    from headpose.pipeline import FacePipeline

# Boxes from two ROIs overlapping more than this are the same face (the better score is kept).
DUPLICATE_IOU = 0.5


@dataclass(frozen=True)
class VideoOptions:
    """Settings of video mode (``Estimator.video``; ``est.video.merged({...})`` changes some).

    ``roi``: search known faces in a region around their last box (``False``: the whole frame on
    every frame, as :meth:`~headpose.estimator.Estimator.predict` does). ``redetect_every``:
    search the whole frame every N frames (1 = every frame), also at once when a face is not found
    in its ROI. ``roi_scale``: ROI side over the longer side of the face's last box. The detector
    sees each ROI at the scale it sees the whole frame at (a detector with ``max_side``, like
    YuNet, shrinks large frames) and cut on its stride grid, so its boxes closely match those of
    a whole-frame search (``bench/speed.py`` reports the agreement). ``max_roi_area``: when the
    ROIs would hold more than this fraction of the pixels of the whole frame (large faces), the
    whole frame is searched instead; so is a frame that the detector sees with fewer than
    ``min_frame_area`` pixels (default 320 x 240: a search of such a frame costs little, and an
    ROI would save little). ``detect_every`` > 1: between whole-frame searches the detector runs
    on the ROIs only every N frames; on the frames in between each face keeps its last box (the
    pose network still runs on every frame). It saves most of the detector's cost, and suits a
    model trained on jittered boxes (``model="fast"``); a face that leaves is dropped up to
    N - 1 frames late. ``box_shift``: on those frames in between, each face's box follows its
    image instead (:class:`~headpose.registration.BoxShifter`: phase correlation of a small grey
    patch of the face), moved by how far the image under it moved since the detector last ran;
    on a detector frame it becomes ``shifted + box_shift_gain * (detection - shifted)``
    (``box_shift_gain`` in (0, 1]; 1 takes the detection as it is, smaller values also steady
    the detector's own noise). Off by default; the shipped ``model="fast"`` recommends it with
    gain 0.5 (docs/MODEL_CARD.md; ``{"box_shift": False}`` turns it off). Defaults measured with
    ``bench/speed.py`` (``bench/results/speed.md``).
    """

    roi: bool = True
    redetect_every: int = 10
    roi_scale: float = 1.5
    max_roi_area: float = 0.5
    min_frame_area: int = 320 * 240
    detect_every: int = 1
    box_shift: bool = False
    box_shift_gain: float = 1.0

    def __post_init__(self) -> None:
        for name in ("roi", "box_shift"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInputError(
                    f"video {name}: expected True or False, got {getattr(self, name)!r}"
                )
        for name in ("redetect_every", "detect_every"):
            checked_count(f"video {name}", getattr(self, name))
        checked_number("video roi_scale", self.roi_scale, 1.0)
        checked_gain(self.box_shift_gain)
        checked_number("video max_roi_area", self.max_roi_area, 0.0, 1.0, low_open=True)

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
            return options_from_mapping(VideoOptions, value, "video")
        raise InvalidInputError(
            f"video: expected None, True/False, a dict or VideoOptions, got {type(value).__name__}"
        )

    @staticmethod
    def parse(pairs: Iterable[tuple[str, str]], what: str = "video") -> dict[str, Any]:
        """``(KEY, VALUE)`` texts (a command line's ``KEY=VALUE``) -> a dict of these fields,
        each value read as its field's type and the whole checked; a bad key or value is an
        :class:`~headpose.errors.InvalidInputError` naming ``what``."""
        kinds = {f.name: getattr(f.type, "__name__", str(f.type)) for f in fields(VideoOptions)}
        out: dict[str, Any] = {}
        for key, text in pairs:
            kind = kinds.get(key)
            if kind is None:
                raise InvalidInputError(
                    f"{what}: unknown key {key!r}, expected one of {sorted(kinds)}"
                )
            try:
                if kind == "bool":
                    if text.lower() not in ("true", "false", "1", "0"):
                        raise ValueError(text)
                    out[key] = text.lower() in ("true", "1")
                else:
                    out[key] = int(text) if kind == "int" else float(text)
            except ValueError:
                expected = {"bool": "true or false", "int": "an integer"}.get(kind, "a number")
                raise InvalidInputError(
                    f"{what} {key}: expected {expected}, got {text!r}"
                ) from None
        options_from_mapping(VideoOptions, out, what)  # checks the values together
        return out

    @staticmethod
    def recommended(extra: Mapping[str, Any], source: str = "<model>") -> VideoOptions:
        """The settings a model recommends for itself: ``extra["video"]`` of its metadata (a dict
        of these fields, written by ``headpose-export --video KEY=VALUE``, e.g. ``detect_every``
        for a model trained on jittered boxes); the library defaults when it has none. A bad
        entry is an :class:`~headpose.errors.InvalidModelError` naming ``source``."""
        raw = extra.get("video")
        if raw is None:
            return VideoOptions()
        if not isinstance(raw, Mapping):
            raise InvalidModelError(
                f"{source}: metadata extra.video: expected a dict of video settings, "
                f"got {type(raw).__name__}"
            )
        try:
            return VideoOptions.make(dict(raw))
        except InvalidInputError as exc:
            raise InvalidModelError(f"{source}: metadata extra.{exc}") from None

    def merged(self, override: VideoOptions | Mapping[str, Any] | bool | None) -> VideoOptions:
        """These options with ``override`` applied: a dict changes only its keys, ``True`` only
        turns the ROI search on, ``False`` searches the whole frame on every frame, options
        replace these."""
        if override is None:
            return self
        if override is True:
            return replace(self, roi=True)
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
    identities but returns the raw per-frame angles; ``raw`` holds the last frame's faces before
    smoothing either way. Counters: ``full_detections`` (frames where the whole frame was
    searched), ``roi_detections`` (detector runs on an ROI), ``reused_boxes`` (frames whose faces
    kept their last boxes, ``detect_every``), ``frames``.
    """

    def __init__(
        self,
        pipeline: FacePipeline,
        options: VideoOptions,
        tracker: Tracker,
        fps: float = 30.0,
    ) -> None:
        if pipeline.detector is None:
            raise InvalidInputError(
                "video: this Estimator has detector=None; tracking a video needs a face detector"
            )
        if not (fps > 0 and math.isfinite(fps)):
            raise InvalidInputError(f"fps: expected a number > 0, got {fps}")
        self.pipeline = pipeline
        self.options = options
        self.tracker = tracker
        self.fps = float(fps)
        self.frames = 0
        self.full_detections = 0
        self.roi_detections = 0
        self.reused_boxes = 0
        self._last_full: int | None = None
        self._last_detect: int | None = None  # the last frame the detector ran on
        # the last detection (boxes, scores, landmarks), reused on frames between searches
        self._found: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self.raw: list[Face] = []
        self.box_shifter = (
            BoxShifter(options.box_shift_gain, tracker.iou_threshold) if options.box_shift else None
        )

    def process(self, frame: ImageInput, t: float | None = None) -> list[Face]:
        """Faces of the next frame (best detector score first), with ``track_id`` set.
        ``t``: time in seconds (default: frame index / fps)."""
        img = load_image(frame, f"frame {self.frames}")
        now = self.frames / self.fps if t is None else float(t)
        index = self.frames
        self.frames += 1
        boxes, scores, points = self._detect(img, index)
        if self.box_shifter is not None:
            h, w = img.shape[:2]
            boxes, kept = clip_boxes(boxes, w, h)
            scores, points = scores[kept], None if points is None else points[kept]
        self.raw = self.pipeline.faces_in_image(img, (boxes, scores, points))
        out = self.tracker.update(self.raw, t=now)
        if not self.tracker.smooth:
            return out
        h, w = img.shape[:2]  # the camera pose follows the smoothed angles
        return [self.pipeline.with_camera(f, w, h) for f in out]

    def _detect(
        self, img: np.ndarray, index: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        opts = self.options
        due = self._last_full is None or index - self._last_full >= opts.redetect_every
        if opts.roi and not due and self._found is not None and len(self._found[0]):
            assert self._last_detect is not None
            if index - self._last_detect < opts.detect_every:
                self.reused_boxes += 1
                if self.box_shifter is not None:
                    self._found = self.box_shifter.follow(img, self._found)
                return self._found  # the faces keep their last boxes this frame
            found = self._detect_rois(img)
            if found is not None:
                return self._keep(img, found, index)
        self._last_full = index
        self.full_detections += 1
        return self._keep(img, self.pipeline.detect(img), index)

    def _keep(
        self,
        img: np.ndarray,
        found: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        index: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if self.box_shifter is not None:
            found = self.box_shifter.settle(img, found)
        self._found, self._last_detect = found, index
        return found

    def _detect_rois(
        self, img: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """Each previous face found again in its ROI, or ``None`` if any of them is missing."""
        h, w = img.shape[:2]
        detector = self.pipeline.detector
        min_score = self.pipeline.min_score
        scale = detector_scale(detector, h, w)
        if h * w * scale * scale < self.options.min_frame_area:
            return None  # a small frame: the whole-frame search is cheap already
        assert self._found is not None
        last_boxes = self._found[0]  # of the faces returned for the previous frame
        rois = [roi_around(box, self.options.roi_scale, w, h) for box in last_boxes]
        roi_area = sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in rois)
        if roi_area >= self.options.max_roi_area * h * w:
            return None  # searching the ROIs would cost about as much as the whole frame
        boxes, scores, points = [], [], []
        with_points = True
        # the frame as the detector sees it: each ROI is on its stride grid
        shrunk = (max(1, round(h * scale)), max(1, round(w * scale))) if scale < 1 else (h, w)
        for box, roi_box in zip(last_boxes, rois, strict=True):
            roi, (ox, oy, sx, sy) = _cut(img, _on_grid(roi_box, scale, shrunk), scale)
            if roi.shape[0] < 2 or roi.shape[1] < 2:
                return None  # nothing left of the ROI inside the frame
            self.roi_detections += 1
            det = detector.detect(np.ascontiguousarray(roi))
            cand = np.asarray(det.boxes, dtype=np.float64).reshape(-1, 4)
            cand_scores = np.asarray(det.scores, dtype=np.float64).reshape(-1)
            ok = np.isfinite(cand).all(axis=1) & (cand_scores >= min_score)
            if not ok.any():
                return None
            cand = cand / np.array([sx, sy, sx, sy]) + np.array([ox, oy, ox, oy])
            overlap = iou_matrix(box[None, :], cand)[0]
            pick = int(np.argmax(np.where(ok, overlap + 1e-6 * cand_scores, -1.0)))
            boxes.append(cand[pick])
            scores.append(cand_scores[pick])
            if det.landmarks is None:
                with_points = False
            else:
                pts = np.asarray(det.landmarks, dtype=np.float64)[pick] / np.array([sx, sy])
                points.append(pts + np.array([ox, oy]))
        all_boxes, all_scores = np.array(boxes).reshape(-1, 4), np.array(scores)
        all_points = np.array(points) if with_points and points else None
        keep = _dedupe(all_boxes, all_scores)
        if self.pipeline.max_faces is not None:
            keep = keep[: self.pipeline.max_faces]
        clipped, kept = clip_boxes(all_boxes[keep], w, h)
        if len(kept) < len(keep):  # a box outside the frame: not a face found
            return None
        keep = keep[kept]
        return clipped, all_scores[keep], None if all_points is None else all_points[keep]


# ROIs cut from the frame as the detector sees it start on this grid (the coarsest stride of
# YuNet's feature pyramid) and span whole cells, so the network sees the same pixels at the same
# cell offsets as in a whole-frame search.
ROI_GRID = 32


def _cut(
    image: np.ndarray, roi: tuple[int, int, int, int], scale: float
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The detector-pixel region ``roi`` of the frame shrunk by ``scale``, made by shrinking only
    the frame pixels under it. Bilinear: at a fractional scale OpenCV's area filter (which the
    detectors use on whole frames) costs ~30x more, and the boxes agree with a whole-frame search
    as well (``bench/speed.py``, agreement column). Returns the region and ``(x0, y0, sx, sy)``:
    frame = region / (sx, sy) + (x0, y0)."""
    x1, y1, x2, y2 = roi
    if x2 <= x1 or y2 <= y1:
        return np.zeros((0, 0, 3), np.uint8), (float(x1), float(y1), 1.0, 1.0)
    if scale >= 1.0:
        return image[y1:y2, x1:x2], (float(x1), float(y1), 1.0, 1.0)
    h, w = image.shape[:2]
    fx1, fy1 = int(math.floor(x1 / scale)), int(math.floor(y1 / scale))
    fx2, fy2 = min(w, int(math.ceil(x2 / scale))), min(h, int(math.ceil(y2 / scale)))
    region = cv2.resize(image[fy1:fy2, fx1:fx2], (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    return region, (float(fx1), float(fy1), (x2 - x1) / (fx2 - fx1), (y2 - y1) / (fy2 - fy1))


def _on_grid(
    roi: tuple[int, int, int, int], scale: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """Frame ROI -> ``(x1, y1, x2, y2)`` in the shrunk frame of ``shape`` (h, w): the start
    rounded down to :data:`ROI_GRID`, the size rounded up to whole cells (clipped)."""
    h, w = int(shape[0]), int(shape[1])
    x1 = int(math.floor(roi[0] * scale / ROI_GRID)) * ROI_GRID
    y1 = int(math.floor(roi[1] * scale / ROI_GRID)) * ROI_GRID
    x2 = min(w, x1 + int(math.ceil((roi[2] * scale - x1) / ROI_GRID)) * ROI_GRID)
    y2 = min(h, y1 + int(math.ceil((roi[3] * scale - y1) / ROI_GRID)) * ROI_GRID)
    return x1, y1, x2, y2


def detector_scale(detector: Any, height: int, width: int) -> float:
    """The factor by which ``detector`` shrinks a ``height`` x ``width`` image before its network
    (``min(1, max_side / longer side)`` for detectors with a ``max_side``, else 1)."""
    max_side = getattr(detector, "max_side", None)
    if not isinstance(max_side, (int, float)) or max_side <= 0:
        return 1.0
    return min(1.0, float(max_side) / max(height, width, 1))


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


@contextmanager
def quiet_video_logs() -> Iterator[None]:
    """Hide OpenCV's and FFmpeg's own lines (camera probing such as ``[ERROR:0@0.350] ...
    Camera index out of range``, ``moov atom not found``) that would print before headpose's
    one clear error, while a capture opens: OpenCV's log level is silent inside and restored
    after; a value the user set in ``OPENCV_FFMPEG_LOGLEVEL`` is kept."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    logging = getattr(cv2.utils, "logging", None)
    try:
        old = logging.getLogLevel() if logging is not None else None
        if logging is not None:
            logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    except (AttributeError, cv2.error):  # pragma: no cover - old OpenCV
        old = None
    try:
        yield
    finally:
        if logging is not None and old is not None:
            logging.setLogLevel(old)


def open_video(path: str | os.PathLike[str]) -> Any:
    """A ``cv2.VideoCapture`` on a video file; :class:`InvalidImageError` naming the file if it
    does not exist, is a directory or cannot be opened."""
    p = Path(path)
    if not p.exists():
        raise InvalidImageError(f"{p}: video file not found")
    if p.is_dir():
        raise InvalidImageError(f"{p}: is a directory, expected a video file")
    with quiet_video_logs():
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


def frame_count(capture: Any) -> int | None:
    """The frame count a capture's container states (``CAP_PROP_FRAME_COUNT``), or ``None``
    (a camera, a stream, a capture without ``get``)."""
    get = getattr(capture, "get", None)
    if not callable(get):
        return None
    try:
        count = float(get(cv2.CAP_PROP_FRAME_COUNT))
    except (TypeError, ValueError, cv2.error):
        return None
    return int(count) if math.isfinite(count) and count >= 1 else None


def check_complete(capture: Any, read: int, name: str) -> None:
    """:class:`IncompleteVideoError` naming ``name`` when ``capture`` stopped giving frames
    after ``read`` of the frames its container states (a truncated file, a read that failed
    mid-stream). Counts that containers only estimate may be off by 1%, which passes."""
    expected = frame_count(capture)
    if expected is not None and read < expected - expected // 100:
        raise IncompleteVideoError(
            f"{name}: the video ended after {read} of its {expected} frames (truncated or "
            "corrupt file); the frames after were not read",
            read,
            expected,
        )


def iter_capture(capture: Any, name: str = "capture") -> Iterator[np.ndarray]:
    """Frames of anything with ``read() -> (ok, frame)`` until it ends (checked with
    :func:`check_open` first). A video file that ends before its stated frame count
    (:func:`check_complete`) gives an :class:`~headpose.errors.IncompleteVideoWarning` naming
    ``name``."""
    check_open(capture)
    read = 0
    while True:
        ok, frame = capture.read()
        if not ok or frame is None:
            break
        read += 1
        yield frame
    try:
        check_complete(capture, read, name)
    except IncompleteVideoError as exc:
        warnings.warn(str(exc), IncompleteVideoWarning, stacklevel=2)
