"""Pose metrics: mean absolute error per angle with missing (NaN) labels masked out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from headpose.rotation import euler_to_matrix

#: bands of true |yaw| in degrees (lower bound included) that accuracy is broken down by
YAW_BANDS = ((0.0, 30.0), (30.0, 60.0), (60.0, 75.0), (75.0, 99.0))


def mae_per_angle(pred: np.ndarray, target: np.ndarray, angles: Sequence[str]) -> dict[str, float]:
    """MAE in degrees per angle, their mean and the number of samples.

    ``pred`` and ``target`` are ``(N, A)`` in the order of ``angles``; NaN targets are skipped.
    Returns ``{"n", <angle>..., "mean"}``; an angle without labels is NaN and left out of the mean.
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), len(angles))
    target = np.asarray(target, dtype=np.float64).reshape(len(target), len(angles))
    out: dict[str, float] = {"n": int(len(target))}
    errors = np.abs(pred - target)
    for i, name in enumerate(angles):
        known = ~np.isnan(target[:, i])
        out[name] = float(errors[known, i].mean()) if known.any() else float("nan")
    values = [out[a] for a in angles if not np.isnan(out[a])]
    out["mean"] = float(np.mean(values)) if values else float("nan")
    return out


def geodesic_error(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per row, the angle in degrees of the rotation between the predicted and the true head
    pose (``(N, 3)`` [yaw, pitch, roll] each; NaN where any angle of either is missing). Unlike
    Euler MAE it does not blow up near |yaw| 90, where pitch and roll are ill-conditioned."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 3)
    target = np.asarray(target, dtype=np.float64).reshape(-1, 3)
    out = np.full(len(target), np.nan)
    for i, (p, t) in enumerate(zip(pred, target, strict=True)):
        if np.isfinite(p).all() and np.isfinite(t).all():
            rel = euler_to_matrix(*p).T @ euler_to_matrix(*t)
            out[i] = np.degrees(np.arccos(np.clip((np.trace(rel) - 1.0) / 2.0, -1.0, 1.0)))
    return out


def mae_by_yaw_band(
    pred: np.ndarray, target: np.ndarray, angles: Sequence[str]
) -> dict[str, dict[str, float]]:
    """:func:`mae_per_angle` of the rows in each band of true ``|yaw|`` (:data:`YAW_BANDS`),
    keyed ``"0-30"`` etc.; empty bands and rows without a yaw label are left out."""
    target = np.asarray(target, dtype=np.float64).reshape(len(target), len(angles))
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), len(angles))
    true_yaw = target[:, list(angles).index("yaw")]
    return {
        band: mae_per_angle(pred[sel], target[sel], angles) for band, sel in yaw_bands(true_yaw)
    }


def yaw_bands(true_yaw: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, mask)`` per non-empty band of :data:`YAW_BANDS` (name ``"0-30"`` etc.; mask
    ``(N,)`` over the rows whose true ``|yaw|`` in degrees lies in it; NaN yaw in none)."""
    abs_yaw = np.abs(np.asarray(true_yaw, dtype=np.float64))
    for lo, hi in YAW_BANDS:
        sel = (abs_yaw >= lo) & (abs_yaw < hi)
        if sel.any():
            yield f"{lo:g}-{hi:g}", sel


def geodesic_by_yaw_band(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean :func:`geodesic_error` in degrees of ``(N, 3)`` [yaw, pitch, roll] rows: ``"all"``
    and per band of true |yaw| (:func:`yaw_bands`); rows missing an angle are left out."""
    err = geodesic_error(pred, target)
    known = np.isfinite(err)
    out = {"all": float(err[known].mean()) if known.any() else float("nan")}
    true_yaw = np.asarray(target, dtype=np.float64).reshape(-1, 3)[:, 0]
    for band, sel in yaw_bands(true_yaw):
        if (sel & known).any():
            out[band] = float(err[sel & known].mean())
    return out


def training_mean_baseline(
    train_target: np.ndarray, val_target: np.ndarray, angles: Sequence[str]
) -> dict[str, float]:
    """MAE of always predicting the per-angle mean of the training labels (a floor to beat)."""
    mean = np.nanmean(np.asarray(train_target, dtype=np.float64), axis=0)
    pred = np.broadcast_to(mean, np.asarray(val_target).shape)
    return mae_per_angle(pred, val_target, angles)
