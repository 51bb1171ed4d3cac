"""The one path from an image to :class:`~headpose.face.Face` results: detect, crop, pose.

:class:`FacePipeline` holds the pose model, the face detector and their settings. Both
:class:`~headpose.estimator.Estimator` (photos) and :class:`~headpose.tracking.VideoTracker`
(video mode, which chooses *where* to detect) call it, so a face in a video frame goes through
exactly the crop, batching, calibration and camera pose of a face in a photo.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from headpose.camera import Camera, camera_pose
from headpose.face import Face, make_face
from headpose.image_io import clip_boxes
from headpose.pose_model import PoseModel

# Long lists of crops go through the pose model in chunks of this many: large batches thrash the
# CPU caches (shipped model, one thread: 7.5 ms/crop in chunks of 8 vs 12.5 in one call of 256;
# bench/speed.py measures it).
CROP_CHUNK = 8

#: Detections: boxes ``(N, 4)`` ``(x1, y1, x2, y2)`` pixels, scores ``(N,)``, landmarks
#: ``(N, 5, 2)`` pixels or ``None``.
Found = tuple[np.ndarray, np.ndarray, np.ndarray | None]


@dataclass
class FacePipeline:
    """Detector + crop + pose model. ``detector``: ``None`` or an object with
    ``detect(image_bgr) -> Detections``; ``min_score``: detections below it are dropped;
    ``max_faces``: at most this many, best scores first (``None``: all); ``camera``: for
    :attr:`Face.camera`."""

    model: PoseModel
    detector: Any
    min_score: float
    max_faces: int | None
    camera: Camera

    def detect(self, img: np.ndarray) -> Found:
        """The detector's faces in ``img`` (BGR uint8): finite, at least ``min_score``, best
        first, at most ``max_faces``, clipped to the image (empty boxes dropped)."""
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

    def faces_in_image(self, img: np.ndarray, found: Found) -> list[Face]:
        """The faces of ``found`` (boxes inside ``img``): cropped by the model's crop rule (a
        pooled model: each member's), posed in batches of :data:`CROP_CHUNK`, with
        :attr:`Face.camera`."""
        boxes, scores, landmarks = found
        parts = [
            self.model.predict_boxes(img, boxes[i : i + CROP_CHUNK])
            for i in range(0, len(boxes), CROP_CHUNK)
        ]
        faces = self.faces(parts, boxes, scores, landmarks)
        h, w = img.shape[:2]
        return [self.with_camera(f, w, h) for f in faces]

    def with_camera(self, face: Face, width: int, height: int) -> Face:
        """``face`` with :attr:`Face.camera` computed from its angles and box in an image of
        ``width`` x ``height`` pixels (e.g. after smoothing changed the angles)."""
        return replace(face, camera=camera_pose(face.angles, face.box, width, height, self.camera))

    def pose(
        self,
        crops: list[np.ndarray],
        boxes: np.ndarray,
        scores: np.ndarray,
        landmarks: np.ndarray | None,
    ) -> list[Face]:
        """Faces of BGR face ``crops`` (in chunks of :data:`CROP_CHUNK`), each with its ``box``
        and ``score`` in the image it came from; no :attr:`Face.camera`."""
        parts = [
            self.model.predict_crops(crops[i : i + CROP_CHUNK])
            for i in range(0, len(crops), CROP_CHUNK)
        ]
        return self.faces(parts, boxes, scores, landmarks)

    def faces(
        self,
        parts: list[tuple[np.ndarray, np.ndarray]],
        boxes: np.ndarray,
        scores: np.ndarray,
        landmarks: np.ndarray | None,
    ) -> list[Face]:
        """Faces from the model's ``(angles, spread)`` chunks, one row per box."""
        if not parts:
            return []
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
            for i in range(len(angles))
        ]
