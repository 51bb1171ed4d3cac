"""Camera-aware pose: head rotation relative to the camera's axis and an approximate head position.

The pose model sees a face crop, so its angles describe the head as seen along the ray from the
camera to the face, not along the camera's optical axis: a face near the image's right edge that
looks straight at the camera has crop angles 0 but is turned toward the image centre. Given the
camera (:class:`Camera`: a field of view or pinhole intrinsics), :func:`camera_pose` rotates the
crop-relative rotation by the viewing ray,

    ``R_camera = R_ray @ R_crop``,

where ``R_ray`` is the smallest rotation taking the optical axis ``(0, 0, 1)`` to the unit ray
through the box centre (no twist about the ray), and estimates the head's distance from the box's
angular size and a typical face size. Axes as in :mod:`headpose.rotation`: x to the image's right,
y down, z forward (metres for the position).

The default camera (:data:`DEFAULT_FOV`) is a horizontal field of view of 60 degrees with the
principal point at the image centre and square pixels, typical of webcams and phone front
cameras; give your camera's own field of view or intrinsics for exact directions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from headpose.errors import InvalidInputError
from headpose.rotation import euler_to_matrix, matrix_to_euler

DEFAULT_FOV = 60.0  # degrees, horizontal
# Geometric mean of the width and height, in metres, of a face detector's box on an adult face
# (YuNet's box: about 0.14 m wide and 0.19 m tall, chin to hairline, cheek to cheek). Distances
# scale with it: a child's face reads as farther away.
DEFAULT_FACE_SIZE = 0.16


@dataclass(frozen=True)
class Camera:
    """A pinhole camera. Either ``fov``, the horizontal field of view in degrees (principal
    point at the image centre, square pixels), or all four intrinsics ``fx``, ``fy`` (focal
    lengths) and ``cx``, ``cy`` (principal point) in pixels of the images given to the
    estimator. ``face_size``: metres, see :data:`DEFAULT_FACE_SIZE`.
    ``Camera()`` is the documented default (60 degrees horizontal).
    """

    fov: float | None = None
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    face_size: float = DEFAULT_FACE_SIZE

    def __post_init__(self) -> None:
        given = [v is not None for v in (self.fx, self.fy, self.cx, self.cy)]
        if any(given) and not all(given):
            raise InvalidInputError(
                "camera: give all four intrinsics fx, fy, cx, cy (pixels) or a field of view"
            )
        if all(given) and self.fov is not None:
            raise InvalidInputError("camera: give a field of view or intrinsics, not both")
        if all(given):
            for name in ("fx", "fy", "cx", "cy"):
                value = float(getattr(self, name))
                positive = name in ("fx", "fy")
                if not math.isfinite(value) or (positive and value <= 0):
                    expected = "pixels > 0" if positive else "finite pixels"
                    raise InvalidInputError(f"camera {name}: expected {expected}, got {value}")
        elif self.fov is not None and not (0.0 < float(self.fov) < 180.0):
            raise InvalidInputError(
                f"camera fov: expected a horizontal field of view in (0, 180) degrees, "
                f"got {self.fov}"
            )
        if not (math.isfinite(self.face_size) and self.face_size > 0):
            raise InvalidInputError(f"camera face_size: expected metres > 0, got {self.face_size}")

    @staticmethod
    def make(
        value: Camera | Sequence[Sequence[float]] | np.ndarray | float | None,
    ) -> Camera:
        """A camera from ``None`` (the default), a :class:`Camera`, a horizontal field of view
        in degrees or a 3x3 intrinsic matrix ``K`` in pixels."""
        if value is None:
            return Camera()
        if isinstance(value, Camera):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Camera(fov=float(value))
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.shape == (3, 3):
            return Camera(fx=arr[0, 0], fy=arr[1, 1], cx=arr[0, 2], cy=arr[1, 2])
        raise InvalidInputError(
            "camera: expected None, a Camera, a horizontal field of view in degrees or a 3x3 "
            f"matrix K, got {value!r}"
        )

    def intrinsics(self, width: int, height: int) -> tuple[float, float, float, float]:
        """``(fx, fy, cx, cy)`` in pixels for an image of ``width`` x ``height``."""
        if self.fx is not None:
            return float(self.fx), float(self.fy), float(self.cx), float(self.cy)  # type: ignore[arg-type]
        fov = DEFAULT_FOV if self.fov is None else float(self.fov)
        f = (width / 2.0) / math.tan(math.radians(fov) / 2.0)
        return f, f, width / 2.0, height / 2.0


@dataclass(frozen=True)
class CameraPose:
    """A face's pose relative to the camera.

    ``yaw``, ``pitch``, ``roll``: degrees relative to the camera's optical axis (the project's
    convention, see :mod:`headpose.rotation`); ``matrix``: ``(3, 3)`` rotation head -> camera;
    ``position``: ``(x, y, z)`` metres of the face centre in camera coordinates (x right, y down,
    z forward; approximate: from the box's angular size and ``Camera.face_size``);
    ``ray``: ``(3,)`` unit vector from the camera through the box centre.
    """

    yaw: float
    pitch: float
    roll: float
    position: tuple[float, float, float]
    matrix: np.ndarray = field(repr=False, compare=False)
    ray: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN becomes ``None``)."""

        def num(v: Any) -> float | None:
            x = float(v)
            return x if math.isfinite(x) else None

        return {
            "yaw": num(self.yaw),
            "pitch": num(self.pitch),
            "roll": num(self.roll),
            "position": [num(v) for v in self.position],
            "matrix": [[num(v) for v in row] for row in np.asarray(self.matrix)],
        }


def unproject(points: np.ndarray, intrinsics: tuple[float, float, float, float]) -> np.ndarray:
    """Pixel points ``(..., 2)`` -> unit rays ``(..., 3)`` in camera coordinates."""
    fx, fy, cx, cy = intrinsics
    p = np.asarray(points, dtype=np.float64)
    rays = np.stack([(p[..., 0] - cx) / fx, (p[..., 1] - cy) / fy, np.ones(p.shape[:-1])], axis=-1)
    unit: np.ndarray = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    return unit


def ray_rotation(ray: np.ndarray) -> np.ndarray:
    """The smallest rotation ``(3, 3)`` taking the optical axis ``(0, 0, 1)`` to unit ``ray``
    (Rodrigues about ``z x ray``; identity on the axis)."""
    d = np.asarray(ray, dtype=np.float64)
    d = d / np.linalg.norm(d)
    axis = np.array([-d[1], d[0], 0.0])  # z x d
    s = float(np.linalg.norm(axis))
    c = float(d[2])
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / s
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    rotation: np.ndarray = np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)
    return rotation


