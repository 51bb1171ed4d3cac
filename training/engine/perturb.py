"""Slight random perturbations of a batch on its device, for stability training.

A nearby video frame differs from this one by a pixel of motion, a little zoom and sensor or
codec noise; :func:`perturb_batch` makes such a copy of every image of a training batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def perturb_batch(
    images: Tensor,
    shift: float,
    scale: float,
    noise: float,
    generator: torch.Generator | None = None,
    mirror: bool = False,
) -> Tensor:
    """``images`` ``(N, C, H, W)`` (normalised) each shifted by up to ``shift`` of its side in x
    and y, zoomed by a factor in ``1 +- scale`` about its centre (bilinear, border pixels repeated)
    and given Gaussian noise of standard deviation ``noise``, then mirrored left-right if
    ``mirror``; draws from ``generator`` (the global torch generator when None, which checkpoints
    save and restore)."""
    if images.ndim != 4:
        raise ValueError(f"images: expected (N, C, H, W), got shape {tuple(images.shape)}")
    n = images.shape[0]
    dev, dtype = images.device, images.dtype

    def uniform(size: tuple[int, ...]) -> Tensor:
        u = torch.rand(size, generator=generator, dtype=torch.float32)
        return (2.0 * u - 1.0).to(dev)

    zoom = 1.0 + scale * uniform((n,))
    move = 2.0 * shift * uniform((n, 2))  # affine_grid's coordinates span [-1, 1]: side = 2
    theta = torch.zeros(n, 2, 3, device=dev, dtype=torch.float32)
    theta[:, 0, 0] = 1.0 / zoom
    theta[:, 1, 1] = 1.0 / zoom
    theta[:, :, 2] = move
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(
        images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    if noise > 0:  # drawn where the batch is, unless a (CPU) generator is given
        where = dev if generator is None else torch.device("cpu")
        out = out + noise * torch.randn(out.shape, generator=generator, device=where).to(dev)
    if mirror:
        out = torch.flip(out, dims=[3])
    return out.to(dtype)
