"""Loss functions (pure, stateless) for pose and self-supervised heads.

* :func:`pose_loss` - per angle: cross-entropy over bins + ``alpha`` * RMSE between the softmax
  expectation and the true angle (HopeNet-style hybrid loss used by HMTL);
* :func:`regression_loss` - the RMSE-only ablation (paper eq. 3);
* :func:`ssl_loss` - self-supervised heads: per branch, cross-entropy summed over heads (image
  regions) and averaged over the batch; ``total = weight * sum over branches``.

Targets are degrees, shape ``(N, A)`` in the model's angle order; NaN marks a missing label and is
excluded. Angles with no labelled sample in the batch do not count in the reduction over angles; a
batch with no label at all yields a zero loss that is still connected to the graph (never NaN).
Every loss is computed in float32 with autocast switched off (logits may come from an fp16/bf16
forward pass), and without device->host copies (no data-dependent shapes).

``reduction`` says how the per-angle terms combine: ``"mean"`` (the default) averages them;
``"sum"`` adds them, as the paper's loss does (CE + alpha * RMSE summed over yaw, pitch and roll).
With three angles ``"sum"`` makes the pose loss 3x larger, so a fixed SSL weight counts 3x less.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from headpose.metadata import Bins
from headpose.training.bins import (
    IGNORE_INDEX,
    angle_to_bin,
    bin_centres,
    full_precision,
)

DEFAULT_ANGLES = ("yaw", "pitch", "roll")
_RMSE_EPS = 1e-8  # keeps the gradient of sqrt finite when the error is exactly zero


def _angle_names(num_angles: int, angles: Sequence[str] | None) -> tuple[str, ...]:
    if angles is None:
        if num_angles > len(DEFAULT_ANGLES):
            raise ValueError(f"angles: pass names for {num_angles} angles")
        return DEFAULT_ANGLES[:num_angles]
    if len(angles) != num_angles:
        raise ValueError(f"angles: expected {num_angles} names, got {list(angles)}")
    return tuple(angles)


def _check_pose_inputs(logits: Tensor, target_deg: Tensor, bins: Bins) -> None:
    if logits.dim() != 3:
        raise ValueError(f"logits: expected shape (N, A, B), got {tuple(logits.shape)}")
    if logits.shape[-1] != bins.count:
        raise ValueError(
            f"logits: last dimension must be the bin count {bins.count}, got {tuple(logits.shape)}"
        )
    if target_deg.shape != logits.shape[:2]:
        raise ValueError(
            f"target_deg: expected shape {tuple(logits.shape[:2])} (N, A), got {tuple(target_deg.shape)}"
        )


def _per_angle_terms(
    logits: Tensor,
    target_deg: Tensor,
    bins: Bins,
    weight: Tensor | None = None,
    sigma_deg: Tensor | None = None,
) -> list[tuple[Tensor, Tensor, Tensor]]:
    """For each angle: (ce, rmse, has_label), float32 scalars; ce and rmse are 0 without labels.

    ``weight`` ``(N, A)``: per-sample, per-angle weights of the means (None: all 1).
    ``sigma_deg`` ``(N, A)``: the cross-entropy is against a Gaussian over the bin centres
    (mean ``target_deg``, this standard deviation, renormalised over the bins) instead of the
    target's bin. Masked weighted means over the batch instead of boolean gathers: no value
    leaves the device and no shape depends on the data, so a step never waits for the GPU here.
    """
    with full_precision(logits.device.type):
        logits = logits.float()
        target = target_deg.to(device=logits.device, dtype=torch.float32)
        labelled = ~torch.isnan(target)  # (N, A)
        if weight is None:
            w = labelled.float()
        else:
            if weight.shape != target.shape:
                raise ValueError(
                    f"weight: expected shape {tuple(target.shape)} (N, A), got {tuple(weight.shape)}"
                )
            weight = weight.to(device=logits.device, dtype=torch.float32)
            w = torch.where(labelled, weight, torch.zeros_like(weight))
        has = labelled.any(dim=0).float()  # (A,)
        denom = w.sum(dim=0).clamp_min(1e-12)
        centres = bin_centres(bins, device=logits.device)
        if sigma_deg is None:
            labels = angle_to_bin(target, bins)  # IGNORE_INDEX where the label is missing
            ce = F.cross_entropy(
                logits.transpose(1, 2), labels, ignore_index=IGNORE_INDEX, reduction="none"
            )  # (N, A), 0 where missing
        else:
            mean = torch.where(labelled, target, torch.zeros_like(target)).unsqueeze(-1)
            sigma = sigma_deg.to(device=logits.device, dtype=torch.float32).clamp_min(1e-3)
            z = (centres - mean) / sigma.unsqueeze(-1)
            soft = torch.softmax(-0.5 * z * z, dim=-1)  # (N, A, B)
            ce = -(soft * torch.log_softmax(logits, dim=-1)).sum(dim=-1)
            ce = torch.where(labelled, ce, torch.zeros_like(ce))
        expected = torch.softmax(logits, dim=-1) @ centres  # (N, A)
        error = torch.where(labelled, expected - target, torch.zeros_like(expected))
        ce_a = (ce * w).sum(dim=0) / denom
        mse = (w * error * error).sum(dim=0) / denom
        rmse_a = torch.sqrt(mse + _RMSE_EPS) * has  # exactly 0 (gradient 0) without labels
    return [(ce_a[a], rmse_a[a], has[a]) for a in range(logits.shape[1])]


REDUCTIONS = ("mean", "sum")


def _reduce(values: list[Tensor], has: list[Tensor], reduction: str) -> Tensor:
    """Mean (or sum) of ``values`` over the angles with labels (0, still in the graph, when none)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {list(REDUCTIONS)}, got {reduction!r}")
    weights = torch.stack(has)
    total = (torch.stack(values) * weights).sum()
    return total if reduction == "sum" else total / weights.sum().clamp_min(1.0)


