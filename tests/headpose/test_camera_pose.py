"""Camera-aware pose with exact geometry: synthetic heads placed in front of a pinhole camera,
projected, and their camera-relative rotation and position recovered from crop angles and box."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from headpose import Estimator
from headpose.camera import (
    DEFAULT_FACE_SIZE,
    Camera,
    camera_pose,
    crop_angles,
    ray_rotation,
    unproject,
)
from headpose.errors import InvalidInputError
from headpose.rotation import euler_to_matrix, forward_vector

K = (900.0, 880.0, 610.0, 350.0)  # fx, fy, cx, cy: not square pixels, not centred
W, H = 1280, 720
CAM = Camera(fx=K[0], fy=K[1], cx=K[2], cy=K[3])


def project(point: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points ``(..., 3)`` to pixels ``(..., 2)``."""
    p = np.asarray(point, dtype=np.float64)
    return np.stack([K[0] * p[..., 0] / p[..., 2] + K[2], K[1] * p[..., 1] / p[..., 2] + K[3]], -1)


def box_at(centre: np.ndarray, side: float = 100.0) -> tuple[float, float, float, float]:
    return (centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2)


def test_default_camera_is_a_60_degree_horizontal_field_of_view() -> None:
    fx, fy, cx, cy = Camera().intrinsics(640, 480)
    assert fx == fy == pytest.approx(320 / math.tan(math.radians(30)))
    assert (cx, cy) == (320, 240)
    assert Camera.make(90).intrinsics(640, 480)[0] == pytest.approx(320)
    assert Camera.make([[500, 0, 300], [0, 510, 200], [0, 0, 1]]).intrinsics(1, 1) == (
        500,
        510,
        300,
        200,
    )
    camera = Camera(fx=1.0, fy=2.0, cx=3.0, cy=4.0)
    assert Camera.make(camera) is camera and camera.intrinsics(1, 1) == (1, 2, 3, 4)


def test_bad_cameras_are_clear_errors() -> None:
    with pytest.raises(InvalidInputError, match="all four"):
        Camera(fx=500)
    with pytest.raises(InvalidInputError, match="fov"):
        Camera(fov=0)
    with pytest.raises(InvalidInputError, match="fx"):
        Camera(fx=-1, fy=1, cx=0, cy=0)
    for bad in ("wide", {"fov": 50.0}, (500.0, 500.0, 320.0, 240.0)):
        with pytest.raises(InvalidInputError, match="camera: expected"):
            Camera.make(bad)  # type: ignore[arg-type]


def test_ray_rotation_is_the_untwisted_rotation_onto_the_ray() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        d = rng.normal(size=3)
        d[2] = abs(d[2]) + 0.2
        d /= np.linalg.norm(d)
        r = ray_rotation(d)
        assert np.allclose(r.T @ r, np.eye(3), atol=1e-12) and np.linalg.det(r) == pytest.approx(1)
        assert np.allclose(r @ [0, 0, 1], d, atol=1e-12)
        axis = np.cross([0, 0, 1], d)
        assert np.allclose(r @ axis, axis, atol=1e-12)  # rotates about z x d only: no twist
    assert np.allclose(ray_rotation(np.array([0, 0, 1.0])), np.eye(3))


def test_on_axis_face_keeps_its_crop_angles() -> None:
    centre = np.array([K[2], K[3]])
    pose = camera_pose([25.0, -10.0, 5.0], box_at(centre), W, H, CAM)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((25.0, -10.0, 5.0), abs=1e-9)
    assert np.allclose(pose.ray, [0, 0, 1])


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        # a face at the image's right looking at the camera is turned toward the image's left
        ((math.sin(math.radians(20)), 0.0, math.cos(math.radians(20))), (20.0, 0.0, 0.0)),
        ((-math.sin(math.radians(30)), 0.0, math.cos(math.radians(30))), (-30.0, 0.0, 0.0)),
        # below the centre (y down) looking at the camera: looking up
        ((0.0, math.sin(math.radians(15)), math.cos(math.radians(15))), (0.0, 15.0, 0.0)),
        ((0.0, -math.sin(math.radians(25)), math.cos(math.radians(25))), (0.0, -25.0, 0.0)),
    ],
)
def test_face_looking_into_the_camera_from_off_axis(
    direction: tuple[float, float, float], expected: tuple[float, float, float]
) -> None:
    position = 2.0 * np.array(direction)
    pose = camera_pose([0.0, 0.0, 0.0], box_at(project(position)), W, H, CAM)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx(expected, abs=1e-9)
    assert np.allclose(forward_vector(pose.matrix), -position / np.linalg.norm(position))


