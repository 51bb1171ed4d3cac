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
    box = (400.0, 150.0, 700.0, 500.0)  # crop 525 px -> 112 px
    out = crop_face(frame, box, rule, (112, 112))
    x1, y1, x2, y2 = (int(round(v)) for v in (287.5, 62.5, 812.5, 587.5))
    ref = cv2.resize(frame[y1:y2, x1:x2], (112, 112), interpolation=cv2.INTER_AREA)
    assert np.abs(out.astype(float) - ref).mean() < 0.6
