"""Loss functions (pure, stateless) for pose and self-supervised heads.

* :func:`pose_loss` - per angle: cross-entropy over bins + ``alpha`` * RMSE between the softmax
  expectation and the true angle (HopeNet-style hybrid loss used by HMTL);
* :func:`regression_loss` - the RMSE-only ablation (paper eq. 3);
* :func:`ssl_loss` - self-supervised heads: per branch, cross-entropy summed over heads (image
  regions) and averaged over the batch; ``total = weight * sum over branches``.

Targets are degrees, shape ``(N, A)`` in the model's angle order; NaN marks a missing label and is
excluded. Angles with no labelled sample in the batch do not count in the average over angles; a
batch with no label at all yields a zero loss that is still connected to the graph (never NaN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from headpose.metadata import Bins
from headpose.training.bins import angle_to_bin, bin_centres

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
    logits: Tensor, target_deg: Tensor, bins: Bins, weight: Tensor | None = None
) -> list[tuple[Tensor, Tensor, int]]:
    """For each angle: (ce, rmse, number of labelled samples); zero terms when none.

    ``weight`` ``(N, A)``: per-sample, per-angle weights of the means (None: all 1).
    """
    logits = logits.float()
    target = target_deg.to(device=logits.device, dtype=torch.float32)
    if weight is not None:
        if weight.shape != target.shape:
            raise ValueError(
                f"weight: expected shape {tuple(target.shape)} (N, A), got {tuple(weight.shape)}"
            )
        weight = weight.to(device=logits.device, dtype=torch.float32)
    centres = bin_centres(bins, device=logits.device)
    labels = angle_to_bin(target, bins)
    terms = []
    for a in range(logits.shape[1]):
        mask = ~torch.isnan(target[:, a])
        count = int(mask.sum())
        if count == 0:
            zero = logits[:, a].sum() * 0.0  # connected to the graph, gradient zero
            terms.append((zero, zero, 0))
            continue
        angle_logits = logits[:, a][mask]
        expected = torch.softmax(angle_logits, dim=-1) @ centres
        if weight is None:
            ce = F.cross_entropy(angle_logits, labels[:, a][mask])
            mse = ((expected - target[:, a][mask]) ** 2).mean()
        else:
            w = weight[:, a][mask]
            total_w = w.sum().clamp_min(1e-12)
            ce_each = F.cross_entropy(angle_logits, labels[:, a][mask], reduction="none")
            ce = (ce_each * w).sum() / total_w
            mse = (w * (expected - target[:, a][mask]) ** 2).sum() / total_w
        terms.append((ce, torch.sqrt(mse + _RMSE_EPS), count))
    return terms


def _average(values: list[Tensor], counts: list[int], like: Tensor) -> Tensor:
    used = [v for v, c in zip(values, counts, strict=True) if c > 0]
    if not used:
        return like.float().sum() * 0.0
    return torch.stack(used).mean()


def pose_loss(
    logits: Tensor,
    target_deg: Tensor,
    bins: Bins,
    alpha: float = 2.0,
    angles: Sequence[str] | None = None,
    weight: Tensor | None = None,
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

    Returns:
        ``{"ce", "rmse", "total", "ce_<angle>", "rmse_<angle>", "total_<angle>"}``, scalars. ``ce``
        and ``rmse`` are averaged over the angles that have labels in the batch;
        ``total = ce + alpha * rmse``.
    """
    _check_pose_inputs(logits, target_deg, bins)
    names = _angle_names(logits.shape[1], angles)
    terms = _per_angle_terms(logits, target_deg, bins, weight)
    counts = [c for _, _, c in terms]
    out: dict[str, Tensor] = {}
    ce = _average([t[0] for t in terms], counts, logits)
    rmse = _average([t[1] for t in terms], counts, logits)
    out["ce"], out["rmse"], out["total"] = ce, rmse, ce + alpha * rmse
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
) -> dict[str, Tensor]:
    """RMSE-only ablation (paper eq. 3): RMSE between softmax expectation and true angle.

    Same inputs as :func:`pose_loss`. Returns ``{"rmse", "total", "ce", "rmse_<angle>"}`` with
    ``total = rmse``; ``ce`` is reported detached for logging only (not optimised).
    """
    _check_pose_inputs(logits, target_deg, bins)
    names = _angle_names(logits.shape[1], angles)
    terms = _per_angle_terms(logits, target_deg, bins)
    counts = [c for _, _, c in terms]
    rmse = _average([t[1] for t in terms], counts, logits)
    out: dict[str, Tensor] = {
        "rmse": rmse,
        "total": rmse,
        "ce": _average([t[0] for t in terms], counts, logits).detach(),
    }
    for name, (_, rmse_a, _) in zip(names, terms, strict=True):
        out[f"rmse_{name}"] = rmse_a
    return out


def ssl_loss(
    logits: Mapping[str, Tensor], labels: Mapping[str, Tensor], weight: float = 50.0
) -> dict[str, Tensor]:
    """Self-supervised loss over branches.

    Args:
        logits: branch name -> ``(N, H, C)`` logits (H heads = image regions, C classes).
        labels: branch name -> ``(N, H)`` int64 class per head; same keys as ``logits``.
        weight: multiplier of the summed branch losses.

    Returns:
        ``{<branch>: CE summed over heads and averaged over the batch, "sum": sum over
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
        if n == 0:
            value = lg.float().sum() * 0.0
        else:
            value = (
                F.cross_entropy(
                    lg.float().reshape(n * h, c),
                    lb.to(lg.device).long().reshape(n * h),
                    reduction="sum",
                )
                / n
            )
        out[name] = value
        parts.append(value)
    total = torch.stack(parts).sum()
    out["sum"] = total
    out["total"] = weight * total
    return out