def test_face_parallel_to_the_axis_is_seen_turned_in_its_crop() -> None:
    angle = 25.0
    position = np.array([math.tan(math.radians(angle)), 0.0, 1.0])  # at the image's right
    ray = unproject(project(position), K)
    yaw, pitch, roll = crop_angles(np.eye(3), ray)
    # seen from the camera on its right side: in the crop it faces the image's right (yaw < 0)
    assert (yaw, pitch, roll) == pytest.approx((-angle, 0.0, 0.0), abs=1e-9)
    pose = camera_pose([yaw, pitch, roll], box_at(project(position)), W, H, CAM)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((0.0, 0.0, 0.0), abs=1e-9)


def test_random_heads_round_trip_through_their_projection() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        true = euler_to_matrix(*rng.uniform([-60, -40, -40], [60, 40, 40]))
        position = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.3, 0.3), rng.uniform(0.5, 3)])
        ray = unproject(project(position), K)
        assert np.allclose(ray, position / np.linalg.norm(position), atol=1e-12)
        seen = crop_angles(true, ray)
        pose = camera_pose(seen, box_at(project(position)), W, H, CAM)
        assert np.allclose(pose.matrix, true, atol=1e-9)


@pytest.mark.parametrize(
    "position", [(0.0, 0.0, 1.5), (0.3, -0.1, 1.2), (-0.5, 0.2, 2.5), (0.1, 0.25, 0.6)]
)
def test_position_from_the_projected_face_size(position: tuple[float, float, float]) -> None:
    """A face of DEFAULT_FACE_SIZE x DEFAULT_FACE_SIZE facing the camera at ``position``: its
    projected box gives the position (exactly on the axis, within 2% off it)."""
    p = np.array(position)
    d = p / np.linalg.norm(p)
    r = ray_rotation(d)
    half = DEFAULT_FACE_SIZE / 2
    corners = np.array([[sx * half, sy * half, 0.0] for sx in (-1, 1) for sy in (-1, 1)])
    pixels = project(corners @ r.T + p)
    box = (*pixels.min(0), *pixels.max(0))
    pose = camera_pose([0, 0, 0], box, W, H, CAM)
    err = np.linalg.norm(np.array(pose.position) - p) / np.linalg.norm(p)
    assert err < (1e-9 if position[:2] == (0.0, 0.0) else 0.02)


def test_estimator_faces_carry_the_camera_pose(tiny_model: Path, pose_photos: list[Path]) -> None:
    est = Estimator(tiny_model, detector=None, threads=1, camera=60)
    centred = [270.0, 190.0, 370.0, 290.0]  # centre (320, 240) of the 640x480 photo
    right = [520.0, 190.0, 620.0, 290.0]
    f_centre, f_right = est.predict(pose_photos[0], boxes=[centred, right])
    assert f_centre.camera is not None and f_right.camera is not None
    assert f_centre.camera.yaw == pytest.approx(f_centre.yaw, abs=1e-9)
    assert f_centre.camera.pitch == pytest.approx(f_centre.pitch, abs=1e-9)
    # a face right of the centre: its camera yaw is its crop yaw plus about the ray's angle
    ray_angle = math.degrees(math.atan((570 - 320) / Camera(60).intrinsics(640, 480)[0]))
    assert f_right.camera.yaw - f_right.yaw == pytest.approx(ray_angle, abs=2.0)
    assert f_right.camera.position[0] > 0 and f_right.camera.position[2] > 0
    d = f_right.to_dict()
    json.dumps(d, allow_nan=False)
    assert set(d["camera"]) == {"yaw", "pitch", "roll", "position", "matrix"}
    assert est.predict_crops([np.zeros((64, 64, 3), np.uint8)])[0].camera is None


def test_camera_is_a_field_of_view_k_or_a_camera(tiny_model) -> None:
    from headpose.camera import Camera

    k = [[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]
    assert Estimator(tiny_model, detector=None, camera=50).camera == Camera(fov=50.0)
    assert Estimator(tiny_model, detector=None, camera=k).camera.fx == 500.0
    own = Camera(fov=70.0, face_size=0.12)
    assert Estimator(tiny_model, detector=None, camera=own).camera is own
    for bad in ({"fov": 50.0}, (500.0, 500.0, 320.0, 240.0)):  # forms of an earlier draft
        with pytest.raises(InvalidInputError, match="camera: expected"):
            Estimator(tiny_model, detector=None, camera=bad)