def _hybrid(
    terms: list[tuple[Tensor, Tensor, Tensor]], alpha: float, reduction: str
) -> dict[str, Tensor]:
    """``{"ce", "rmse", "total"}`` of per-angle terms: reduced over the angles with labels,
    ``total = ce + alpha * rmse``."""
    has = [t[2] for t in terms]
    ce = _reduce([t[0] for t in terms], has, reduction)
    rmse = _reduce([t[1] for t in terms], has, reduction)
    return {"ce": ce, "rmse": rmse, "total": ce + alpha * rmse}


def pose_loss(
    logits: Tensor,
    target_deg: Tensor,
    bins: Bins,
    alpha: float = 2.0,
    angles: Sequence[str] | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> dict[str, Tensor]:
    """Hybrid classification + regression loss.

    Args:
        logits: ``(N, A, B)`` bin logits.
        target_deg: ``(N, A)`` true angles in degrees, NaN = missing.
        bins: the bin specification of the heads.
        alpha: weight of the RMSE term (degrees are not rescaled).
        angles: names for the per-angle keys; default ``("yaw", "pitch", "roll")[:A]``.
        weight: ``(N, A)`` per-sample, per-angle weights (e.g. pseudo-label confidence); the
            cross-entropy and the squared error are weighted means. None: plain means.
        reduction: ``"mean"`` or ``"sum"`` over the angles (see the module docstring).

    Returns:
        ``{"ce", "rmse", "total", "ce_<angle>", "rmse_<angle>", "total_<angle>"}``, scalars. ``ce``
        and ``rmse`` are averaged (or summed) over the angles that have labels in the batch;
        ``total = ce + alpha * rmse``.
    """
    _check_pose_inputs(logits, target_deg, bins)
    names = _angle_names(logits.shape[1], angles)
    terms = _per_angle_terms(logits, target_deg, bins, weight)
    out = _hybrid(terms, alpha, reduction)
    for name, (ce_a, rmse_a, _) in zip(names, terms, strict=True):
        out[f"ce_{name}"] = ce_a
        out[f"rmse_{name}"] = rmse_a
        out[f"total_{name}"] = ce_a + alpha * rmse_a
    return out


def regression_loss(
    logits: Tensor,
    target_deg: Tensor,
    bins: Bins,
    angles: Sequence[str] | None = None,
    reduction: str = "mean",
) -> dict[str, Tensor]:
    """RMSE-only ablation (paper eq. 3): RMSE between softmax expectation and true angle.

    Same inputs as :func:`pose_loss` (eq. 3 sums the angles' RMSE: ``reduction="sum"``). Returns ``{"rmse", "total", "ce", "rmse_<angle>"}`` with
    ``total = rmse``; ``ce`` is reported detached for logging only (not optimised).
    """
    _check_pose_inputs(logits, target_deg, bins)
    names = _angle_names(logits.shape[1], angles)
    terms = _per_angle_terms(logits, target_deg, bins)
    has = [t[2] for t in terms]
    rmse = _reduce([t[1] for t in terms], has, reduction)
    out: dict[str, Tensor] = {
        "rmse": rmse,
        "total": rmse,
        "ce": _reduce([t[0] for t in terms], has, reduction).detach(),
    }
    for name, (_, rmse_a, _) in zip(names, terms, strict=True):
        out[f"rmse_{name}"] = rmse_a
    return out


def spread_weight(spread: Any, spread_ref: float) -> Any:
    """Loss weight of a teacher's answer from its spread (degrees; a tensor or an array):
    ``1 / (1 + (spread / spread_ref)^2)``, 1 at spread 0, 1/2 at ``spread_ref``."""
    return 1.0 / (1.0 + (spread / spread_ref) ** 2)


IGNORE = -100  # SSL label of a sample that was not transformed (no SSL target)


def ssl_loss(
    logits: Mapping[str, Tensor], labels: Mapping[str, Tensor], weight: float = 50.0
) -> dict[str, Tensor]:
    """Self-supervised loss over branches.

    Args:
        logits: branch name -> ``(N, H, C)`` logits (H heads = image regions, C classes).
        labels: branch name -> ``(N, H)`` int64 class per head; same keys as ``logits``; a
            sample whose labels are all ``IGNORE`` (-100) has no SSL target (``ssl.share`` < 1)
            and does not count.
        weight: multiplier of the summed branch losses.

    Returns:
        ``{<branch>: CE summed over heads and averaged over the labelled samples, "sum": sum over
        branches, "total": weight * sum}``.
    """
    if set(logits) != set(labels):
        raise ValueError(
            f"ssl_loss: branches of logits {sorted(logits)} and labels {sorted(labels)} differ"
        )
    if not logits:
        raise ValueError("ssl_loss: no SSL branch given")
    out: dict[str, Tensor] = {}
    parts = []
    for name in sorted(logits):
        lg, lb = logits[name], labels[name]
        if lg.dim() != 3 or lb.shape != lg.shape[:2]:
            raise ValueError(
                f"ssl_loss: branch '{name}': expected logits (N, H, C) and labels (N, H), got "
                f"{tuple(lg.shape)} and {tuple(lb.shape)}"
            )
        n, h, c = lg.shape
        with full_precision(lg.device.type):
            if n == 0:
                value = lg.float().sum() * 0.0
            else:
                lb = lb.to(lg.device).long()
                counted = (lb != IGNORE).any(dim=1).sum().clamp_min(1)  # no host read
                value = (
                    F.cross_entropy(
                        lg.float().reshape(n * h, c),
                        lb.reshape(n * h),
                        reduction="sum",
                        ignore_index=IGNORE,
                    )
                    / counted
                )
        out[name] = value
        parts.append(value)
    total = torch.stack(parts).sum()
    out["sum"] = total
    out["total"] = weight * total
    return out
