"""headpose-export --input-zoom: a larger model input whose centre the network sees."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.errors import InvalidInputError
from headpose.export.onnx_export import export_onnx
from headpose.pose_model import PoseModel
from headpose.preprocess import resize_image

SIZE = 64  # the tiny checkpoint's input (conftest.py)


def test_zoomed_export_is_the_plain_model_on_the_centre(
    tiny_checkpoint: Path, crops_dir: Path, tmp_path: Path
) -> None:
    plain = export_onnx(tiny_checkpoint, tmp_path / "plain.onnx")
    zoom = export_onnx(tiny_checkpoint, tmp_path / "zoom.onnx", input_zoom=0.8)
    meta = PoseModel(zoom.path).meta
    assert meta.input_size == (80, 80)  # 64 / 0.8
    assert meta.extra["input_zoom"] == 0.8 and list(meta.extra["network_input"]) == [SIZE, SIZE]
    images = [cv2.imread(str(p)) for p in sorted((crops_dir / "images").iterdir())[:3]]
    centres = [resize_image(im, (80, 80))[8:72, 8:72] for im in images]
    want, _ = PoseModel(plain.path).predict_crops(centres)
    got, _ = PoseModel(zoom.path).predict_crops(images)
    np.testing.assert_allclose(got, want, atol=1e-3)
    whole, _ = PoseModel(plain.path).predict_crops(images)
    assert np.abs(whole - got).max() > 0.5  # the zoom changes what the network sees


@pytest.mark.parametrize("zoom", [0.0, 1.5])
def test_zoom_outside_0_1_is_refused(tiny_checkpoint: Path, tmp_path: Path, zoom: float) -> None:
    with pytest.raises(InvalidInputError, match="zoom"):
        export_onnx(tiny_checkpoint, tmp_path / "bad.onnx", input_zoom=zoom)
    assert not (tmp_path / "bad.onnx").exists()
