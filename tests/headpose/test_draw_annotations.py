"""draw(): a copy with axes pointing where the face points; the input is never modified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headpose.draw import axis_endpoints, cube_points, draw
from headpose.estimator import make_face

BOX = (100.0, 100.0, 300.0, 300.0)  # centre (200, 200)


def _colour_mask(img: np.ndarray, bgr: tuple[int, int, int]) -> np.ndarray:
    return np.abs(img.astype(int) - np.array(bgr)).sum(axis=2) < 60


def _mean_x_y(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    assert len(xs) > 20, "colour not drawn"
    return float(xs.mean()), float(ys.mean())


@pytest.fixture
def canvas() -> np.ndarray:
    return np.full((400, 400, 3), 128, np.uint8)


def test_input_not_modified_and_copy_returned(canvas: np.ndarray) -> None:
    before = canvas.copy()
    out = draw(canvas, [make_face(BOX, 0.9, [30, 10, 5], [2, 2, 2])], cube=True)
    assert np.array_equal(canvas, before)
    assert out is not canvas and out.shape == canvas.shape and not np.array_equal(out, canvas)


def test_blue_axis_points_where_the_face_points(canvas: np.ndarray) -> None:
    # yaw > 0: face turns toward the image's left -> blue axis left of the centre
    out = draw(canvas, [make_face(BOX, 0.9, [50, 0, 0], [2, 2, 2])], box=False, text=False)
    x, _ = _mean_x_y(_colour_mask(out, (255, 0, 0)))
    assert x < 180
    out = draw(canvas, [make_face(BOX, 0.9, [-50, 0, 0], [2, 2, 2])], box=False, text=False)
    assert _mean_x_y(_colour_mask(out, (255, 0, 0)))[0] > 220
    # pitch > 0: looking up -> blue axis above the centre
    out = draw(canvas, [make_face(BOX, 0.9, [0, 50, 0], [2, 2, 2])], box=False, text=False)
    assert _mean_x_y(_colour_mask(out, (255, 0, 0)))[1] < 180


def test_red_axis_tilts_clockwise_with_roll(canvas: np.ndarray) -> None:
    out = draw(canvas, [make_face(BOX, 0.9, [0, 0, 30], [2, 2, 2])], box=False, text=False)
    x, y = _mean_x_y(_colour_mask(out, (0, 0, 255)))
    assert x > 230 and y > 210  # goes right and down on screen


def test_options_change_what_is_drawn(canvas: np.ndarray) -> None:
    face = make_face(BOX, 0.9, [20, -10, 5], [2, 2, 2])
    nothing = draw(canvas, [face], axes=False, box=False, text=False)
    assert np.array_equal(nothing, canvas)
    only_box = draw(canvas, [face], axes=False, text=False)
    only_cube = draw(canvas, [face], axes=False, box=False, text=False, cube=True)
    with_text = draw(canvas, [face], axes=False, box=False)
    for img in (only_box, only_cube, with_text):
        assert not np.array_equal(img, canvas)
    assert not np.array_equal(only_box, only_cube)


def test_nan_roll_and_path_input(pose_photos: list[Path]) -> None:
    face = make_face((250, 120, 430, 350), 0.9, [10, 5, float("nan")], [2, 2, float("nan")])
    out = draw(pose_photos[0], [face], cube=True)
    assert out.shape == (480, 640, 3) and out.dtype == np.uint8


def test_geometry_helpers() -> None:
    m = np.eye(3)
    ends = axis_endpoints(m, (10, 20), 5)
    assert np.allclose(ends, [[15, 20], [10, 25], [10, 20]])  # frontal: forward axis is a point
    pts = cube_points(m, (0, 0), 2)
    assert pts.shape == (8, 2) and np.allclose(np.abs(pts), 1)
