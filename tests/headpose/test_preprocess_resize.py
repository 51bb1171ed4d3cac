"""headpose.preprocess.area_downscale: INTER_AREA's result at a fraction of its cost."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.metadata import CropRule
from headpose.preprocess import area_downscale, crop_face


@pytest.fixture(scope="module")
def frame(shared_dir: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(shared_dir / "data" / "video" / "webcam_roll_nod.mp4"))
    ok, image = cap.read()
    cap.release()
    assert ok
    return image  # 1080x720, a real webcam frame


@pytest.mark.parametrize(
    ("region", "size"),
    [
        ((0, 0, 1080, 720), (427, 640)),  # a frame to the detector's 640 px
        ((300, 100, 800, 600), (320, 320)),  # a tracking ROI
        ((325, 62, 775, 587), (112, 112)),  # a face crop, factor 4
        ((400, 200, 530, 330), (112, 112)),  # factor 1.16
        ((0, 0, 1080, 720), (9, 13)),  # extreme factor
    ],
)
def test_close_to_inter_area(frame: np.ndarray, region: tuple, size: tuple) -> None:
    x1, y1, x2, y2 = region
    image = frame[y1:y2, x1:x2]
    out = area_downscale(image, size)
    ref = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    assert out.shape == ref.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(float) - ref)
    # grey levels; plain bilinear, which aliases, is off by 0.3-1.5 on average here, up to 55
    assert diff.mean() < 0.6 and diff.max() < 16, (diff.mean(), diff.max())


def test_crop_face_of_a_large_face_uses_it(frame: np.ndarray) -> None:
    rule = CropRule(scale=1.5, shift_y=0.0)
    box = (400.0, 150.0, 700.0, 450.0)  # crop 450 px on whole pixels -> 112 px
    out = crop_face(frame, box, rule, (112, 112))
    x1, y1, x2, y2 = 325, 75, 775, 525
    ref = cv2.resize(frame[y1:y2, x1:x2], (112, 112), interpolation=cv2.INTER_AREA)
    assert np.abs(out.astype(float) - ref).mean() < 0.6


def test_crop_face_of_a_box_on_whole_pixels_matches_the_cut_and_resize(frame: np.ndarray) -> None:
    """The exact-box warp gives the crop that cutting the whole-pixel box and shrinking it gave
    before (to within a grey level on average)."""
    rule = CropRule(scale=1.5, shift_y=0.0)
    for box, size in (((400.0, 150.0, 700.0, 450.0), 112), ((500.0, 300.0, 580.0, 380.0), 96)):
        out = crop_face(frame, box, rule, (size, size))
        x1, y1, x2, y2 = (
            int(round(v))
            for v in (
                box[0] - 0.25 * (box[2] - box[0]),
                box[1] - 0.25 * (box[3] - box[1]),
                box[2] + 0.25 * (box[2] - box[0]),
                box[3] + 0.25 * (box[3] - box[1]),
            )
        )
        ref = area_downscale(frame[y1:y2, x1:x2], (size, size))
        assert np.abs(out.astype(float) - ref).mean() < 1.0


def blob_frame(x0: float, y0: float, sigma: float = 30.0) -> np.ndarray:
    """A 720 x 1080 BGR frame holding one smooth bright blob centred at (x0, y0)."""
    yy, xx = np.mgrid[0:720, 0:1080].astype(np.float64)
    g = 20.0 + 220.0 * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2.0 * sigma**2))
    return np.repeat(np.round(g).astype(np.uint8)[:, :, None], 3, axis=2)


def centroid(crop: np.ndarray) -> tuple[float, float]:
    """Centre of mass (x, y) of a crop's brightness above its background, crop pixels."""
    w = np.clip(crop[:, :, 0].astype(np.float64) - 20.0, 0.0, None)
    yy, xx = np.mgrid[0 : crop.shape[0], 0 : crop.shape[1]]
    return float((w * xx).sum() / w.sum()), float((w * yy).sum() / w.sum())


@pytest.mark.parametrize("dx, dy", [(0.5, 0.0), (0.0, -0.5), (0.3, 0.3), (2.5, -1.25)])
def test_crop_face_moves_with_its_box_by_fractions_of_a_pixel(dx: float, dy: float) -> None:
    """A box moved by (dx, dy) frame pixels moves the crop's content by -(dx, dy) x the scale
    (crop pixels per frame pixel); rounding the box to whole pixels (the old crop) moved it in
    steps of 0 or 1 frame pixel."""
    rule = CropRule(scale=1.5, shift_y=0.0)
    image = blob_frame(551.3, 300.7)
    box = np.array([400.0, 150.0, 700.0, 450.0])  # crop 450 px -> 112 px
    ax, ay = centroid(crop_face(image, box, rule, (112, 112)))
    bx, by = centroid(crop_face(image, box + [dx, dy, dx, dy], rule, (112, 112)))
    scale = 112 / 450
    assert bx - ax == pytest.approx(-dx * scale, abs=0.02)
    assert by - ay == pytest.approx(-dy * scale, abs=0.02)
    # and where it sits: pixel centres map to pixel centres
    assert ax == pytest.approx((551.3 + 0.5 - 325.0) * scale - 0.5, abs=0.02)


def test_crop_face_outside_the_image_replicates_the_border(frame: np.ndarray) -> None:
    rule = CropRule(scale=1.5, shift_y=0.0)
    out = crop_face(frame, (-200.0, -150.0, 100.0, 150.0), rule, (112, 112))
    assert out.shape == (112, 112, 3)
    # the top-left quarter lies outside the frame: it repeats the frame's corner pixel
    corner = frame[0, 0].astype(float)
    assert np.abs(out[:20, :20].astype(float) - corner).max() <= 2
