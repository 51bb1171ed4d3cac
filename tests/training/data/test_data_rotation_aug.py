"""In-plane rotation augmentation: pixels turn clockwise on screen, labels follow exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from headpose.rotation import euler_to_matrix
from headpose.training.data.transforms import AugmentConfig, PoseTransform, rotate_in_plane


def test_rotation_of_a_frontal_face_adds_to_roll() -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    _, target = rotate_in_plane(image, np.array([0.0, 0.0, 5.0], np.float32), 20.0)
    np.testing.assert_allclose(target, [0.0, 0.0, 25.0], atol=1e-4)


def test_rotation_moves_pixels_clockwise_on_screen() -> None:
    image = np.zeros((65, 65, 3), np.uint8)
    image[32, 50] = 255  # a dot right of the centre
    out, _ = rotate_in_plane(image, np.zeros(3, np.float32), 90.0)
    ys, xs = np.nonzero(out[..., 0] > 100)
    # clockwise by 90 degrees on screen (y down): right of centre goes below the centre
    assert abs(xs.mean() - 32) < 1.5 and ys.mean() > 45


@pytest.mark.parametrize("pose", [(40.0, -20.0, 10.0), (-70.0, 15.0, -30.0)])
def test_label_is_the_composed_rotation(pose: tuple[float, float, float]) -> None:
    theta = -25.0
    _, target = rotate_in_plane(np.zeros((8, 8, 3), np.uint8), np.array(pose, np.float32), theta)
    c, s = np.cos(np.radians(theta)), np.sin(np.radians(theta))
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    np.testing.assert_allclose(euler_to_matrix(*target), rz @ euler_to_matrix(*pose), atol=1e-5)


def test_yaw_only_samples_are_never_rotated(crops_dir) -> None:
    image = cv2.imread(str(crops_dir / "images" / "image00002.jpg"))[:, :, ::-1].copy()
    aug = AugmentConfig(rotate_p=1.0, rotate_range=(30.0, 30.0))
    tf = PoseTransform(64, train=True, flip_p=0.0, aug=aug)
    plain = PoseTransform(64, train=False)
    target = np.array([10.0, np.nan, np.nan], np.float32)
    x, y = tf(image, target, generator=torch.Generator().manual_seed(0))
    x0, _ = plain(image, target)
    assert torch.allclose(x, x0) and y[0] == 10.0 and torch.isnan(y[1:]).all()
    x, y = tf(image, np.array([10.0, 0.0, 0.0], np.float32), generator=torch.Generator())
    assert not torch.allclose(x, x0) and abs(float(y[2]) - 30.0) < 2.0
