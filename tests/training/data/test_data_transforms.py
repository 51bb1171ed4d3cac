"""PoseTransform: runtime parity in eval, flip semantics, levels, reproducibility, SSL hook."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from headpose.metadata import ModelMetadata
from headpose.preprocess import resize_image, to_input_tensor
from headpose.training.data import (
    AugmentConfig,
    DataError,
    PoseTransform,
    SSLTaskTransform,
    build_transform,
)

ALL_ON = dict(
    zoom_p=1.0, contrast_p=1.0, blur_p=1.0, downscale_p=1.0, cutout_p=1.0,
    hue_p=1.0, brightness_p=1.0, noise_p=1.0, noise_std=(0.02, 0.05),
)  # fmt: skip


@pytest.fixture(scope="module")
def face_rgb(crop_rows) -> np.ndarray:
    return cv2.imread(str(crop_rows[0][0]))[:, :, ::-1].copy()  # 384x384 real crop


TARGET = np.array([30.0, -10.0, 5.0], dtype=np.float32)


@pytest.mark.parametrize("size", [64, 224])
def test_eval_equals_runtime_preprocessing(face_rgb, size):
    x, y = PoseTransform(size)(face_rgb, TARGET)
    meta = ModelMetadata(input_size=(size, size))
    bgr = np.ascontiguousarray(face_rgb[:, :, ::-1])
    ref = to_input_tensor([resize_image(bgr, (size, size))], meta)[0]
    assert x.dtype == torch.float32 and x.shape == (3, size, size)
    np.testing.assert_allclose(x.numpy(), ref, atol=1e-5)
    assert y.dtype == torch.float32 and y.tolist() == TARGET.tolist()


def test_level0_train_without_flip_equals_eval(face_rgb):
    ev, _ = PoseTransform(48)(face_rgb, TARGET)
    tr, _ = PoseTransform(48, train=True, level=0, flip_p=0.0)(face_rgb, TARGET)
    torch.testing.assert_close(tr, ev, rtol=0, atol=0)


def test_flip_mirrors_pixels_and_negates_yaw_roll(face_rgb):
    target = np.array([30.0, -10.0, np.nan], dtype=np.float32)
    x, y = PoseTransform(48, train=True, level=0, flip_p=1.0)(face_rgb, target)
    ev, _ = PoseTransform(48)(face_rgb, target)
    torch.testing.assert_close(x, torch.flip(ev, dims=[2]), rtol=0, atol=0)
    assert y[0].item() == -30.0 and y[1].item() == -10.0 and torch.isnan(y[2])
    _, y2 = PoseTransform(48, train=True, flip_p=1.0)(face_rgb, TARGET)
    assert y2.tolist() == [-30.0, -10.0, -5.0]


def test_flip_probability_is_respected(face_rgb):
    t = PoseTransform(16, train=True, flip_p=0.5)
    torch.manual_seed(0)
    yaws = [t(face_rgb, TARGET)[1][0].item() for _ in range(40)]
    assert 8 <= sum(v < 0 for v in yaws) <= 32


@pytest.mark.parametrize("level", [0, 1, 2])
def test_levels_shape_dtype_finite(face_rgb, level):
    torch.manual_seed(level)
    x, y = PoseTransform(40, train=True, level=level)(face_rgb, TARGET)
    assert x.shape == (3, 40, 40) and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert y.shape == (3,)


def test_everything_on_changes_pixels_but_not_pitch(face_rgb):
    t = build_transform(40, train=True, level=2, flip_p=0.0, **ALL_ON)
    torch.manual_seed(1)
    x, y = t(face_rgb, TARGET)
    ev, _ = PoseTransform(40)(face_rgb, TARGET)
    assert (x - ev).abs().mean() > 0.05
    assert y.tolist() == TARGET.tolist()
    # cutout erases a box to the mean colour: exact zeros in all channels
    assert ((x == 0).all(dim=0)).sum() >= 1


def test_zoom_is_a_central_crop(face_rgb):
    aug = AugmentConfig(zoom_p=1.0, zoom_range=(0.5, 0.5))
    x, _ = PoseTransform(32, train=True, flip_p=0.0, aug=aug)(face_rgb, TARGET)
    centre = face_rgb[96:288, 96:288]
    ref, _ = PoseTransform(32)(np.ascontiguousarray(centre), TARGET)
    torch.testing.assert_close(x, ref, rtol=0, atol=0)


def test_reproducible_with_manual_seed_and_generator(face_rgb):
    t = PoseTransform(32, train=True, level=2)
    torch.manual_seed(7)
    a = [t(face_rgb, TARGET)[0] for _ in range(3)]
    torch.manual_seed(7)
    b = [t(face_rgb, TARGET)[0] for _ in range(3)]
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, rtol=0, atol=0)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(
        t(face_rgb, TARGET, generator=g1)[0], t(face_rgb, TARGET, generator=g2)[0]
    )


def test_ssl_task_applied_after_augmentation(face_rgb):
    def rotate_task(image: torch.Tensor, generator: torch.Generator):
        k = int(torch.randint(0, 4, (), generator=generator))
        return torch.rot90(image, k, dims=(1, 2)), {"rotation": torch.tensor([k])}

    t = SSLTaskTransform(PoseTransform(32), rotate_task)
    torch.manual_seed(0)
    x, y, labels = t(face_rgb, TARGET)
    base, _ = PoseTransform(32)(face_rgb, TARGET)
    torch.testing.assert_close(x, torch.rot90(base, int(labels["rotation"]), dims=(1, 2)))
    assert y.tolist() == TARGET.tolist()


def test_bad_inputs():
    with pytest.raises(DataError, match="expected an RGB uint8"):
        PoseTransform(32)(np.zeros((8, 8), np.uint8), TARGET)
    with pytest.raises(DataError, match="level: expected 0, 1 or 2"):
        PoseTransform(32, level=3)
    with pytest.raises(DataError, match="unknown"):
        build_transform(32, level=1, zoom=0.5)
    with pytest.raises(DataError, match="blur_p"):
        AugmentConfig(blur_p=2.0)
