"""The public API: :class:`Estimator` finds faces and their head pose; :class:`Face` is one result.

>>> from headpose import Estimator
>>> est = Estimator()                      # shipped model + default face detector, offline
>>> for face in est.predict("photo.jpg"):
...     print(face.yaw, face.pitch, face.roll, face.uncertainty)

Angles are degrees in the project convention (see :mod:`headpose.rotation`): yaw > 0 the face
turns toward the image's left, pitch > 0 looking up, roll > 0 clockwise tilt on screen.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from headpose.camera import Camera, CameraPose, camera_pose
from headpose.errors import InvalidInputError, InvalidModelError, checked_count, checked_number
from headpose.image_io import ImageInput, as_boxes, clip_boxes, load_image
from headpose.pose_model import PoseModel
from headpose.preprocess import crop_face
from headpose.rotation import euler_to_matrix
from headpose.runtime import checked_threads
from headpose.smoothing import Tracker, resolved_smoothing
from headpose.tracking import (
    VideoOptions,
    VideoTracker,
    capture_fps,
    check_open,
    iter_capture,
    open_video,
)

#: Pose models shipped in the package, by name (``Estimator(model=NAME)``, ``--model NAME``);
#: the model card in the README has their accuracy and speed.
BUNDLED_MODELS: dict[str, str] = {
    "default": "headpose_default.onnx",  # 2 networks x mirror (4 passes): the most accurate
    "fast": "headpose_fast.onnx",  # 1 network, 1 pass at 112 px: ~4x faster, less accurate
}
DEFAULT_MODEL = BUNDLED_MODELS["default"]
# Smaller images cannot hold a detectable face: the detector is not run, predict returns [].
MIN_DETECT_SIDE = 8
# predict_crops runs long lists in chunks of this many crops: large batches thrash the CPU caches
# (shipped model, one thread: 7.5 ms/crop in chunks of 8 vs 12.5 in one call of 256;
# bench/speed.py measures it).
CROP_CHUNK = 8
DEFAULT_FPS = 30.0
#: the score below which detections are dropped when ``min_score`` is not given (a detector
#: chosen by name then keeps its own threshold: YuNet 0.6, BlazeFace 0.5)
DEFAULT_MIN_SCORE = 0.5


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
    :meth:`Estimator.predict_crops`.

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
        (:attr:`camera` is kept: :meth:`Estimator.with_camera` recomputes it)."""
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
        from headpose.detectors import get_detector

        return get_detector(detector, **(options or {}))
    if callable(getattr(detector, "detect", None)):
        return detector
    raise InvalidInputError(
        f"detector: expected None, a name or an object with detect(image), got "
        f"{type(detector).__name__}"
    )


