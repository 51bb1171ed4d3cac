"""Crop rules beyond the default square: the mean side, a shift in side units, black borders and
crops cut off at the image border (the peers' own rules, in the model metadata)."""

from __future__ import annotations

import numpy as np
import pytest

from headpose.errors import InvalidModelError
from headpose.metadata import CropRule, ModelMetadata
from headpose.preprocess import crop_box, crop_face


def test_mean_side_and_side_shift_follow_3ddfa_v2() -> None:
    rule = CropRule(scale=1.58, shift_y=0.14, side="mean", shift_of="side", border="zeros")
    x1, y1, x2, y2 = 10.0, 20.0, 110.0, 160.0  # w 100, h 140: mean 120
    got = crop_box((x1, y1, x2, y2), rule)
    side, cx, cy = 120 * 1.58, 60.0, 90.0 + 0.14 * 120
    np.testing.assert_allclose(got, [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])
    # the default rule is unchanged: longer side, shift in box heights
    np.testing.assert_allclose(crop_box((0, 0, 100, 140), CropRule(1.5, 0.1)), [-55, -21, 155, 189])


def test_borders_replicate_zero_or_clip() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    image[:, :20] = 50  # a dark band along the left edge
    box = (-20.0, 10.0, 40.0, 70.0)  # 60 px face half outside the left edge
    rep = crop_face(image, box, CropRule(scale=1.0), (60, 60))
    zero = crop_face(image, box, CropRule(scale=1.0, border="zeros"), (60, 60))
    clip = crop_face(image, box, CropRule(scale=1.0, border="clip"), (60, 60))
    assert (rep[:, :18] == 50).all() and (zero[:, :18] == 0).all() and (zero[:, 22:38] == 50).all()
    # clip: only the part inside the image (x 0..40), stretched to the full width
    assert (clip[:, :28] == 50).all() and (clip[:, 32:] == 200).all()
    assert not (clip == 0).any()


def test_unknown_crop_settings_are_named() -> None:
    meta = ModelMetadata(crop=CropRule(border="wrap"))
    with pytest.raises(InvalidModelError, match=r"crop.border.*'wrap'"):
        meta.validate("m.onnx")
    back = ModelMetadata.from_json(ModelMetadata(crop=CropRule(side="mean")).to_json())
    assert back.crop.side == "mean"
