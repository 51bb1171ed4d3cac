"""MediaPipe Face Mesh (468 3-D landmarks) in onnxruntime, for face profiling.

The model (``training/assets/face_landmark.onnx``, converted from MediaPipe's
``face_landmark.tflite`` by ``tools/convert_face_landmark.py``, Apache-2.0) sees a 192 x 192 RGB
crop scaled to [0, 1] and gives 468 points (x, y, z) in pixels of that crop (z relative to the
face, same scale as x, larger = farther from the camera) and a face-flag logit. :class:`FaceMesh`
crops the face upright (turned so that the eyes are level, as MediaPipe does), runs the model
twice (detector box, then the box of the first points) and maps the points back to the image:
x, y in image pixels, z in image pixels about the points' mean depth, i.e. camera coordinates
(x right, y down, z forward) under weak perspective.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from headpose.runtime import create_session

from .errors import DataError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MODEL_FILE = ASSETS / "face_landmark.onnx"
MESH_FILE = ASSETS / "canonical_face_model.obj"
INPUT_SIZE = 192
NUM_POINTS = 468
#: outer corners of the eyes (subject's right = image left, subject's left), MediaPipe indices
RIGHT_EYE, LEFT_EYE = 33, 263
#: crop side over the side of the face box (MediaPipe's rect scale for the landmark model)
CROP_SCALE = 1.5


@dataclass(frozen=True)
class MeshFit:
    """468 points ``(468, 3)`` float64 in image pixels (camera axes), and the face-flag
    probability in [0, 1]."""

    points: np.ndarray
    score: float


@lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """Triangles ``(898, 3)`` int64 (0-based point indices) of the canonical face mesh, wound so
    that a triangle facing the camera is clockwise on screen (positive cross product in image
    coordinates, y down)."""
    faces = []
    for line in MESH_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("f "):
            faces.append([int(part.split("/")[0]) - 1 for part in line.split()[1:4]])
    # the file winds front faces counter-clockwise on screen: reverse to clockwise
    tri = np.asarray(faces, dtype=np.int64)[:, ::-1].copy()
    if tri.shape != (898, 3) or tri.min() < 0 or tri.max() >= NUM_POINTS:
        raise DataError(f"{MESH_FILE}: expected 898 triangles over 468 points, got {tri.shape}")
    return tri


def rotated_crop(
    centre: tuple[float, float], side: float, angle: float, size: int = INPUT_SIZE
) -> np.ndarray:
    """Affine ``(2, 3)`` from image pixels to a ``size`` x ``size`` crop of a square of ``side``
    pixels centred at ``centre`` and turned by ``angle`` radians (the crop's x axis along
    ``(cos angle, sin angle)`` in the image)."""
    c, s = np.cos(angle), np.sin(angle)
    k = size / side
    rot = np.array([[c, s], [-s, c]]) * k  # image offsets -> crop offsets
    shift = size / 2.0 - rot @ np.asarray(centre, dtype=np.float64)
    return np.hstack([rot, shift[:, None]])


class FaceMesh:
    """``FaceMesh()(image_bgr, box)`` -> :class:`MeshFit`; ``threads``: onnxruntime intra-op
    threads."""

    def __init__(self, model: str | Path = MODEL_FILE, threads: int = 1) -> None:
        path = Path(model)
        if not path.is_file():
            raise DataError(f"{path}: face landmark model not found")
        self.session = create_session(str(path), providers="cpu", threads=threads)
        self.input_name = self.session.get_inputs()[0].name

    def run(self, crop_rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """Points ``(468, 3)`` in crop pixels and face probability of one RGB uint8 crop
        ``(192, 192, 3)``."""
        if crop_rgb.shape != (INPUT_SIZE, INPUT_SIZE, 3):
            raise DataError(f"face mesh crop: expected (192, 192, 3), got {crop_rgb.shape}")
        x = crop_rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        points, flag = self.session.run(None, {self.input_name: x})
        score = float(1.0 / (1.0 + np.exp(-float(np.ravel(flag)[0]))))
        return np.asarray(points, dtype=np.float64).reshape(NUM_POINTS, 3), score

    def fit_crop(self, image_bgr: np.ndarray, affine: np.ndarray) -> MeshFit:
        """Run the model on the crop ``affine`` (image -> crop) and map the points back."""
        crop = cv2.warpAffine(
            image_bgr,
            affine,
            (INPUT_SIZE, INPUT_SIZE),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        pts, score = self.run(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        inv = cv2.invertAffineTransform(affine)
        xy = pts[:, :2] @ inv[:, :2].T + inv[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(inv[:, :2]))))
        z = (pts[:, 2] - pts[:, 2].mean()) * scale
        return MeshFit(np.column_stack([xy, z]), score)

    def __call__(self, image_bgr: np.ndarray, box: np.ndarray | tuple[float, ...]) -> MeshFit:
        """Fit the mesh to the face in ``box`` ``(x1, y1, x2, y2)`` pixels of ``image_bgr``:
        an upright crop of the box, then a crop from the first points (level eyes)."""
        x1, y1, x2, y2 = (float(v) for v in box)
        centre = ((x1 + x2) / 2.0, (y1 + y2) / 2.0)
        fit = self.fit_crop(image_bgr, rotated_crop(centre, CROP_SCALE * max(x2 - x1, y2 - y1), 0))
        return self.refit(image_bgr, fit.points)

    def refit(self, image_bgr: np.ndarray, points: np.ndarray) -> MeshFit:
        """Fit again on the crop that ``points`` ``(468, 2+)`` frame: their box, eyes level."""
        eye = points[LEFT_EYE, :2] - points[RIGHT_EYE, :2]
        angle = float(np.arctan2(eye[1], eye[0]))
        c, s = np.cos(angle), np.sin(angle)
        local = (points[:, :2] - points[:, :2].mean(axis=0)) @ np.array([[c, -s], [s, c]])
        lo, hi = local.min(axis=0), local.max(axis=0)
        mid = (lo + hi) / 2.0
        centre = points[:, :2].mean(axis=0) + np.array([[c, -s], [s, c]]) @ mid
        side = CROP_SCALE * float(max(hi - lo))
        return self.fit_crop(image_bgr, rotated_crop(tuple(centre), side, angle))