def camera_pose(
    angles: Sequence[float] | np.ndarray,
    box: Sequence[float],
    width: int,
    height: int,
    camera: Camera,
) -> CameraPose:
    """Camera-relative pose of a face with crop-relative ``angles`` ``[yaw, pitch, roll]``
    (degrees; NaN counts as 0) and detector ``box`` ``(x1, y1, x2, y2)`` in an image of
    ``width`` x ``height`` pixels."""
    yaw, pitch, roll = (float(v) if math.isfinite(float(v)) else 0.0 for v in angles)
    k = camera.intrinsics(width, height)
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    ray = unproject(np.array([cx, cy]), k)
    r_ray = ray_rotation(ray)
    matrix = r_ray @ euler_to_matrix(yaw, pitch, roll)
    distance = face_distance(x2 - x1, y2 - y1, ray, r_ray, k)
    distance *= camera.face_size
    position = tuple(float(v) for v in distance * ray)
    cyaw, cpitch, croll = matrix_to_euler(matrix)
    return CameraPose(cyaw, cpitch, croll, position, matrix, ray)  # type: ignore[arg-type]


def face_distance(
    box_w: float,
    box_h: float,
    ray: np.ndarray,
    r_ray: np.ndarray,
    intrinsics: tuple[float, float, float, float],
) -> float:
    """Distance along ``ray``, in face sizes, of a square face facing the camera whose image has
    a ``box_w`` x ``box_h`` pixel bounding box: the projection's Jacobian at the ray maps the
    face's two sides (``r_ray``'s x and y axes, scaled by 1 / distance) to pixels, and their
    bounding box is matched to the box (exact to first order in face size / distance)."""
    fx, fy, _, _ = intrinsics
    dx, dy, dz = (float(v) for v in ray)
    jac = np.array([[fx / dz, 0.0, -fx * dx / dz**2], [0.0, fy / dz, -fy * dy / dz**2]])
    sides = jac @ r_ray[:, :2]  # pixels per face size at unit distance, one column per side
    extent = np.abs(sides).sum(axis=1)  # bounding box (w, h) at unit distance
    if box_w <= 0 or box_h <= 0:
        return math.inf
    return float(math.sqrt(extent[0] * extent[1] / (box_w * box_h)))


def crop_angles(matrix: np.ndarray, ray: np.ndarray) -> tuple[float, float, float]:
    """Inverse of :func:`camera_pose`'s rotation: the crop-relative ``(yaw, pitch, roll)`` of a
    head with camera-relative rotation ``matrix`` seen along unit ``ray``."""
    return matrix_to_euler(ray_rotation(ray).T @ np.asarray(matrix, dtype=np.float64))
