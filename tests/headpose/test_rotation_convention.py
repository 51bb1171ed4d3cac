"""(yaw, pitch, roll) <-> rotation matrix: round trip, orthonormality, signs of the convention."""

from __future__ import annotations

import numpy as np
import pytest

from headpose.errors import InvalidInputError
from headpose.rotation import euler_to_matrix, forward_vector, matrix_to_euler, mirror_signs


def test_round_trip_on_random_angles() -> None:
    rng = np.random.default_rng(0)
    for yaw, pitch, roll in rng.uniform([-89, -179, -179], [89, 179, 179], size=(200, 3)):
        back = matrix_to_euler(euler_to_matrix(yaw, pitch, roll))
        assert np.allclose(back, (yaw, pitch, roll), atol=1e-7)


def test_matrices_are_proper_rotations() -> None:
    rng = np.random.default_rng(1)
    angles = rng.uniform(-180, 180, size=(50, 3))
    mats = euler_to_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
    assert mats.shape == (50, 3, 3)
    eye = np.broadcast_to(np.eye(3), mats.shape)
    assert np.allclose(mats @ np.swapaxes(mats, 1, 2), eye, atol=1e-12)
    assert np.allclose(np.linalg.det(mats), 1.0)


def test_zero_pose_is_identity_facing_the_camera() -> None:
    assert np.allclose(euler_to_matrix(0, 0, 0), np.eye(3))
    assert np.allclose(forward_vector(np.eye(3)), [0, 0, -1])  # toward the camera


def test_sign_conventions() -> None:
    # yaw > 0: the face turns toward the image's left (x < 0 in camera coords, x to the right)
    assert forward_vector(euler_to_matrix(30, 0, 0))[0] < -0.4
    assert forward_vector(euler_to_matrix(-30, 0, 0))[0] > 0.4
    # pitch > 0: looking up (y < 0, y points down)
    assert forward_vector(euler_to_matrix(0, 30, 0))[1] < -0.4
    # roll > 0: clockwise on screen: the head's x axis goes down (y > 0) on the right
    x_axis = euler_to_matrix(0, 0, 30)[:, 0]
    assert x_axis[0] > 0 and x_axis[1] > 0.4


def test_matches_hopenet_style_axis_projection() -> None:
    """Image-plane axis directions written out from the convention (x right, y down): the
    drawn forward axis for yaw 40, pitch 20 goes left and up."""
    yaw, pitch, roll = np.radians([40.0, 20.0, 10.0])
    m = euler_to_matrix(40, 20, 10)
    y_ = -yaw  # HopeNet negates yaw before drawing
    expected_x = [
        np.cos(y_) * np.cos(roll),
        np.cos(pitch) * np.sin(roll) + np.cos(roll) * np.sin(pitch) * np.sin(y_),
    ]
    expected_z = [np.sin(y_), -np.cos(y_) * np.sin(pitch)]
    assert np.allclose(m[:2, 0], expected_x)
    assert np.allclose(-m[:2, 2], expected_z)


def test_gimbal_lock_gives_an_equivalent_matrix() -> None:
    m = euler_to_matrix(90, 25, 10)
    yaw, pitch, roll = matrix_to_euler(m)
    assert yaw == pytest.approx(90)
    assert roll == 0.0
    assert np.allclose(euler_to_matrix(yaw, pitch, roll), m, atol=1e-9)


def test_bad_matrix_shape() -> None:
    with pytest.raises(InvalidInputError, match=r"expected shape \(3, 3\), got \(2, 2\)"):
        matrix_to_euler(np.eye(2))


def test_mirror_signs_follow_from_mirroring_the_camera_x_axis() -> None:
    # a left-right mirror image flips camera x: the head's rotation becomes S R S
    flip = np.diag([-1.0, 1.0, 1.0])
    signs = np.array(mirror_signs())
    rng = np.random.default_rng(2)
    for yaw, pitch, roll in rng.uniform([-80, -80, -80], [80, 80, 80], size=(50, 3)):
        mirrored = matrix_to_euler(flip @ euler_to_matrix(yaw, pitch, roll) @ flip)
        assert np.allclose(mirrored, signs * (yaw, pitch, roll), atol=1e-7)
    assert mirror_signs(("pitch", "roll")) == (1.0, -1.0)
