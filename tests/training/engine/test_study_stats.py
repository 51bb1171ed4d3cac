"""Study statistics: the three intervals against hand computations, pairing, verdicts."""

from __future__ import annotations

import math

import pytest

from headpose.training.engine.study_stats import (
    Interval,
    agreed_verdict,
    clustered_interval,
    corrected_interval,
    mean_std,
    paired_differences,
    t_interval,
    verdict,
    welch_interval,
)


def test_t_interval_matches_hand_computation() -> None:
    # values 1, 2, 3, 4: mean 2.5; sd = sqrt((2.25 + 0.25 + 0.25 + 2.25) / 3) = sqrt(5/3)
    # = 1.2909944; t(0.975, df 3) = 3.1824463 (tables); half = 3.1824463 * 1.2909944 / 2
    # = 4.1085202 / 2 = 2.0542601 -> [0.4457399, 4.5542601]
    ci = t_interval([1.0, 2.0, 3.0, 4.0])
    assert ci.n == 4
    assert ci.mean == pytest.approx(2.5)
    assert ci.sd == pytest.approx(1.2909944, abs=1e-6)
    assert ci.low == pytest.approx(0.4457399, abs=1e-6)
    assert ci.high == pytest.approx(4.5542601, abs=1e-6)


def test_t_interval_small_samples() -> None:
    assert t_interval([]).n == 0 and math.isnan(t_interval([]).mean)
    one = t_interval([0.7])
    assert one.mean == pytest.approx(0.7) and math.isnan(one.low) and math.isnan(one.high)
    # two values 0 and 2: mean 1, sd sqrt(2), t(0.975, 1) = 12.7062047 -> half 12.7062047
    two = t_interval([0.0, 2.0])
    assert two.low == pytest.approx(1 - 12.7062047, abs=1e-5)
    assert two.high == pytest.approx(1 + 12.7062047, abs=1e-5)


def test_paired_differences_use_only_common_pairs() -> None:
    scores = {
        "sl": {(0, 0): 10.0, (0, 1): 11.0, (1, 0): 12.0},
        "hmtl": {(0, 0): 9.0, (0, 1): 10.5, (1, 1): 7.0},  # (1, 0) missing, (1, 1) unpaired
        "nan": {(0, 0): float("nan"), (0, 1): 1.0},
    }
    assert paired_differences(scores, ("sl",), ("hmtl",)) == {(0, 0): 1.0, (0, 1): 0.5}
    assert paired_differences(scores, ("sl",), ("nan",)) == {(0, 1): 10.0}
    # a contrast of four arms: (a - b) - (c - d) per pair
    four = {k: {(0, 0): v} for k, v in {"a": 8.0, "b": 6.0, "c": 5.0, "d": 4.5}.items()}
    assert paired_differences(four, ("a", "d"), ("b", "c")) == {(0, 0): 1.5}
    assert paired_differences(scores, ("sl",), ("absent",)) == {}


@pytest.mark.parametrize(
    ("low", "high", "expect", "want"),
    [
        (0.1, 0.9, +1, "reproduced"),
        (-0.9, -0.1, +1, "refuted"),
        (-0.1, 0.9, +1, "inconclusive"),
        (-0.9, -0.1, -1, "reproduced"),
        (0.1, 0.9, -1, "refuted"),
        (0.1, 0.9, 0, "differs"),
        (-0.1, 0.9, 0, "no difference detected"),
    ],
)
def test_verdict_rule(low: float, high: float, expect: int, want: str) -> None:
    assert verdict(Interval((low + high) / 2, low, high, 5, 1.0), expect) == want


def test_verdict_needs_two_pairs_and_mean_std() -> None:
    assert verdict(Interval(1.0, math.nan, math.nan, 1, math.nan), +1) == "inconclusive"
    mean, sd, n = mean_std([1.0, 3.0, float("nan")])
    assert (mean, n) == (2.0, 2) and sd == pytest.approx(math.sqrt(2))


