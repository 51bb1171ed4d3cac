"""bench/kalman.py: the constant-velocity Kalman filter, run by the runtime's Tracker through
the filter registry of headpose.smoothing."""

from __future__ import annotations

import numpy as np
import pytest
from kalman import KalmanFilter

from headpose.errors import InvalidInputError
from headpose.estimator import make_face
from headpose.smoothing import (
    DEFAULT_SMOOTHING,
    OneEuroFilter,
    Tracker,
    make_filter,
    resolved_smoothing,
)

FPS = 30.0


def _run(filt: object, samples: np.ndarray) -> np.ndarray:
    return np.array([filt(x, t=i / FPS) for i, x in enumerate(samples)])  # type: ignore[operator]


def test_follows_a_steady_turn_without_lag() -> None:
    """A head turning at 20 deg/s: the Kalman filter has no steady-state lag, a low-pass has."""
    rng = np.random.default_rng(0)
    truth = 20.0 * np.arange(300) / FPS
    noisy = truth + rng.normal(0, 1.0, truth.size)
    kalman = _run(KalmanFilter(accel=30.0), noisy)[60:] - truth[60:]
    one_euro = _run(OneEuroFilter(**DEFAULT_SMOOTHING), noisy)[60:] - truth[60:]
    assert abs(kalman.mean()) < 0.2 < 1.0 < abs(one_euro.mean())
    assert kalman.std() < 0.6 * 1.0  # and it removes most of the noise


def test_less_accel_is_steadier() -> None:
    rng = np.random.default_rng(1)
    noisy = 5.0 + rng.normal(0, 2.0, 300)
    steady = _run(KalmanFilter(accel=10.0), noisy)[30:]
    quick = _run(KalmanFilter(accel=3000.0), noisy)[30:]
    assert np.std(steady) < 0.5 * np.std(quick) < np.std(noisy[30:])
    assert abs(steady.mean() - 5.0) < 0.5


def test_first_sample_unchanged_and_nan_components() -> None:
    f = KalmanFilter()
    assert f(7.5, t=0.0) == 7.5
    f = KalmanFilter()
    first = f(np.array([1.0, np.nan, 3.0]), t=0.0)
    assert np.isnan(first[1]) and first[0] == 1.0
    second = f(np.array([1.0, 2.0, np.nan]), t=0.1)
    assert second[1] == 2.0  # the first finite sample of a component starts it fresh
    assert np.isnan(second[2])
    assert np.isfinite(f(np.array([1.0, 2.0, 3.0]), t=0.2)).all()
    f.reset()
    assert f(4.0) == 4.0


def test_noise_from_spread_weights_each_sample() -> None:
    """A sample with a large spread moves the estimate less than one with a small spread."""
    moves = []
    for spread in (0.5, 20.0):
        f = KalmanFilter(accel=100.0, noise_from_spread=True)
        for i in range(30):
            f(0.0, t=i / FPS, spread=1.0)
        moves.append(float(f(10.0, t=30 / FPS, spread=spread)))
    assert moves[0] > 5.0 > 1.0 > moves[1] > 0.0
    with pytest.raises(InvalidInputError, match="spread"):
        KalmanFilter(noise_from_spread=True)(1.0)


@pytest.mark.parametrize(
    "bad", [{"accel": 0}, {"noise": -1.0}, {"accel": float("nan")}, {"noise_from_spread": 2}]
)
def test_bad_settings_are_named(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError, match=next(iter(bad))):
        KalmanFilter(**bad)


def test_registered_as_kalman() -> None:
    kalman = resolved_smoothing({"filter": "kalman", "accel": 50})
    assert kalman["filter"] == "kalman" and kalman["accel"] == 50
    assert isinstance(make_filter(kalman), KalmanFilter)
    with pytest.raises(InvalidInputError, match=r"unknown key\(s\) \['min_cutoff'\]"):
        resolved_smoothing({"filter": "kalman", "min_cutoff": 1.0})
    with pytest.raises(InvalidInputError, match="accel"):
        resolved_smoothing({"filter": "kalman", "accel": -3})


def test_tracker_feeds_each_face_spread_to_the_kalman_filter() -> None:
    """With noise_from_spread the Tracker passes Face.spread: an unsure face moves less."""
    moved = []
    for spread in (0.5, 30.0):
        tracker = Tracker(filter="kalman", accel=100.0, noise_from_spread=True)
        box = (10.0, 10.0, 60.0, 60.0)
        for i in range(20):
            tracker.update([make_face(box, 0.9, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))], t=i / FPS)
        out = tracker.update([make_face(box, 0.9, (10.0, 0.0, 0.0), (spread,) * 3)], t=20 / FPS)
        moved.append(out[0].yaw)
    assert moved[0] > 5.0 > 1.0 > moved[1]
