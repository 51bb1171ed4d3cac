"""Draw head poses on an image: pose axes, a 3D cube, the face box and the angles.

Axes in HopeNet's style, from the head frame of :mod:`headpose.rotation`: red = head x axis
(toward the image's right when frontal), green = head y axis (down when frontal), blue = the
direction the face points. Drawing is an orthographic projection centred on the face box. The
input image is never modified.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from headpose.image_io import ImageInput, load_image

RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)  # BGR
BOX_COLOUR = (0, 220, 255)
CUBE_BACK, CUBE_FRONT = (200, 200, 200), (180, 105, 255)


def axis_endpoints(matrix: np.ndarray, centre: Sequence[float], length: float) -> np.ndarray:
    """Image points ``(3, 2)`` where the red, green and blue axes of length ``length`` pixels
    drawn from ``centre`` end (x axis, y axis, forward direction)."""
    m = np.asarray(matrix, dtype=np.float64)
    dirs = np.stack([m[:2, 0], m[:2, 1], -m[:2, 2]])  # image-plane components
    return np.asarray(centre, dtype=np.float64)[None, :] + length * dirs


def cube_points(matrix: np.ndarray, centre: Sequence[float], size: float) -> np.ndarray:
    """Image points ``(8, 2)`` of a cube of side ``size`` pixels around the head centre, rotated
    with the head. Points 0-3 are the face side (toward where the face points), 4-7 the back."""
    half = size / 2.0
    corners = np.array(
        [
            [x, y, z]
            for z in (-half, half)
            for x, y in ((-half, -half), (half, -half), (half, half), (-half, half))
        ],
        dtype=np.float64,
    )  # head frame: z = -half is the face side (the face points along -z)
    rotated: np.ndarray = corners @ np.asarray(matrix, dtype=np.float64).T
    points: np.ndarray = np.asarray(centre, dtype=np.float64)[None, :] + rotated[:, :2]
    return points


def _pt(p: np.ndarray | Sequence[float]) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def draw(
    image: ImageInput,
    faces: Sequence[Any],
    axes: bool = True,
    cube: bool = False,
    box: bool = True,
    text: bool = True,
    thickness: int | None = None,
) -> np.ndarray:
    """Annotated BGR uint8 copy of ``image`` (any input :func:`headpose.image_io.load_image`
    takes) with each :class:`~headpose.estimator.Face` in ``faces`` drawn. ``image`` itself is
    never modified."""
    canvas = np.array(load_image(image), copy=True)
    scale = max(canvas.shape[:2]) / 640.0
    line = thickness if thickness is not None else max(1, int(round(2 * scale)))
    for face in faces:
        x1, y1, x2, y2 = (float(v) for v in face.box)
        centre = ((x1 + x2) / 2.0, (y1 + y2) / 2.0)
        side = max(x2 - x1, y2 - y1)
        matrix = np.asarray(face.matrix, dtype=np.float64)
        if box:
            cv2.rectangle(canvas, _pt((x1, y1)), _pt((x2, y2)), BOX_COLOUR, line, cv2.LINE_AA)
        if cube:
            pts = [_pt(p) for p in cube_points(matrix, centre, side * 0.8)]
            for i in range(4):
                cv2.line(canvas, pts[4 + i], pts[4 + (i + 1) % 4], CUBE_BACK, line, cv2.LINE_AA)
                cv2.line(canvas, pts[i], pts[4 + i], CUBE_BACK, line, cv2.LINE_AA)
            for i in range(4):
                cv2.line(canvas, pts[i], pts[(i + 1) % 4], CUBE_FRONT, line, cv2.LINE_AA)
        if axes:
            ends = axis_endpoints(matrix, centre, side * 0.6)
            for end, colour in zip(ends, (RED, GREEN, BLUE), strict=True):
                cv2.line(canvas, _pt(centre), _pt(end), colour, line + 1, cv2.LINE_AA)
        if text:
            _draw_angles(canvas, face, (x1, y1), scale, line)
    return canvas


def _fmt(value: float) -> str:
    return "  n/a" if not math.isfinite(value) else f"{value:+5.1f}"


def _draw_angles(
    canvas: np.ndarray, face: Any, corner: tuple[float, float], scale: float, line: int
) -> None:
    label = f"yaw {_fmt(face.yaw)} pitch {_fmt(face.pitch)} roll {_fmt(face.roll)}"
    font_scale = 0.5 * max(scale, 0.5)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    x = int(max(0, min(corner[0], canvas.shape[1] - tw)))
    y = int(corner[1]) - base - 2
    if y - th < 0:  # no room above the box: write inside it
        y = int(corner[1]) + th + base
    cv2.rectangle(canvas, (x, y - th - 2), (x + tw, y + base), (0, 0, 0), -1)
    cv2.putText(
        canvas, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1, cv2.LINE_AA
    )


def draw_fps(canvas: np.ndarray, fps: float) -> np.ndarray:
    """Write ``fps`` in the top-left corner of ``canvas`` (in place) and return it."""
    cv2.putText(
        canvas,
        f"{fps:5.1f} FPS",
        (10, 25),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.7,
        (0, 255, 0),
        2,
        cv2.LINE_AA,
    )
    return canvas
