"""Angle bins as torch functions: centres, angle -> bin index, softmax expectation and spread.

The bin specification is :class:`headpose.metadata.Bins` (the runtime contract): ``count`` bins of
``width`` degrees over ``[low, low + count * width)``; bin ``i`` has centre
``low + width * (i + 0.5)``. Angles are in degrees everywhere.

Decoding (softmax, expectation, spread) always runs in float32 with autocast switched off: under
``torch.autocast`` the ``probs @ centres`` product would otherwise run in fp16/bf16 (up to
0.05 deg / 0.35 deg of error over +-99 deg), and that value feeds the RMSE loss and the MAE.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor

from headpose.metadata import Bins

#: Bin index given to missing (NaN) angles; ``torch.nn.functional.cross_entropy`` skips it.
IGNORE_INDEX = -100


def bin_centres(
    bins: Bins, device: torch.device | str | None = None, dtype=torch.float32
) -> Tensor:
    """Centres of the bins in degrees, shape ``(bins.count,)``."""
    index = torch.arange(bins.count, device=device, dtype=torch.float64)
    return (bins.low + bins.width * (index + 0.5)).to(dtype)


def angle_to_bin(angles_deg: Tensor, bins: Bins) -> Tensor:
    """Bin index (int64, same shape) of each angle in degrees.

    Angles outside ``[low, high)`` are clamped to the first / last bin; NaN (missing) angles get
    :data:`IGNORE_INDEX` so that they stay masked out of a cross-entropy.
    """
    angles = angles_deg.to(torch.float64)
    missing = torch.isnan(angles)
    index = torch.floor((angles - bins.low) / bins.width)
    index = torch.nan_to_num(index, nan=0.0).clamp(0, bins.count - 1).to(torch.int64)
    return torch.where(missing, torch.full_like(index, IGNORE_INDEX), index)


def _check_logits(logits: Tensor, bins: Bins) -> None:
    if logits.shape[-1] != bins.count:
        raise ValueError(
            f"logits: last dimension must be the bin count {bins.count}, got shape {tuple(logits.shape)}"
        )


def full_precision(device_type: str) -> AbstractContextManager[object]:
    """A context with autocast off for ``device_type`` (no-op where autocast does not exist)."""
    if device_type not in ("cpu", "cuda", "xpu", "mps"):
        return nullcontext()
    return torch.autocast(device_type=device_type, enabled=False)


def softmax_expectation(logits: Tensor, bins: Bins) -> Tensor:
    """Expected angle in degrees under ``softmax(logits)`` over the last dim: ``(..., B) -> (...)``.

    float32, also inside ``torch.autocast``."""
    _check_logits(logits, bins)
    with full_precision(logits.device.type):
        probs = torch.softmax(logits.float(), dim=-1)
        return probs @ bin_centres(bins, device=logits.device)


def moments_from_centres(logits: Tensor, centres: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation (degrees) of ``softmax(logits)`` over ``centres`` ``(B,)``.

    ``(..., B) -> (...), (...)``, float32 (autocast is switched off here). No data-dependent
    control flow, so it traces to ONNX.
    """
    with full_precision(logits.device.type):
        probs = torch.softmax(logits.float(), dim=-1)
        centres = centres.float()
        mean = probs @ centres
        return mean, spread_from_probs(probs, centres, mean)


def spread_from_probs(probs: Tensor, centres: Tensor, mean: Tensor) -> Tensor:
    """``sqrt(sum_i p_i (c_i - mean)^2)`` in the dtype of the inputs: ``(..., B) -> (...)``.

    Computed on offsets scaled by ``max |c_i|`` (values within [-2, 2]) and scaled back, so a
    reduced-precision engine built from the graph (TensorRT fp16) never squares numbers near
    fp16's limit: ``(99 + 99)^2 = 39204`` for +-99 deg bins (fp16 max 65504), and +-180 deg bins
    would overflow to inf.
    """
    scale = centres.abs().max().clamp_min(1.0)
    z = (centres - mean.unsqueeze(-1)) / scale
    return torch.sqrt((probs * z * z).sum(dim=-1).clamp_min(0.0)) * scale


def expectation_and_spread(logits: Tensor, bins: Bins) -> tuple[Tensor, Tensor]:
    """Expected angle and its spread (standard deviation), both in degrees, ``(..., B) -> (...)``.

    The spread is ``sqrt(sum_i p_i (c_i - mean)^2)``.
    """
    _check_logits(logits, bins)
    return moments_from_centres(logits, bin_centres(bins, device=logits.device))


def softmax_spread(logits: Tensor, bins: Bins) -> Tensor:
    """Standard deviation in degrees of the bin distribution: ``(..., B) -> (...)``."""
    return expectation_and_spread(logits, bins)[1]
