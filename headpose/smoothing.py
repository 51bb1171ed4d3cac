"""One Euro filter (Casiez, Roussel and Vogel, CHI 2012) for jitter-free angles in video.

A low-pass filter whose cutoff rises with the speed of the signal: strong smoothing when the head
is still, little lag when it moves. ``min_cutoff`` (Hz): lower = smoother at rest;
``beta`` (1/unit): higher = less lag during fast motion (angles in degrees: try 0.001-0.1).
One stage, one filter: the rejected alternatives (a Kalman filter, two filters in a row, box
smoothing) are listed in docs/MODEL_CARD.md.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from headpose.detectors._common import iou_matrix
from headpose.errors import InvalidInputError, checked_number


def time_step(last: float, t: float | None, freq: float) -> tuple[float, float]:
    """``(now, dt)`` seconds for a sample at ``t`` after one at ``last`` (``t`` None: one
    nominal period ``1 / freq`` later); a repeated or out-of-order time stamp counts as one
    nominal period."""
    now = last + 1.0 / freq if t is None else float(t)
    dt = now - last
    return now, (dt if dt > 0 else 1.0 / freq)


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter of a scalar or a vector signal (each component filtered independently).

    ``filter(x, t)`` with ``t`` in seconds (increasing); without ``t`` the samples are taken
    ``1 / freq`` seconds apart. NaN components are passed through as NaN and leave that
    component's state untouched.
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.0,
        d_cutoff: float = 1.0,
        freq: float = 30.0,
    ) -> None:
        for name, value in (("min_cutoff", min_cutoff), ("d_cutoff", d_cutoff), ("freq", freq)):
            checked_number(f"OneEuroFilter {name}", value, 0.0, low_open=True)
        checked_number("OneEuroFilter beta", beta, 0.0)
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.freq = float(freq)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample is returned unchanged."""
        self._x: np.ndarray | None = None  # last output
        self._dx: np.ndarray | None = None  # filtered speed
        self._t: float | None = None

    def __call__(self, x: float | np.ndarray, t: float | None = None) -> float | np.ndarray:
        return self.filter(x, t)

    def filter(self, x: float | np.ndarray, t: float | None = None) -> float | np.ndarray:
        """Filtered value of the new sample ``x`` (same shape and type as ``x``)."""
        scalar = np.ndim(x) == 0
        value = np.array(x, dtype=np.float64, ndmin=1)
        if self._x is None or self._dx is None or self._x.shape != value.shape:
            self._x, self._dx = value.copy(), np.zeros_like(value)
            self._t = 0.0 if t is None else float(t)
            return float(value[0]) if scalar else value.copy()
        assert self._t is not None
        self._t, dt = time_step(self._t, t, self.freq)
        known = np.isfinite(value)
        prev = self._x
        # the first finite sample of a component that was NaN so far starts it fresh
        fresh = known & ~np.isfinite(prev)
        dx = np.where(known & ~fresh, (value - prev) / dt, 0.0)
        a_d = _alpha(self.d_cutoff, dt)
        dx_hat = a_d * dx + (1.0 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        a = _alpha(cutoff, dt)
        x_hat = np.where(fresh, value, a * value + (1.0 - a) * prev)
        self._x = np.where(known, x_hat, prev)
        self._dx = np.where(known, dx_hat, self._dx)
        out = np.where(known, self._x, np.nan)
        return float(out[0]) if scalar else out


DEFAULT_SMOOTHING: dict[str, float] = {"min_cutoff": 0.5, "beta": 0.02, "d_cutoff": 1.0}


def smoothing_setting(value: object) -> tuple[dict[str, Any], bool]:
    """``Estimator(smoothing=...)`` -> ``(filter settings, on)``: ``True``/``None`` the
    defaults, ``False`` off (the defaults kept for a later switch), a strength ``s > 0`` the
    defaults with ``min_cutoff`` and ``beta`` divided by ``s`` (2 = twice as smooth)."""
    if value is None or isinstance(value, bool):
        return dict(DEFAULT_SMOOTHING), value is not False
    if isinstance(value, numbers.Real):
        strength = checked_number("smoothing strength", value, 0.0, low_open=True)
        scaled = {k: DEFAULT_SMOOTHING[k] / strength for k in ("min_cutoff", "beta")}
        return {**DEFAULT_SMOOTHING, **scaled}, True
    raise InvalidInputError(
        f"smoothing: expected True, False or a strength > 0 (2 = twice as smooth), got {value!r}"
    )


def resolved_smoothing(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """One Euro ``settings`` over :data:`DEFAULT_SMOOTHING` (plus ``freq``), checked: an unknown
    key or a bad value is an :class:`~headpose.errors.InvalidInputError` that names it."""
    if settings is not None and not isinstance(settings, Mapping):
        raise InvalidInputError(
            f"smoothing: expected None or a dict of filter settings such as "
            f"{{'min_cutoff': 0.5, 'beta': 0.02}}, got {settings!r}"
        )
    given = dict(settings or {})
    allowed = set(DEFAULT_SMOOTHING) | {"freq"}
    unknown = set(given) - allowed
    if unknown:
        raise InvalidInputError(
            f"smoothing: unknown key(s) {sorted(unknown)}, expected {sorted(allowed)}"
        )
    out = {**DEFAULT_SMOOTHING, **given}
    try:
        OneEuroFilter(**out)  # names a bad value now, not at the first face
    except InvalidInputError as exc:
        raise InvalidInputError(f"smoothing: {exc}") from None
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a (N, 4)`` against ``b (M, 4)`` ``(x1, y1, x2, y2)`` -> ``(N, M)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    return iou_matrix(a, b)


def match_boxes(old: np.ndarray, new: np.ndarray, iou_threshold: float) -> dict[int, int]:
    """Greedy match of ``new (M, 4)`` boxes to ``old (N, 4)`` ones by greatest IoU (at least
    ``iou_threshold``; each box used once): ``{new index: old index}``."""
    matched: dict[int, int] = {}
    if len(old) == 0 or len(new) == 0:
        return matched
    iou = box_iou(old, new)
    pairs = np.argwhere(iou >= iou_threshold)
    order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind="stable")
    used: set[int] = set()
    for oi, ni in pairs[order]:
        if int(oi) in used or int(ni) in matched:
            continue
        used.add(int(oi))
        matched[int(ni)] = int(oi)
    return matched


class _Track:
    def __init__(self, track_id: int, box: np.ndarray, filt: Any) -> None:
        self.id = track_id
        self.box = box
        self.filter = filt
        self.missing = 0


class Tracker:
    """Keeps face identities across video frames and smooths each face's angles.

    ``update(faces, t=None) -> faces``: each :class:`~headpose.estimator.Face` of the new frame
    is matched to a track of the previous frames by greatest box IoU (at least
    ``iou_threshold``, greedy); its yaw, pitch, roll (and matrix) are replaced by the filtered
    values of its track and ``track_id`` is set. ``filter_settings``: the filter's settings,
    ``min_cutoff``, ``beta``, ``d_cutoff`` of :class:`OneEuroFilter`; every
    argument is a keyword. Unmatched faces start new
    tracks; tracks unseen for more than ``max_missing`` frames are dropped. ``t``: time in
    seconds (else frames are ``1 / freq`` apart). ``smooth=False``: identities only, angles left
    as given.
    """

    def __init__(
        self,
        *,
        iou_threshold: float = 0.3,
        max_missing: int = 10,
        freq: float = 30.0,
        smooth: bool = True,
        **filter_settings: Any,
    ) -> None:
        if not (0.0 < iou_threshold <= 1.0):
            raise InvalidInputError(
                f"iou_threshold: expected a number in (0, 1], got {iou_threshold}"
            )
        if int(max_missing) < 0:
            raise InvalidInputError(f"max_missing: expected an integer >= 0, got {max_missing}")
        self.settings = resolved_smoothing({**filter_settings, "freq": freq})
        self.iou_threshold = float(iou_threshold)
        self.max_missing = int(max_missing)
        self.freq = float(freq)
        self.smooth = bool(smooth)
        self.reset()

    def reset(self) -> None:
        """Forget all tracks."""
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._t: float | None = None

    def update(self, faces: Sequence[Any], t: float | None = None) -> list[Any]:
        """Smoothed copies of ``faces`` (same order), each with its ``track_id``."""
        now = (0.0 if self._t is None else self._t + 1.0 / self.freq) if t is None else float(t)
        self._t = now
        boxes = np.array([f.box for f in faces], dtype=np.float64).reshape(-1, 4)
        old_boxes = np.array([tr.box for tr in self._tracks]).reshape(-1, 4)
        assigned = {
            fi: self._tracks[ti]
            for fi, ti in match_boxes(old_boxes, boxes, self.iou_threshold).items()
        }
        out = []
        for i, face in enumerate(faces):
            track = assigned.get(i)
            if track is None:
                track = _Track(self._next_id, boxes[i], OneEuroFilter(**self.settings))
                self._next_id += 1
                self._tracks.append(track)
            track.box = boxes[i]
            track.missing = -1  # seen this frame (set to 0 below)
            if not self.smooth:
                out.append(replace(face, track_id=track.id))
                continue
            angles = np.array([face.yaw, face.pitch, face.roll])
            smoothed = np.asarray(track.filter(angles, now))
            out.append(replace(face.with_angles(smoothed), track_id=track.id))
        for track in self._tracks:
            track.missing += 1
        self._tracks = [tr for tr in self._tracks if tr.missing <= self.max_missing]
        return out