def test_welch_interval_matches_hand_computation_and_scipy() -> None:
    # a = 1, 2, 3 (var 1), b = 2, 4, 6 (var 4): diff -2, se = sqrt(1/3 + 4/3) = 1.2909944,
    # dof = (5/3)^2 / ((1/3)^2 / 2 + (4/3)^2 / 2) = 2.9411765
    from scipy import stats

    ci = welch_interval([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert ci.mean == pytest.approx(-2.0)
    assert ci.sd == pytest.approx(1.2909944, abs=1e-6)
    ref = stats.ttest_ind([1, 2, 3], [2, 4, 6], equal_var=False).confidence_interval(0.95)
    assert (ci.low, ci.high) == pytest.approx((ref.low, ref.high), abs=1e-9)
    assert verdict(ci, 0) == "no difference detected"
    apart = welch_interval([1.0, 1.1, 0.9], [3.0, 3.1, 2.9])
    assert apart.high < 0 and verdict(apart, 0) == "differs"


def test_welch_interval_small_and_constant_samples() -> None:
    one = welch_interval([1.0], [2.0, 3.0])
    assert one.mean == pytest.approx(-1.5) and math.isnan(one.low) and math.isnan(one.high)
    assert welch_interval([], [1.0]).n == 0
    flat = welch_interval([2.0, 2.0], [1.0, 1.0])
    assert (flat.low, flat.mean, flat.high) == (1.0, 1.0, 1.0)


def test_corrected_interval_matches_hand_computation() -> None:
    # values 1, 2, 3, 4 (sd sqrt(5/3) = 1.2909944, as above), n_test / n_train = 0.25:
    # se = 1.2909944 * sqrt(1/4 + 0.25) = 1.2909944 * 0.7071068 = 0.9128709;
    # half = t(0.975, 3) 3.1824463 * 0.9128709 = 2.9051627 -> [-0.4051627, 5.4051627]
    ci = corrected_interval([1.0, 2.0, 3.0, 4.0], 0.25)
    assert (ci.n, ci.mean) == (4, pytest.approx(2.5))
    assert ci.sd == pytest.approx(1.2909944, abs=1e-6)
    assert ci.low == pytest.approx(-0.4051627, abs=1e-6)
    assert ci.high == pytest.approx(5.4051627, abs=1e-6)
    # without a correction it is the paired t-interval; wider whenever the ratio is > 0
    plain = corrected_interval([1.0, 2.0, 3.0, 4.0], 0.0)
    assert (plain.low, plain.high) == pytest.approx((0.4457399, 4.5542601), abs=1e-6)
    assert math.isnan(corrected_interval([1.0], 0.25).low)
    with pytest.raises(ValueError, match="test_train_ratio"):
        corrected_interval([1.0, 2.0], -0.1)


def test_clustered_interval_matches_hand_computation() -> None:
    # 3 folds x 3 seeds; per-seed means: seed 0 (1 + 3 + 2) / 3 = 2, seed 1 (4 + 5 + 6) / 3 = 5,
    # seed 2 (2 + 2 + 5) / 3 = 3; their mean 10/3 = 3.3333333, sd sqrt(7/3) = 1.5275252;
    # half = t(0.975, 2) 4.3026527 * 1.5275252 / sqrt(3) = 3.7945830 -> [-0.4612497, 7.1279163]
    diffs = {
        (0, 0): 1.0, (1, 0): 3.0, (2, 0): 2.0,
        (0, 1): 4.0, (1, 1): 5.0, (2, 1): 6.0,
        (0, 2): 2.0, (1, 2): 2.0, (2, 2): 5.0,
    }  # fmt: skip
    ci = clustered_interval(diffs)
    assert ci.n == 3 and ci.mean == pytest.approx(10 / 3)
    assert ci.sd == pytest.approx(1.5275252, abs=1e-6)
    assert ci.low == pytest.approx(-0.4612497, abs=1e-6)
    assert ci.high == pytest.approx(7.1279163, abs=1e-6)
    # one seed: no interval (and so no verdict)
    one = clustered_interval({(0, 0): 1.0, (1, 0): 2.0})
    assert one.n == 1 and math.isnan(one.low)
    assert agreed_verdict([t_interval([1.0, 2.0, 3.0]), one], +1) == "inconclusive"


def test_a_verdict_needs_all_three_intervals() -> None:
    narrow = Interval(0.5, 0.2, 0.8, 9, 0.3)
    wide = Interval(0.5, -0.1, 1.1, 3, 0.3)
    against = Interval(-0.5, -0.8, -0.2, 9, 0.3)
    assert agreed_verdict([narrow, narrow, narrow], +1) == "reproduced"
    assert agreed_verdict([narrow, wide, narrow], +1) == "inconclusive"
    assert agreed_verdict([against, against, against], +1) == "refuted"
    assert agreed_verdict([narrow, narrow, narrow], 0) == "differs"
    assert agreed_verdict([narrow, wide, narrow], 0) == "inconclusive"
    assert agreed_verdict([wide, wide, wide], 0) == "no difference detected"
