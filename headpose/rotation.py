"""(yaw, pitch, roll) in degrees <-> 3x3 rotation matrix, in the project's convention.

Camera coordinates: **x to the image's right, y down, z forward into the scene** (right-handed,
OpenCV's camera frame). The head frame has the same axes when the face looks straight at the
camera (all angles 0): x toward the image's right, y down, z from the face into the back of the
head. So the direction the face points (out of the nose) is ``-R[:, 2]``.

``R = Rx(-pitch) @ Ry(yaw) @ Rz(roll)`` maps head coordinates to camera coordinates, with the
right-handed elementary rotations::

    Rx(a) = [[1, 0, 0], [0, cos a, -sin a], [0, sin a, cos a]]
    Ry(a) = [[cos a, 0, sin a], [0, 1, 0], [-sin a, 0, cos a]]
    Rz(a) = [[cos a, -sin a, 0], [sin a, cos a, 0], [0, 0, 1]]

This gives the signs of the angle convention (300W-LP/AFLW2000, HopeNet, FSA-Net):

* yaw > 0: the forward direction ``-R[:, 2]`` has x < 0, the face turns toward the image's left;
* pitch > 0: forward has y < 0 (up on screen), looking up;
* roll > 0: the head's x axis ``R[:, 0]`` has y > 0 on the image's right: a clockwise tilt on
  screen.

The image-plane components ``R[0:2, 0]``, ``R[0:2, 1]`` and ``-R[0:2, 2]`` are exactly the red,
green and blue axes that HopeNet's ``draw_axis`` draws (it uses the mirror image ``S R S`` with
``S = diag(1, 1, -1)``, a left-handed frame with z out of the screen), so drawn axes point where
the face points.

Ranges returned by :func:`matrix_to_euler`: yaw (the middle rotation) in [-90, 90], pitch and roll
in (-180, 180]. A yaw beyond +-90 comes back as the equivalent triple with yaw in range. At
yaw = +-90 (gimbal lock) only a combination of pitch and roll is defined: roll is returned as 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from headpose.errors import InvalidInputError


def euler_to_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation matrix ``(3, 3)`` float64 (head -> camera) for angles in degrees.

    Arrays of equal shape ``S`` give matrices of shape ``S + (3, 3)``.
    """
    a = np.radians(-np.asarray(pitch, dtype=np.float64))
    b = np.radians(np.asarray(yaw, dtype=np.float64))
    g = np.radians(np.asarray(roll, dtype=np.float64))
    a, b, g = np.broadcast_arrays(a, b, g)
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    # Rx(a) @ Ry(b) @ Rz(g), expanded
    m = np.empty(a.shape + (3, 3), dtype=np.float64)
    m[..., 0, 0] = cb * cg
    m[..., 0, 1] = -cb * sg
    m[..., 0, 2] = sb
    m[..., 1, 0] = ca * sg + sa * sb * cg
    m[..., 1, 1] = ca * cg - sa * sb * sg
    m[..., 1, 2] = -sa * cb
    m[..., 2, 0] = sa * sg - ca * sb * cg
    m[..., 2, 1] = sa * cg + ca * sb * sg
    m[..., 2, 2] = ca * cb
    return m


def matrix_to_euler(matrix: np.ndarray) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` degrees of a rotation matrix ``(3, 3)``; inverse of
    :func:`euler_to_matrix` for yaw in (-90, 90)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (3, 3):
        raise InvalidInputError(f"matrix: expected shape (3, 3), got {m.shape}")
    sb = float(np.clip(m[0, 2], -1.0, 1.0))
    b = np.arcsin(sb)
    if abs(sb) < 1.0 - 1e-9:
        a = np.arctan2(-m[1, 2], m[2, 2])
        g = np.arctan2(-m[0, 1], m[0, 0])
    else:  # gimbal lock: only a + g (or a - g) is defined; put it all in a
        a = np.arctan2(m[2, 1], m[1, 1])
        g = 0.0
    yaw, pitch, roll = np.degrees(b), -np.degrees(a), np.degrees(g)
    return float(yaw), float(pitch) + 0.0, float(roll)


def forward_vector(matrix: np.ndarray) -> np.ndarray:
    """Unit vector ``(3,)`` in camera coordinates along which the face points (out of the nose)."""
    return -np.asarray(matrix, dtype=np.float64)[..., :, 2]


#: angles whose sign flips when the image is mirrored left-right (pitch keeps its sign)
MIRRORED_ANGLES: tuple[str, ...] = ("yaw", "roll")


def mirror_signs(angles: Sequence[str] = ("yaw", "pitch", "roll")) -> tuple[float, ...]:
    """Per angle of ``angles``, the factor (-1 or 1) that turns the pose seen in an image into
    the pose seen in its left-right mirror image."""
    return tuple(-1.0 if a in MIRRORED_ANGLES else 1.0 for a in angles)
