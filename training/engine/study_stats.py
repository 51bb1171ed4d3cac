"""Statistics of the reproduction study: paired differences, three intervals and verdicts.

A comparison is a linear contrast of arms evaluated on the same (fold, seed) pair, e.g.
``MAE(sl) - MAE(hmtl)``. Its 95% intervals:

* **paired t**: the Student t-interval over the paired differences,
  ``mean +- t(0.975, n - 1) * sd / sqrt(n)`` (``sd``: sample standard deviation, ddof 1); it
  treats the ``n`` (fold, seed) pairs as independent, which they are not;
* **seed-clustered** (:func:`clustered_interval`): the differences averaged per seed, then the
  t-interval over those seed means (``G`` seeds, ``G - 1`` degrees of freedom): the seeds share
  one partition into folds, and a pre-training is shared by the folds of its seed;
* **corrected resampled t** (:func:`corrected_interval`, Nadeau & Bengio 2003; for repeated
  k-fold, Bouckaert & Frank 2004): ``mean +- t(0.975, n - 1) * sd * sqrt(1/n + n_test/n_train)``:
  the folds' training sets overlap (75% for 5 folds), which the plain t-interval ignores.

:func:`agreed_verdict`: a verdict only when all three intervals give it, else *inconclusive*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

Pair = tuple[int, int]  # (fold, seed)

VERDICTS = ("reproduced", "refuted", "inconclusive", "differs", "no difference detected")


@dataclass(frozen=True)
class Interval:
    """Mean of the paired differences (degrees), its t-interval and the number of pairs."""

    mean: float
    low: float
    high: float
    n: int
    sd: float


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Two-sided Student t-interval of the mean of ``values``; NaN bounds when ``n < 2``."""
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, math.nan)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, math.nan)
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, sd)


def clustered_interval(diffs: Mapping[Pair, float], level: float = 0.95) -> Interval:
    """The t-interval over the per-seed means of the paired differences ``{(fold, seed):
    difference}`` (each seed one cluster; ``n`` is the number of seeds, NaN bounds with fewer
    than 2)."""
    by_seed: dict[int, list[float]] = {}
    for (_fold, seed), value in sorted(diffs.items()):
        by_seed.setdefault(seed, []).append(float(value))
    return t_interval([sum(v) / len(v) for v in by_seed.values()], level)


def corrected_interval(
    values: Sequence[float], test_train_ratio: float, level: float = 0.95
) -> Interval:
    """The corrected resampled t-interval of the mean of ``values`` (paired differences over
    ``n`` train/test resamples, e.g. folds x seeds): variance ``(1/n + test_train_ratio) *
    sd^2`` instead of ``sd^2 / n``, ``n - 1`` degrees of freedom; ``test_train_ratio`` is
    ``n_test / n_train`` of one resample (0 gives :func:`t_interval`). ``sd`` stays the sample
    standard deviation; NaN bounds when ``n < 2``."""
    if test_train_ratio < 0:
        raise ValueError(f"test_train_ratio must be >= 0, got {test_train_ratio}")
    plain = t_interval(values, level)
    if plain.n < 2:
        return plain
    se = plain.sd * math.sqrt(1.0 / plain.n + test_train_ratio)
    half = float(stats.t.ppf(0.5 + level / 2, plain.n - 1)) * se
    return Interval(plain.mean, plain.mean - half, plain.mean + half, plain.n, plain.sd)


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Interval:
    """Two-sided Welch t-interval of ``mean(a) - mean(b)`` for two unpaired samples (e.g. the
    seeds of two recipes); ``sd`` is the difference's standard error. NaN bounds when either
    sample has fewer than 2 values."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = int(min(x.size, y.size))
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, math.nan)
    diff = float(x.mean() - y.mean())
    if n < 2:
        return Interval(diff, math.nan, math.nan, n, math.nan)
    vx, vy = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
    se = math.sqrt(vx + vy)
    if se == 0.0:
        return Interval(diff, diff, diff, n, 0.0)
    dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    return Interval(diff, diff - half, diff + half, n, se)


def paired_differences(
    scores: Mapping[str, Mapping[Pair, float]], plus: Sequence[str], minus: Sequence[str]
) -> dict[Pair, float]:
    """``sum(scores[a][p] for a in plus) - sum(scores[b][p] for b in minus)`` for every pair
    ``p`` (fold, seed) that every arm involved has a finite score for."""
    arms = [*plus, *minus]
    common: set[Pair] | None = None
    for arm in arms:
        pairs = {p for p, v in scores.get(arm, {}).items() if math.isfinite(v)}
        common = pairs if common is None else common & pairs
    out: dict[Pair, float] = {}
    for p in sorted(common or ()):
        out[p] = sum(scores[a][p] for a in plus) - sum(scores[b][p] for b in minus)
    return out


def verdict(interval: Interval, expect: int) -> str:
    """``expect`` +1 / -1: the paper's sign of the difference -> reproduced when the whole
    interval has that sign, refuted when it has the other, else inconclusive. ``expect`` 0 (no
    claim, e.g. O1): ``differs`` when the interval excludes 0, else ``no difference detected``."""
    if interval.n < 2 or math.isnan(interval.low):
        return "inconclusive"
    if expect == 0:
        return "differs" if interval.low > 0 or interval.high < 0 else "no difference detected"
    low, high = (interval.low, interval.high) if expect > 0 else (-interval.high, -interval.low)
    if low > 0:
        return "reproduced"
    if high < 0:
        return "refuted"
    return "inconclusive"


def agreed_verdict(intervals: Sequence[Interval], expect: int) -> str:
    """The :func:`verdict` all ``intervals`` (e.g. paired t, seed-clustered, corrected) give,
    or ``inconclusive`` when they differ."""
    found = {verdict(i, expect) for i in intervals}
    return found.pop() if len(found) == 1 else "inconclusive"


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof 1; NaN for one value) and count of finite values."""
    x = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan, 0
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else math.nan, int(x.size)