class Estimator:
    """Head pose of every face in an image.

    ``model``: ``None`` or ``"default"`` (the most accurate shipped model), ``"fast"`` (the
    shipped one-pass model, see :data:`BUNDLED_MODELS`), a path to an exported headpose
    ``.onnx``, or a :class:`~headpose.pose_model.PoseModel`. ``detector``: ``"auto"`` (the best
    detector shipped), a registry name (see ``headpose.detectors.available()``), an object with
    ``detect(image_bgr) -> Detections``, or ``None`` (then pass ``boxes=`` to :meth:`predict`).
    ``providers``: onnxruntime execution providers of the pose model and of a detector chosen by
    name (default: CUDA when it loads, else CPU; ``"tensorrt"`` opts in to TensorRT, see
    docs/GPU.md). ``min_score``: detections below it are dropped, and a detector chosen by name
    is run with it as its own threshold (default ``None``: the detector's own threshold, YuNet
    0.6, BlazeFace 0.5; :data:`DEFAULT_MIN_SCORE` for a detector object). ``max_faces``: keep
    at most this many
    (best scores first). ``smoothing``: the angle filter of :meth:`track`: One Euro settings (keys
    ``min_cutoff``, ``beta``, ``d_cutoff``, ``stages``), or ``{"filter": NAME, ...}`` for another
    filter registered in :data:`headpose.smoothing.FILTERS` (its own keys; see
    :mod:`headpose.smoothing`). ``threads``: onnxruntime
    intra-op threads of the pose model and of a detector chosen by name (default
    :func:`headpose.runtime.default_threads`: half the cores, 1 to 4; 0 = onnxruntime decides).
    ``video``: video-mode settings for :meth:`track` (a dict of
    :class:`~headpose.tracking.VideoOptions` fields, ``False`` to search the whole frame on every
    frame); a dict changes only its keys of the model's recommended settings (its metadata,
    ``headpose-export --video``; the library defaults without them), which :attr:`video` holds.
    ``camera``: the camera, for :attr:`Face.camera` (a horizontal field of view in degrees, a
    dict of :class:`~headpose.camera.Camera` fields, ``(fx, fy, cx, cy)`` pixels, a 3x3 matrix
    ``K``; default: 60 degrees horizontal, principal point at the image centre).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | PoseModel | None = None,
        detector: Any = "auto",
        providers: Sequence[str] | str | None = None,
        min_score: float | None = None,
        max_faces: int | None = None,
        smoothing: dict[str, Any] | None = None,
        detector_options: dict[str, Any] | None = None,
        threads: int | None = None,
        video: VideoOptions | dict[str, Any] | bool | None = None,
        camera: Camera | dict[str, Any] | Sequence[float] | float | None = None,
    ) -> None:
        if min_score is not None:
            min_score = checked_number("min_score", min_score, 0.0, 1.0)
        if max_faces is not None:
            max_faces = checked_count("max_faces", max_faces)
        threads = checked_threads(threads)
        if isinstance(model, PoseModel):
            self.model = model
        else:
            self.model = PoseModel(resolve_model_path(model), providers=providers, threads=threads)
        options = dict(detector_options or {})
        if isinstance(detector, str) and detector.lower() != "none":
            from headpose.detectors import accepts_option

            # one setting for both networks; an explicit min_score also reaches the detector's
            # own threshold (YuNet's 0.6 would otherwise filter first)
            shared = {"threads": threads, "providers": providers, "score_threshold": min_score}
            for key, value in shared.items():
                if value is not None and accepts_option(detector, key):
                    options.setdefault(key, value)
        self.detector = resolve_detector(detector, options)
        self.min_score = DEFAULT_MIN_SCORE if min_score is None else min_score
        self.max_faces = max_faces
        self.smoothing = resolved_smoothing(smoothing)  # names a bad setting now
        # the model's own recommendation (its metadata), then the caller's changes
        self.video = VideoOptions.recommended(self.model.meta.extra, str(self.model.path)).merged(
            video
        )
        self.camera = Camera.make(camera)

    # ------------------------------------------------------------------ images
    def predict(self, image: ImageInput, boxes: Any = None) -> list[Face]:
        """Faces in ``image`` with their pose, best detector score first.

        ``image``: a file path, a numpy array — grey ``(H, W)`` / ``(H, W, 1)``, **BGR**
        ``(H, W, 3)`` or **BGRA** ``(H, W, 4)`` (OpenCV order), uint8 / uint16 / float (see
        :mod:`headpose.image_io`) — or a PIL image (**RGB**, converted).
        ``boxes``: optional face boxes ``(N, 4)`` ``(x1, y1, x2, y2)`` pixels; when given, the
        detector is not run and faces come back in the order of the boxes. Boxes are clipped to
        the image; a box with nothing left inside the image is skipped (no face for it).
        All faces go through the pose model in one batched call. An image too small to hold a
        face gives ``[]``.
        """
        img = load_image(image)
        h, w = img.shape[:2]
        landmarks: np.ndarray | None = None
        if boxes is not None:
            given = as_boxes(boxes)
            clipped, _ = clip_boxes(given, w, h)
            scores = np.ones(len(clipped))
        elif self.detector is None:
            raise InvalidInputError(
                "boxes: this Estimator has detector=None, so predict() needs boxes=(N, 4); "
                "use predict_crops() for images that are already face crops"
            )
        else:
            if min(h, w) < MIN_DETECT_SIDE:
                return []
            clipped, scores, landmarks = self._detect(img)
        return self._faces_in_image(img, clipped, scores, landmarks)

    def _faces_in_image(
        self,
        img: np.ndarray,
        boxes: np.ndarray,
        scores: np.ndarray,
        landmarks: np.ndarray | None,
    ) -> list[Face]:
        crops = [crop_face(img, b, self.model.meta.crop, self.model.input_size) for b in boxes]
        faces = self._faces(crops, boxes, scores, landmarks)
        h, w = img.shape[:2]
        return [self.with_camera(f, w, h) for f in faces]

    def with_camera(self, face: Face, width: int, height: int) -> Face:
        """``face`` with :attr:`Face.camera` computed from its angles and box in an image of
        ``width`` x ``height`` pixels (e.g. after smoothing changed the angles)."""
        pose = camera_pose(face.angles, face.box, width, height, self.camera)
        return replace(face, camera=pose)

    def _detect(self, img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        det = self.detector.detect(img)
        boxes = np.asarray(det.boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(det.scores, dtype=np.float64).reshape(-1)
        lms = None if det.landmarks is None else np.asarray(det.landmarks, dtype=np.float64)
        finite = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
        keep = np.flatnonzero(finite & (scores >= self.min_score))
        keep = keep[np.argsort(-scores[keep], kind="stable")]
        if self.max_faces is not None:
            keep = keep[: self.max_faces]
        h, w = img.shape[:2]
        clipped, kept = clip_boxes(boxes[keep], w, h)
        keep = keep[kept]
        return clipped, scores[keep], None if lms is None else lms[keep]

    def predict_crops(self, crops: Sequence[ImageInput] | np.ndarray) -> list[Face]:
        """Pose of images that are already face crops (each resized whole; no detector), batched
        in chunks of :data:`CROP_CHUNK`. ``crops``: a list of images (any form :meth:`predict`
        accepts) or an array ``(N, H, W, 3)`` BGR. Each face's box is the whole crop, its score
        1.0."""
        if isinstance(crops, np.ndarray) and crops.ndim != 4:
            raise InvalidInputError(
                f"crops: expected a list of images or an array (N, H, W, 3), got one array of "
                f"shape {crops.shape} (wrap a single crop in a list)"
            )
        if isinstance(crops, (str, os.PathLike)):
            raise InvalidInputError("crops: expected a list of images, got a single path")
        images = [load_image(c, f"crop {i}") for i, c in enumerate(crops)]
        boxes = np.array([[0.0, 0.0, c.shape[1], c.shape[0]] for c in images]).reshape(-1, 4)
        return self._faces(images, boxes, np.ones(len(images)), None)

    def _faces(
        self,
        crops: list[np.ndarray],
        boxes: np.ndarray,
        scores: np.ndarray,
        landmarks: np.ndarray | None,
    ) -> list[Face]:
        if not crops:
            return []
        parts = [
            self.model.predict_crops(crops[i : i + CROP_CHUNK])
            for i in range(0, len(crops), CROP_CHUNK)
        ]
        angles = np.concatenate([p[0] for p in parts])
        spread = np.concatenate([p[1] for p in parts])
        ypr = self.model.to_yaw_pitch_roll(angles)
        ypr_spread = self.model.to_yaw_pitch_roll(spread)
        calibrated = self.model.calibrate(spread)
        error = half = None
        if calibrated is not None:
            error, half = (self.model.to_yaw_pitch_roll(v) for v in calibrated)
        return [
            make_face(
                boxes[i],
                scores[i],
                ypr[i],
                ypr_spread[i],
                None if landmarks is None else landmarks[i],
                None if error is None else error[i],
                None if half is None else half[i],
            )
            for i in range(len(crops))
        ]

    # ------------------------------------------------------------------ video
    def tracker(self, **overrides: Any) -> Tracker:
        """A new :class:`~headpose.smoothing.Tracker` with this Estimator's smoothing settings
        (the filter's settings, ``iou_threshold`` and ``max_missing`` overridable)."""
        settings: dict[str, Any] = {**self.smoothing, **overrides}
        return Tracker(**settings)

    def video_tracker(
        self,
        fps: float = DEFAULT_FPS,
        video: VideoOptions | dict[str, Any] | bool | None = None,
        smooth: bool = True,
        **overrides: Any,
    ) -> VideoTracker:
        """A new :class:`~headpose.tracking.VideoTracker`: ``process(frame, t=None)`` gives the
        faces of each frame in turn (video mode, identities, smoothing). ``video``: changes to
        this Estimator's video settings; ``smooth=False``: raw angles; ``overrides`` as for
        :meth:`tracker`."""
        tracker = self.tracker(**{"freq": fps, **overrides})
        tracker.smooth = bool(smooth)
        return VideoTracker(self, self.video.merged(video), tracker, fps=fps)

    def track(
        self,
        frames: Iterable[ImageInput] | str | os.PathLike[str] | Any,
        fps: float | None = None,
        video: VideoOptions | dict[str, Any] | bool | None = None,
        smooth: bool = True,
        **overrides: Any,
    ) -> Iterator[list[Face]]:
        """The faces of each frame of a video (a generator), with ``track_id`` set.

        ``frames``: a video file path, an object with ``read() -> (ok, frame)`` such as a
        ``cv2.VideoCapture`` (read until it ends; one that is not open is an error), or an
        iterable of images. Frame ``i`` is at time ``i / fps`` seconds (``fps``: default the
        capture's own rate, else 30). Video mode (:mod:`headpose.tracking`) finds each face again
        in a small region around its last box and searches the whole frame every
        ``redetect_every`` frames or when a face is lost (``video``: changes to the Estimator's
        settings, ``False`` = whole frame every time). Faces keep their identity across frames by
        box overlap (IoU); each face's angles are smoothed with a One Euro filter unless
        ``smooth=False`` (``overrides`` as for :meth:`tracker`).
        """
        if fps is not None and not (fps > 0):
            raise InvalidInputError(f"fps: expected a number > 0, got {fps}")
        owned = None
        if isinstance(frames, (str, os.PathLike)):
            owned = frames = open_video(frames)
        try:  # errors in the settings or the source show here, not at the first frame
            rate = fps if fps is not None else capture_fps(frames) or DEFAULT_FPS
            stream = self.video_tracker(rate, video=video, smooth=smooth, **overrides)
            if callable(getattr(frames, "read", None)):
                check_open(frames)
                source: Iterator[Any] = iter_capture(frames)
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


def _run_stream(stream: VideoTracker, source: Iterator[Any], owned: Any) -> Iterator[list[Face]]:
    try:
        for frame in source:
            yield stream.process(frame)
    finally:
        if owned is not None:
            owned.release()
