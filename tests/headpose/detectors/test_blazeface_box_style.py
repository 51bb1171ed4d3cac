"""BlazeFace boxes in YuNet's style: the pose model's crop rule was fitted to YuNet's boxes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.detectors import get_detector
from headpose.detectors._common import iou_matrix
from headpose.detectors.blazeface import YUNET_STYLE, to_yunet_style
from headpose.errors import InvalidInputError


def test_mapping_moves_the_centre_up_and_makes_the_box_taller() -> None:
    box = np.array([[100.0, 100.0, 200.0, 200.0]])
    out = to_yunet_style(box)[0]
    dx, dy, fw, fh = YUNET_STYLE
    assert out[2] - out[0] == pytest.approx(100 * fw, rel=1e-5)
    assert out[3] - out[1] == pytest.approx(100 * fh, rel=1e-5)
    assert (out[1] + out[3]) / 2 == pytest.approx(150 + 100 * dy, rel=1e-5)
    assert fh > 1 > fw and dy < 0


def test_yunet_style_boxes_overlap_yunet_more_than_native_ones(crops_dir: Path) -> None:
    yunet = get_detector("yunet")
    styled = get_detector("blazeface")
    native = get_detector("blazeface", box_style="native")
    gains = []
    for path in sorted((crops_dir / "images").glob("*.jpg"))[:12]:
        image = cv2.imread(str(path))
        ref, a, b = yunet.detect(image), styled.detect(image), native.detect(image)
        if len(ref) and len(a) and len(b):
            gains.append(
                iou_matrix(ref.boxes[:1], a.boxes[:1])[0, 0]
                - iou_matrix(ref.boxes[:1], b.boxes[:1])[0, 0]
            )
    assert len(gains) >= 8 and np.mean(gains) > 0.05


def test_unknown_box_style_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="box_style"):
        get_detector("blazeface", box_style="square")
