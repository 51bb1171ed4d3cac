"""Joint image + target transforms: runtime-identical eval preprocessing and augmentation levels.

``PoseTransform(image RGB uint8 (H, W, 3), target (3,)) -> (float32 tensor (3, S, S), float32
tensor (3,))``. The image is resized with :func:`headpose.preprocess.resize_image` (OpenCV, as the
runtime does) and normalised as ``(x / 255 - mean) / std`` (ImageNet), with the same arithmetic
as :func:`headpose.preprocess.to_input_tensor`, so eval numbers equal the runtime's.

Augmentation levels (paper §4.2), in the order applied when ``train=True``:

* level 0: none;
* level 1: random central zoom (crop the centre ``s`` x the image, ``s ~ zoom_range``; ``s > 1``
  zooms out with replicated borders) and contrast;
* level 2: level 1 + gaussian blur, reduced resolution (downscale to a fraction of ``S``, then
  back up), cutout (random erasing to the mean colour, i.e. 0 after normalisation);
* optional at any level: hue, brightness, gaussian noise (probabilities default to 0);
* optional in-plane rotation (``rotate_p``): the image turns by ``theta`` degrees clockwise on
  screen and the label is updated exactly, ``R' = Rz(theta) R`` in the runtime's convention
  (:mod:`headpose.rotation`); samples without all three angles are never rotated;
* horizontal flip with probability ``flip_p`` at any level: mirrors the pixels and negates yaw
  and roll (pitch unchanged; NaN stays NaN).

Randomness comes from ``torch`` (the global RNG, or the ``generator`` passed to ``__call__``), so
``torch.manual_seed`` reproduces a run and DataLoader workers get different streams.
An SSL task ``(image_tensor, generator) -> (image', labels)`` is applied after all of this by
:class:`SSLTaskTransform`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from headpose.metadata import ModelMetadata
from headpose.preprocess import resize_image
from headpose.rotation import euler_to_matrix, matrix_to_euler, mirror_signs

from .errors import DataError
from .image_io import cut_region

IMAGENET_MEAN = ModelMetadata.mean
IMAGENET_STD = ModelMetadata.std
YAW_ROLL_FLIP = np.array(mirror_signs(), dtype=np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each augmentation (all off by default = level 0)."""

    zoom_p: float = 0.0
    zoom_range: tuple[float, float] = (0.8, 1.0)  # central crop side / image side
    contrast_p: float = 0.0
    contrast_range: tuple[float, float] = (0.6, 1.4)  # factor; 1 = unchanged
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.3, 1.5)  # pixels of the output size S
    downscale_p: float = 0.0
    downscale_range: tuple[float, float] = (0.25, 0.75)  # intermediate side / S
    cutout_p: float = 0.0
    cutout_area: tuple[float, float] = (0.02, 0.2)  # erased area / image area
    cutout_ratio: tuple[float, float] = (0.3, 3.3)  # aspect ratio of the erased box
    hue_p: float = 0.0
    hue_range: tuple[float, float] = (-0.05, 0.05)  # fraction of a full hue turn
    brightness_p: float = 0.0
    brightness_range: tuple[float, float] = (0.7, 1.3)
    noise_p: float = 0.0
    noise_std: tuple[float, float] = (0.0, 0.05)  # in units of the [0, 1] pixel range
    rotate_p: float = 0.0
    rotate_range: tuple[float, float] = (-30.0, 30.0)  # in-plane, degrees clockwise on screen

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_p"):
                if not 0.0 <= float(value) <= 1.0:
                    raise DataError(
                        f"augmentation {f.name}: expected a probability in [0, 1], got {value}"
                    )
            else:
                lo, hi = (float(v) for v in value)
                if lo > hi:
                    raise DataError(
                        f"augmentation {f.name}: expected (low, high) with low <= high, got {value}"
                    )

    @classmethod
    def for_level(cls, level: int, **overrides: Any) -> AugmentConfig:
        """Defaults of augmentation ``level`` (0, 1, 2), with any field overridden."""
        if level not in (0, 1, 2):
            raise DataError(f"augmentation level: expected 0, 1 or 2, got {level!r}")
        base: dict[str, Any] = {}
        if level >= 1:
            base.update(zoom_p=1.0, contrast_p=0.5)
        if level >= 2:
            base.update(blur_p=0.3, downscale_p=0.3, cutout_p=0.5)
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise DataError(f"augmentation options: unknown {unknown}")
        base.update(overrides)
        return cls(**base)


