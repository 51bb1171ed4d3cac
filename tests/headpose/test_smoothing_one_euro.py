"""One Euro filter and the IoU tracker."""

from __future__ import annotations

import math

import numpy as np
import pytest

from headpose.errors import InvalidInputError
from headpose.estimator import make_face
from headpose.smoothing import (
    DEFAULT_SMOOTHING,
    OneEuroFilter,
    Tracker,
    match_boxes,
    resolved_smoothing,
)


def test_reduces_jitter_on_a_noisy_constant() -> None:
    rng = np.random.default_rng(0)
    noisy = 10.0 + rng.normal(0, 2.0, size=300)
    f = OneEuroFilter(**DEFAULT_SMOOTHING)
    out = np.array([f(x, t=i / 30) for i, x in enumerate(noisy)])
    assert np.std(out[30:] - 10.0) < 0.4 * np.std(noisy[30:] - 10.0)
    assert abs(np.mean(out[30:]) - 10.0) < 0.5


def test_follows_a_step() -> None:
    f = OneEuroFilter(**DEFAULT_SMOOTHING)
    signal = np.r_[np.zeros(30), np.full(30, 40.0)]
    out = np.array([f(x, t=i / 30) for i, x in enumerate(signal)])
    assert out[29] == pytest.approx(0.0)
    assert out[30] > 5.0  # reacts at once
    assert out[35] > 36.0  # within 5 frames (1/6 s)
    assert out[-1] == pytest.approx(40.0, abs=0.5)


def test_vector_input_and_nan_components() -> None:
    f = OneEuroFilter()
    first = f(np.array([1.0, 2.0, np.nan]))
    assert first[:2].tolist() == [1.0, 2.0] and math.isnan(first[2])
    second = f(np.array([1.0, 2.0, np.nan]))
    assert np.allclose(second[:2], [1.0, 2.0]) and math.isnan(second[2])
    third = f(np.array([1.0, 2.0, 5.0]))  # a component appearing later starts fresh
    assert third[2] == 5.0


def test_scalar_in_scalar_out() -> None:
    f = OneEuroFilter()
    assert isinstance(f(3.0), float)


def test_bad_settings() -> None:
    with pytest.raises(InvalidInputError, match="min_cutoff"):
        OneEuroFilter(min_cutoff=0)
    with pytest.raises(InvalidInputError, match="beta"):
        OneEuroFilter(beta=-1)


def _face(box, yaw):
    return make_face(box, 0.9, [yaw, 0.0, 0.0], [3.0, 3.0, 3.0])


def test_tracker_keeps_identities_and_smooths_each_face() -> None:
    tracker = Tracker(min_cutoff=0.5, beta=0.0)
    rng = np.random.default_rng(0)
    yaws_a, yaws_b = [], []
    for i in range(60):
        a = _face((10 + i * 0.5, 10, 110 + i * 0.5, 110), 20 + rng.normal(0, 3))
        b = _face((300, 50, 380, 130), -30 + rng.normal(0, 3))
        order = [a, b] if i % 2 else [b, a]  # detection order changes: identity must not
        out = tracker.update(order, t=i / 30)
        by_x = sorted(out, key=lambda f: f.box[0])
        assert [f.track_id for f in by_x] == [1, 0]  # b was listed first in frame 0
        yaws_a.append(by_x[0].yaw)
        yaws_b.append(by_x[1].yaw)
    assert np.std(yaws_a[20:]) < 1.5 and abs(np.mean(yaws_a[20:]) - 20) < 2
    assert np.std(yaws_b[20:]) < 1.5 and abs(np.mean(yaws_b[20:]) + 30) < 2
    # the matrix follows the smoothed angles
    last = out[0]
    assert np.allclose(last.matrix, make_face(last.box, 1, last.angles, [1, 1, 1]).matrix)


def test_tracker_new_face_gets_new_id_and_old_tracks_expire() -> None:
    tracker = Tracker(max_missing=2)
    (a,) = tracker.update([_face((0, 0, 50, 50), 0)])
    (b,) = tracker.update([_face((200, 200, 260, 260), 10)])
    assert a.track_id == 0 and b.track_id == 1
    for _ in range(3):
        tracker.update([])
    (c,) = tracker.update([_face((0, 0, 50, 50), 0)])
    assert c.track_id == 2  # track 0 expired after 2 missing frames


def test_tracker_bad_settings() -> None:
    with pytest.raises(InvalidInputError, match="iou_threshold"):
        Tracker(iou_threshold=0)


def test_match_boxes_is_greedy_by_iou_and_uses_each_box_once() -> None:
    old = np.array([[0.0, 0, 10, 10], [100, 100, 110, 110]])
    new = np.array([[101.0, 101, 111, 111], [0, 0, 10, 10], [1, 1, 11, 11], [500, 500, 510, 510]])
    assert match_boxes(old, new, 0.3) == {0: 1, 1: 0}  # [1,1,11,11] loses to the exact box
    assert match_boxes(old[:0], new, 0.3) == {}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"gain": 1.0}, r"unknown key\(s\) \['gain'\]"),
        ({"stages": 2}, r"unknown key\(s\) \['stages'\]"),  # one stage: the product's filter
        ({"filter": "one_euro"}, r"unknown key\(s\) \['filter'\]"),
        ({"beta": -1.0}, "smoothing: OneEuroFilter beta"),
    ],
)
def test_bad_filter_settings_are_named(settings: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        resolved_smoothing(settings)
    assert resolved_smoothing({}) == DEFAULT_SMOOTHING


def test_the_default_filter_smooths_a_noisy_constant() -> None:
    """Built from the defaults: the first sample comes back unchanged, noise around a constant
    shrinks, a NaN component stays NaN."""
    filt = OneEuroFilter(**resolved_smoothing(None))
    rng = np.random.default_rng(3)
    noisy = 10.0 + rng.normal(0, 2.0, size=(300, 3))
    noisy[:, 2] = np.nan
    out = np.array([filt.filter(x, t=i / 30) for i, x in enumerate(noisy)])
    assert out[0, :2] == pytest.approx(noisy[0, :2])
    assert np.isnan(out[:, 2]).all()
    assert np.std(out[60:, :2]) < 0.8 * np.std(noisy[60:, :2])


def test_tracker_settings_are_keywords() -> None:
    """A positional number would be ambiguous (it was once ``min_cutoff``): it is refused
    instead of taken as ``iou_threshold``."""
    with pytest.raises(TypeError):
        Tracker(0.5)  # type: ignore[misc]
    assert Tracker(min_cutoff=0.7).settings["min_cutoff"] == 0.7
