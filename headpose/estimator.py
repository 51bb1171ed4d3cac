"""The public API: :class:`Estimator` finds faces and their head pose; :class:`Face` is one result.

>>> from headpose import Estimator
>>> est = Estimator()                      # shipped model + default face detector, offline
>>> for face in est.predict("photo.jpg"):
...     print(face.yaw, face.pitch, face.roll, face.uncertainty)

Angles are degrees in the project convention (see :mod:`headpose.rotation`): yaw > 0 the face
turns toward the image's left, pitch > 0 looking up, roll > 0 clockwise tilt on screen.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from headpose.camera import Camera
from headpose.detectors import accepts_option, get_detector
from headpose.errors import (
    DroppedBoxWarning,
    InvalidInputError,
    InvalidModelError,
    checked_count,
    checked_number,
)
from headpose.face import Face, make_face, pose_matrix
from headpose.image_io import ImageInput, as_boxes, clip_boxes, load_image
from headpose.pipeline import CROP_CHUNK, FacePipeline, Found
from headpose.pose_model import PoseModel
from headpose.runtime import checked_threads
from headpose.smoothing import Tracker, smoothing_setting
from headpose.tracking import (
    VideoOptions,
    VideoTracker,
    capture_fps,
    check_open,
    iter_capture,
    open_video,
)

__all__ = [
    "BUNDLED_MODELS",
    "CROP_CHUNK",
    "Estimator",
    "Face",
    "bundled_model_path",
    "default_model_path",
    "make_face",
    "pose_matrix",
]

#: Pose models shipped in the package, by name (``Estimator(model=NAME)``, ``--model NAME``);
#: docs/MODEL_CARD.md has their accuracy and speed.
BUNDLED_MODELS: dict[str, str] = {
    "default": "headpose_default.onnx",  # a pool of 4 networks (files beside it): most accurate
    "fast": "headpose_fast.onnx",  # 1 network, 1 pass at 112 px: ~4x faster, less accurate
}
DEFAULT_MODEL = BUNDLED_MODELS["default"]
# Smaller images cannot hold a detectable face: the detector is not run, predict returns [].
MIN_DETECT_SIDE = 8
DEFAULT_FPS = 30.0
#: the score below which detections are dropped when ``min_score`` is not given (a detector
#: chosen by name then keeps its own threshold: YuNet 0.6, BlazeFace 0.5)
DEFAULT_MIN_SCORE = 0.5


def bundled_model_path(name: str = "default") -> Path:
    """Path of the pose model shipped in the package under ``name`` (see :data:`BUNDLED_MODELS`)."""
    if name not in BUNDLED_MODELS:
        raise InvalidInputError(
            f"model: {name!r} is not a shipped model; expected one of {sorted(BUNDLED_MODELS)} "
            "or the path of an exported headpose .onnx"
        )
    path = Path(str(resources.files("headpose.models").joinpath(BUNDLED_MODELS[name])))
    if not path.is_file():
        raise InvalidModelError(
            f"{path}: the shipped pose model {name!r} is not in this installation; pass "
            "model='path/to/model.onnx' (an exported headpose model, see headpose-export)"
        )
    return path


def default_model_path() -> Path:
    """Path of the model shipped in the package (``headpose/models/headpose_default.onnx``)."""
    return bundled_model_path("default")


def is_unknown_model_name(model: str | os.PathLike[str]) -> bool:
    """True for a value meant as a shipped model's name that is not one: no file extension and
    no such file (a typo such as ``"fastest"``, rather than a missing ``.onnx``)."""
    path = Path(model)
    return str(model) not in BUNDLED_MODELS and not path.suffix and not path.exists()


def resolve_model_path(model: str | os.PathLike[str] | None) -> Path:
    """``None`` -> the default model; a name in :data:`BUNDLED_MODELS` -> that shipped model;
    anything else -> a path (checked when the model loads)."""
    if model is None:
        return default_model_path()
    if isinstance(model, str) and model in BUNDLED_MODELS:
        return bundled_model_path(model)
    path = Path(model)
    if is_unknown_model_name(model):
        raise InvalidInputError(
            f"model: {str(model)!r} is neither a file nor a shipped model name; expected one of "
            f"{sorted(BUNDLED_MODELS)} or the path of an exported headpose .onnx"
        )
    return path


def resolve_detector(detector: Any, options: dict[str, Any] | None = None) -> Any:
    """``None`` | a registry name (``"auto"``, ``"yunet"``, ``"blazeface"``, ...) | an object
    with ``detect(image_bgr) -> Detections`` -> the detector object (or ``None``)."""
    if detector is None:
        return None
    if isinstance(detector, str):
        if detector.lower() == "none":
            return None
        return get_detector(detector, **(options or {}))
    if callable(getattr(detector, "detect", None)):
        return detector
    raise InvalidInputError(
        f"detector: expected None, a name or an object with detect(image), got "
        f"{type(detector).__name__}"
    )


class Estimator:
    """Head pose of every face in an image or video.

    ``model``: ``None`` or ``"default"`` (the most accurate shipped model), ``"fast"`` (the
    shipped one-pass model, see :data:`BUNDLED_MODELS`), a path to an exported headpose
    ``.onnx``, or a :class:`~headpose.pose_model.PoseModel`. The model's metadata carries the
    video setting it was chosen with (:attr:`video`).
    ``detector``: ``"auto"`` (the best detector shipped), a registry name (see
    ``headpose.detectors.available()``), an object with ``detect(image_bgr) -> Detections``
    (e.g. ``headpose.detectors.get_detector(name, **options)``), or ``None`` (then pass
    ``boxes=`` to :meth:`predict`).
    ``providers``: onnxruntime execution providers of the pose model and of a detector chosen by
    name: ``"cpu"``, ``"cuda"``, ``"tensorrt"`` or a list (default: CUDA when it loads, else
    CPU; see docs/GPU.md).
    ``min_score``: detections below it are dropped, and a detector chosen by name runs with it
    as its own threshold (default ``None``: the detector's own, YuNet 0.6, BlazeFace 0.5;
    :data:`DEFAULT_MIN_SCORE` for a detector object).
    ``max_faces``: keep at most this many faces per image, best scores first.
    ``smoothing``: the angle filter of :meth:`track`: ``True`` (default: One Euro, the settings
    chosen on the video benchmarks), ``False`` (raw angles; faces still keep their identity),
    or a strength ``> 0`` relative to the default (2 = twice as smooth: both cutoffs halved,
    more lag; 0.5 = half as smooth).
    ``camera``: for :attr:`Face.camera`: a horizontal field of view in degrees, the 3x3
    intrinsic matrix ``K`` in pixels or a :class:`~headpose.camera.Camera` (default: 60 degrees,
    principal point at the image centre).
    ``threads``: onnxruntime threads of each network (default: half the cores, 1 to 4; 0 =
    onnxruntime decides).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | PoseModel | None = None,
        detector: Any = "auto",
        providers: Sequence[str] | str | None = None,
        min_score: float | None = None,
        max_faces: int | None = None,
        smoothing: bool | float | None = True,
        *,
        camera: Camera | float | Sequence[Sequence[float]] | np.ndarray | None = None,
        threads: int | None = None,
    ) -> None:
        if min_score is not None:
            min_score = checked_number("min_score", min_score, 0.0, 1.0)
        if max_faces is not None:
            max_faces = checked_count("max_faces", max_faces)
        threads = checked_threads(threads)
        self.smoothing, self.smooth = smoothing_setting(smoothing)  # names a bad value now
        pose_model = (
            model
            if isinstance(model, PoseModel)
            else PoseModel(resolve_model_path(model), providers=providers, threads=threads)
        )
        options: dict[str, Any] = {}
        if isinstance(detector, str) and detector.lower() != "none":
            # one setting for both networks; an explicit min_score also reaches the detector's
            # own threshold (YuNet's 0.6 would otherwise filter first)
            shared = {"threads": threads, "providers": providers, "score_threshold": min_score}
            for key, value in shared.items():
                if value is not None and accepts_option(detector, key):
                    options.setdefault(key, value)
        self.pipeline = FacePipeline(
            pose_model,
            resolve_detector(detector, options),
            DEFAULT_MIN_SCORE if min_score is None else min_score,
            max_faces,
            Camera.make(camera),
        )
        #: video mode's settings (:class:`~headpose.tracking.VideoOptions`): the model's own
        #: recommendation (its metadata; the library defaults without one)
        self.video = VideoOptions.recommended(pose_model.meta.extra, str(pose_model.path))

    # the settings live on the pipeline that photos and video frames both go through
    @property
    def model(self) -> PoseModel:
        """The pose model (:class:`~headpose.pose_model.PoseModel`)."""
        return self.pipeline.model

    @property
    def detector(self) -> Any:
        """The face detector object, or ``None``."""
        return self.pipeline.detector

    @detector.setter
    def detector(self, value: Any) -> None:
        self.pipeline.detector = resolve_detector(value)

    @property
    def min_score(self) -> float:
        """Detections scoring below this are dropped."""
        return self.pipeline.min_score

    @min_score.setter
    def min_score(self, value: float) -> None:
        self.pipeline.min_score = checked_number("min_score", value, 0.0, 1.0)

    @property
    def max_faces(self) -> int | None:
        """At most this many faces per image (``None``: all)."""
        return self.pipeline.max_faces

    @max_faces.setter
    def max_faces(self, value: int | None) -> None:
        self.pipeline.max_faces = None if value is None else checked_count("max_faces", value)

    @property
    def camera(self) -> Camera:
        """The camera of :attr:`Face.camera`."""
        return self.pipeline.camera

    @camera.setter
    def camera(self, value: Camera | float | Sequence[Sequence[float]] | np.ndarray | None) -> None:
        self.pipeline.camera = Camera.make(value)

    # ------------------------------------------------------------------ images
    def predict(self, image: ImageInput, boxes: Any = None) -> list[Face]:
        """Faces in ``image`` with their pose, best detector score first.

        ``image``: a file path, a numpy array — grey ``(H, W)`` / ``(H, W, 1)``, **BGR**
        ``(H, W, 3)`` or **BGRA** ``(H, W, 4)`` (OpenCV order), uint8 / uint16 / float (see
        :mod:`headpose.image_io`) — or a PIL image (**RGB**, converted).
        ``boxes``: optional face boxes ``(N, 4)`` ``(x1, y1, x2, y2)`` pixels; when given, the
        detector is not run and faces come back in the order of the boxes. Boxes are clipped to
        the image; a box with nothing left inside the image (outside it, or of zero area) gets
        no face, and a :class:`~headpose.errors.DroppedBoxWarning` names its row.
        All faces go through the pose model in one batched call. An image too small to hold a
        face gives ``[]``.
        """
        img = load_image(image)
        h, w = img.shape[:2]
        if boxes is not None:
            given = as_boxes(boxes)
            clipped, kept = clip_boxes(given, w, h)
            if len(kept) < len(given):
                warn_dropped_boxes(given, kept, w, h)
            found: Found = (clipped, np.ones(len(clipped)), None)
        elif self.detector is None:
            raise InvalidInputError(
                "boxes: this Estimator has detector=None, so predict() needs boxes=(N, 4); "
                "use predict_crops() for images that are already face crops"
            )
        elif min(h, w) < MIN_DETECT_SIDE:
            return []
        else:
            found = self.pipeline.detect(img)
        return self.pipeline.faces_in_image(img, found)

    def predict_crops(self, crops: Sequence[ImageInput] | np.ndarray) -> list[Face]:
        """Pose of images that are already face crops (each resized whole; no detector), batched
        in chunks of :data:`~headpose.pipeline.CROP_CHUNK`. ``crops``: a list of images (any
        form :meth:`predict` accepts) or an array ``(N, H, W, 3)`` BGR. Each face's box is the
        whole crop, its score 1.0."""
        if isinstance(crops, np.ndarray) and crops.ndim != 4:
            raise InvalidInputError(
                f"crops: expected a list of images or an array (N, H, W, 3), got one array of "
                f"shape {crops.shape} (wrap a single crop in a list)"
            )
        if isinstance(crops, (str, os.PathLike)):
            raise InvalidInputError("crops: expected a list of images, got a single path")
        images = [load_image(c, f"crop {i}") for i, c in enumerate(crops)]
        boxes = np.array([[0.0, 0.0, c.shape[1], c.shape[0]] for c in images]).reshape(-1, 4)
        return self.pipeline.pose(images, boxes, np.ones(len(images)), None)

    def with_camera(self, face: Face, width: int, height: int) -> Face:
        """``face`` with :attr:`Face.camera` computed from its angles and box in an image of
        ``width`` x ``height`` pixels (e.g. after smoothing changed the angles)."""
        return self.pipeline.with_camera(face, width, height)

    # ------------------------------------------------------------------ video
    def tracker(self, **overrides: Any) -> Tracker:
        """A new :class:`~headpose.smoothing.Tracker` with this Estimator's smoothing settings
        (the filter's settings, ``iou_threshold`` and ``max_missing`` overridable)."""
        settings: dict[str, Any] = {"smooth": self.smooth, **self.smoothing, **overrides}
        return Tracker(**settings)

    def video_tracker(
        self,
        fps: float = DEFAULT_FPS,
        video: VideoOptions | dict[str, Any] | bool | None = None,
        smooth: bool | None = None,
        **overrides: Any,
    ) -> VideoTracker:
        """A new :class:`~headpose.tracking.VideoTracker`, the step of :meth:`track`:
        ``process(frame, t=None)`` gives the faces of each frame in turn. For tools that set
        video mode by hand: ``video`` changes :attr:`video` for this tracker only; ``smooth``
        overrides the Estimator's ``smoothing`` on/off; ``overrides`` as for :meth:`tracker`."""
        tracker = self.tracker(**{"freq": fps, **overrides})
        if smooth is not None:
            tracker.smooth = bool(smooth)
        return VideoTracker(self.pipeline, self.video.merged(video), tracker, fps=fps)

    def track(
        self,
        frames: Iterable[ImageInput] | str | os.PathLike[str] | Any,
        fps: float | None = None,
    ) -> Iterator[list[Face]]:
        """The faces of each frame of a video (a generator), with ``track_id`` set.

        ``frames``: a video file path, an object with ``read() -> (ok, frame)`` such as a
        ``cv2.VideoCapture`` (read until it ends; one that is not open is an error; a video that
        ends before the frame count its container states gives an
        :class:`~headpose.errors.IncompleteVideoWarning`), or an
        iterable of images. Frame ``i`` is at time ``i / fps`` seconds (``fps``: default the
        capture's own rate, else 30). Video mode (:mod:`headpose.tracking`, settings in
        :attr:`video`) finds each face again in a small region around its last box and searches
        the whole frame now and then and whenever a face is lost. Faces keep their identity
        across frames by box overlap; their angles are smoothed as ``smoothing`` says
        (:meth:`video_tracker` makes one tracker with other settings).
        """
        if fps is not None and not (fps > 0):
            raise InvalidInputError(f"fps: expected a number > 0, got {fps}")
        owned = None
        name = "capture"
        if isinstance(frames, (str, os.PathLike)):
            name = str(frames)
            owned = frames = open_video(frames)
        try:  # errors in the settings or the source show here, not at the first frame
            rate = fps if fps is not None else capture_fps(frames) or DEFAULT_FPS
            stream = self.video_tracker(rate)
            if callable(getattr(frames, "read", None)):
                check_open(frames)
                source: Iterator[Any] = iter_capture(frames, name)
            else:
                source = iter(frames)
        except BaseException:
            if owned is not None:
                owned.release()
            raise
        return _run_stream(stream, source, owned)

    def __repr__(self) -> str:
        det = (
            None
            if self.detector is None
            else getattr(self.detector, "name", type(self.detector).__name__)
        )
        return f"Estimator(model={self.model!r}, detector={det!r}, min_score={self.min_score})"


def warn_dropped_boxes(given: np.ndarray, kept: np.ndarray, width: int, height: int) -> None:
    """One :class:`~headpose.errors.DroppedBoxWarning` naming the rows of ``given`` that
    :func:`~headpose.image_io.clip_boxes` dropped (not in ``kept``) and why."""
    rows = sorted(set(range(len(given))) - {int(i) for i in kept})
    listed = ", ".join(f"row {i} {[round(float(v), 2) for v in given[i]]}" for i in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    warnings.warn(
        f"boxes: {listed}{more}: nothing left inside the {width}x{height} image (outside it or "
        f"of zero area), so no face for {'it' if len(rows) == 1 else 'them'}; "
        f"{len(kept)} of {len(given)} boxes give faces",
        DroppedBoxWarning,
        stacklevel=3,
    )


def _run_stream(stream: VideoTracker, source: Iterator[Any], owned: Any) -> Iterator[list[Face]]:
    try:
        for frame in source:
            yield stream.process(frame)
    finally:
        if owned is not None:
            owned.release()