def normalise(pixels: np.ndarray | torch.Tensor, mean: Sequence[float], std: Sequence[float]):
    """``(x / 255 - mean) / std`` of 0..255 pixels, channels last (numpy) or first (tensor),
    computed as ``(x - 255 mean) * 1 / (255 std)`` in float32 like ``to_input_tensor``."""
    mean255 = (np.asarray(mean, dtype=np.float64) * 255.0).astype(np.float32)
    inv = (1.0 / (255.0 * np.asarray(std, dtype=np.float32))).astype(np.float32)
    if isinstance(pixels, torch.Tensor):
        shape = (3, 1, 1)
        return (pixels.float() - torch.from_numpy(mean255).view(shape)) * torch.from_numpy(
            inv
        ).view(shape)
    return (pixels.astype(np.float32) - mean255) * inv


def _uniform(rng: tuple[float, float], generator: torch.Generator | None) -> float:
    lo, hi = rng
    return lo + (hi - lo) * float(torch.rand((), generator=generator))


def _chance(p: float, generator: torch.Generator | None) -> bool:
    return p > 0.0 and float(torch.rand((), generator=generator)) < p


class PoseTransform:
    """Image + target pipeline: ``(RGB uint8 HWC, target (3,)) -> (tensor (3,S,S), tensor (3,))``.

    ``train=False`` is the eval transform (resize + normalise, identical to the runtime);
    ``train=True`` adds the augmentation of ``level`` (or of an explicit ``aug``) and the flip.
    """

    def __init__(
        self,
        size: int | tuple[int, int] = 224,
        train: bool = False,
        level: int = 0,
        flip_p: float = 0.5,
        aug: AugmentConfig | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        h, w = (size, size) if isinstance(size, int) else size
        if h < 1 or w < 1:
            raise DataError(f"transform size: expected positive (h, w), got {size}")
        if not 0.0 <= flip_p <= 1.0:
            raise DataError(f"flip_p: expected a probability in [0, 1], got {flip_p}")
        self.size = (int(h), int(w))
        self.train = bool(train)
        self.level = level
        self.flip_p = float(flip_p)
        self.aug = aug if aug is not None else AugmentConfig.for_level(level)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)

    def __repr__(self) -> str:
        return (
            f"PoseTransform(size={self.size}, train={self.train}, level={self.level}, "
            f"flip_p={self.flip_p})"
        )

    def __call__(
        self, image: np.ndarray, target: np.ndarray, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        image = _check_image(image)
        target = np.array(target, dtype=np.float32).reshape(3)
        if not self.train:
            pixels = normalise(resize_image(image, self.size), self.mean, self.std)
            return torch.from_numpy(
                np.ascontiguousarray(pixels.transpose(2, 0, 1))
            ), torch.from_numpy(target)
        return self._augment(image, target, generator)

    def _augment(
        self, image: np.ndarray, target: np.ndarray, g: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        a, (h, w) = self.aug, self.size
        if a.rotate_p > 0.0 and not np.isnan(target).any() and _chance(a.rotate_p, g):
            image, target = rotate_in_plane(image, target, _uniform(a.rotate_range, g))
        if _chance(a.zoom_p, g):
            image = central_zoom(image, _uniform(a.zoom_range, g))
        image = resize_image(image, self.size)
        if _chance(self.flip_p, g):
            image = image[:, ::-1]
            target = target * YAW_ROLL_FLIP
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()
        if _chance(a.contrast_p, g):
            x = F.adjust_contrast(x, _uniform(a.contrast_range, g))
        if _chance(a.brightness_p, g):
            x = F.adjust_brightness(x, _uniform(a.brightness_range, g))
        if _chance(a.hue_p, g):
            x = F.adjust_hue(x, float(np.clip(_uniform(a.hue_range, g), -0.5, 0.5)))
        if _chance(a.blur_p, g):
            sigma = max(_uniform(a.blur_sigma, g), 1e-3)
            k = min(2 * math.ceil(3 * sigma) + 1, (min(h, w) // 2) * 2 - 1)
            if k >= 3:
                x = F.gaussian_blur(x, [k, k], [sigma, sigma])
        if _chance(a.downscale_p, g):
            f = _uniform(a.downscale_range, g)
            small = [max(1, round(h * f)), max(1, round(w * f))]
            x = F.resize(x, small, antialias=True)
            x = F.resize(x, [h, w], antialias=False)
        x = x.float()
        if _chance(a.noise_p, g):
            std = _uniform(a.noise_std, g) * 255.0
            x = (x + torch.randn(x.shape, generator=g) * std).clamp_(0.0, 255.0)
        x = normalise(x, self.mean, self.std)
        if _chance(a.cutout_p, g):
            x = _cutout(x, a, g)
        return x.contiguous(), torch.from_numpy(target.astype(np.float32))


def _check_image(image: np.ndarray) -> np.ndarray:
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] != 3
    ):
        got = (type(image).__name__, getattr(image, "dtype", None), getattr(image, "shape", None))
        raise DataError(f"transform input: expected an RGB uint8 (H, W, 3) numpy image, got {got}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise DataError(f"transform input: empty image of shape {image.shape}")
    return image


def rotate_in_plane(
    image: np.ndarray, target: np.ndarray, theta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate ``image`` by ``theta`` degrees clockwise on screen about its centre (edges
    replicated) and return the exactly updated ``[yaw, pitch, roll]`` target (degrees)."""
    h, w = image.shape[:2]
    # OpenCV's positive angle is counter-clockwise on screen
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), -theta, 1.0)
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    yaw, pitch, roll = (float(v) for v in target)
    r = rotation_about_view_axis(theta) @ euler_to_matrix(yaw, pitch, roll)
    return out, np.array(matrix_to_euler(r), dtype=np.float32)


def rotation_about_view_axis(theta: float) -> np.ndarray:
    """``Rz(theta)`` (3, 3): a clockwise on-screen turn in the camera frame (x right, y down)."""
    c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def central_zoom(image: np.ndarray, scale: float) -> np.ndarray:
    """The centre ``scale`` x (h, w) of ``image`` (``scale > 1`` pads with replicated edges)."""
    h, w = image.shape[:2]
    ch, cw = max(1.0, h * scale), max(1.0, w * scale)
    y1, x1 = (h - ch) / 2.0, (w - cw) / 2.0
    return cut_region(image, (round(x1), round(y1), round(x1 + cw), round(y1 + ch)), "replicate")


def _cutout(x: torch.Tensor, a: AugmentConfig, g: torch.Generator | None) -> torch.Tensor:
    _, h, w = x.shape
    area = _uniform(a.cutout_area, g) * h * w
    log_ratio = _uniform((math.log(a.cutout_ratio[0]), math.log(a.cutout_ratio[1])), g)
    ratio = math.exp(log_ratio)
    eh = int(round(math.sqrt(area * ratio)))
    ew = int(round(math.sqrt(area / ratio)))
    eh, ew = min(max(eh, 1), h), min(max(ew, 1), w)
    i = int(torch.randint(0, h - eh + 1, (), generator=g))
    j = int(torch.randint(0, w - ew + 1, (), generator=g))
    return F.erase(x, i, j, eh, ew, torch.zeros(1), inplace=False)


def build_transform(
    size: int | tuple[int, int] = 224,
    train: bool = False,
    level: int = 0,
    flip_p: float = 0.5,
    **aug: Any,
) -> PoseTransform:
    """``PoseTransform`` of ``level`` with augmentation fields overridden by ``aug``."""
    return PoseTransform(
        size, train=train, level=level, flip_p=flip_p, aug=AugmentConfig.for_level(level, **aug)
    )


SSLTask = Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, dict]]


class SSLTaskTransform:
    """``transform`` then an SSL ``task``: returns ``(image', target, ssl_labels)``.

    The task's generator is ``generator`` if given, else one seeded from the global torch RNG
    per sample (reproducible under ``torch.manual_seed``, distinct per DataLoader worker).
    """

    def __init__(
        self, transform: PoseTransform, task: SSLTask, generator: torch.Generator | None = None
    ) -> None:
        self.transform = transform
        self.task = task
        self.generator = generator

    def __call__(
        self, image: np.ndarray, target: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        x, y = self.transform(image, target, generator=self.generator)
        g = self.generator
        if g is None:
            g = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ())))
        x2, labels = self.task(x, g)
        return x2, y, labels
