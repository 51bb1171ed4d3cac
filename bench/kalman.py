"""A constant-velocity Kalman filter for the angles, measured against One Euro (a study).

``import kalman`` registers it as ``filter="kalman"`` in :data:`headpose.smoothing.FILTERS`, so
the runtime's ``Tracker`` runs it (``python bench/smoothing.py --filters one_euro kalman``). It
follows a steady turn without lag, but at equal lag it was no steadier than the two-stage One
Euro filter on the clips (``bench/results/default_model_v2.md`` section 18), so the runtime does
not ship it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from headpose.errors import InvalidInputError
from headpose.smoothing import FILTERS, register_filter, time_step


class KalmanFilter:
    """Constant-velocity Kalman filter of a scalar or a vector signal, each component on its own.

    State per component: the value and its rate. The rate changes by white-noise acceleration of
    standard deviation ``accel`` (units/s^2; for angles, deg/s^2): small = steadier, large =
    follows quick changes sooner. Each sample is the value plus noise of standard deviation
    ``noise`` (units), or, with ``noise_from_spread``, the ``spread`` given with the sample (per
    component; e.g. ``Face.spread``, the model's own per-frame spread). A steady ramp is followed
    without lag, unlike a low-pass filter. ``init_rate``: standard deviation of the rate at the
    first sample (units/s). ``filter(x, t, spread=None)`` as :meth:`OneEuroFilter.filter`; NaN
    components are passed through as NaN (their state keeps moving at its rate).
    """

    def __init__(
        self,
        accel: float = 300.0,
        noise: float = 1.0,
        noise_from_spread: bool = False,
        init_rate: float = 100.0,
        freq: float = 30.0,
    ) -> None:
        for name, value in (
            ("accel", accel),
            ("noise", noise),
            ("init_rate", init_rate),
            ("freq", freq),
        ):
            if isinstance(value, bool) or not (
                isinstance(value, (int, float)) and value > 0 and math.isfinite(value)
            ):
                raise InvalidInputError(
                    f"KalmanFilter {name}: expected a number > 0, got {value!r}"
                )
        if noise_from_spread not in (True, False, 0, 1):
            raise InvalidInputError(
                f"KalmanFilter noise_from_spread: expected true or false, got {noise_from_spread!r}"
            )
        self.accel = float(accel)
        self.noise = float(noise)
        self.uses_spread = bool(noise_from_spread)
        self.init_rate = float(init_rate)
        self.freq = float(freq)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample is returned unchanged."""
        self._x: np.ndarray | None = None  # (2, n): value, rate
        self._p: np.ndarray | None = None  # (3, n): covariance entries 00, 01, 11
        self._t: float | None = None

    def __call__(
        self, x: float | np.ndarray, t: float | None = None, spread: Any = None
    ) -> float | np.ndarray:
        return self.filter(x, t, spread)

    def _variance(self, spread: Any, shape: tuple[int, ...]) -> np.ndarray:
        if not self.uses_spread:
            return np.full(shape, self.noise**2)
        if spread is None:
            raise InvalidInputError("KalmanFilter noise_from_spread: expected a spread per sample")
        s = np.broadcast_to(np.asarray(spread, dtype=np.float64), shape)
        # a spread that is not a positive number falls back to ``noise``
        return np.where(np.isfinite(s) & (s > 0), s, self.noise) ** 2

    def filter(
        self, x: float | np.ndarray, t: float | None = None, spread: Any = None
    ) -> float | np.ndarray:
        """Filtered value of the new sample ``x`` (same shape and type as ``x``)."""
        scalar = np.ndim(x) == 0
        z = np.array(x, dtype=np.float64, ndmin=1)
        r = self._variance(spread, z.shape)
        known = np.isfinite(z)
        if self._x is None or self._x.shape[1:] != z.shape:
            n = z.shape
            self._x = np.stack([np.where(known, z, np.nan), np.zeros(n)])
            self._p = np.stack([r, np.zeros(n), np.full(n, self.init_rate**2)])
            self._t = 0.0 if t is None else float(t)
            return float(z[0]) if scalar else z.copy()
        assert self._p is not None and self._t is not None
        self._t, dt = time_step(self._t, t, self.freq)
        (value, rate), (p00, p01, p11) = self._x, self._p
        q = self.accel**2
        # predict: constant rate, white-noise acceleration
        value = value + dt * rate
        p00 = p00 + dt * (2.0 * p01 + dt * p11) + q * dt**4 / 4.0
        p01 = p01 + dt * p11 + q * dt**3 / 2.0
        p11 = p11 + q * dt**2
        # update with the components that have a sample
        fresh = known & ~np.isfinite(value)  # first finite sample of a component
        gain0, gain1 = p00 / (p00 + r), p01 / (p00 + r)
        innovation = np.where(known & ~fresh, z - value, 0.0)
        upd = known & ~fresh
        new_value = np.where(upd, value + gain0 * innovation, value)
        new_rate = np.where(upd, rate + gain1 * innovation, rate)
        new_p = np.stack(
            [
                np.where(upd, (1.0 - gain0) * p00, p00),
                np.where(upd, (1.0 - gain0) * p01, p01),
                np.where(upd, p11 - gain1 * p01, p11),
            ]
        )
        new_value = np.where(fresh, z, new_value)
        new_rate = np.where(fresh, 0.0, new_rate)
        new_p[:, fresh] = np.stack(
            [r[fresh], np.zeros(int(fresh.sum())), np.full(int(fresh.sum()), self.init_rate**2)]
        )
        self._x, self._p = np.stack([new_value, new_rate]), new_p
        out = np.where(known, new_value, np.nan)
        return float(out[0]) if scalar else out


KALMAN_DEFAULTS: dict[str, Any] = {"accel": 300.0, "noise": 1.0, "noise_from_spread": False}
if "kalman" not in FILTERS:
    register_filter("kalman", KalmanFilter, KALMAN_DEFAULTS)
