"""headpose-export --flip-average: the graph averages with the mirror; parity and metadata hold."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from headpose.export.onnx_export import export_onnx
from headpose.pose_model import PoseModel


def test_flip_average_export(tiny_checkpoint: Path, crops_dir: Path, tmp_path: Path) -> None:
    plain = export_onnx(
        tiny_checkpoint, tmp_path / "plain.onnx", verify_images=crops_dir / "images"
    )
    flip = export_onnx(
        tiny_checkpoint,
        tmp_path / "flip.onnx",
        verify_images=crops_dir / "images",
        flip_average=True,
    )
    assert flip.metadata.extra.get("flip_average") is True and plain.parity is not None
    image = cv2.imread(str(sorted((crops_dir / "images").iterdir())[0]))
    a_plain, _ = PoseModel(plain.path).predict_crops([image])
    a_mirror, _ = PoseModel(plain.path).predict_crops([image[:, ::-1].copy()])
    a_flip, _ = PoseModel(flip.path).predict_crops([image])
    want = (a_plain + a_mirror * np.array([-1.0, 1.0, -1.0])) / 2
    np.testing.assert_allclose(a_flip, want, atol=1e-3)


def test_describe_overrides_descriptive_metadata_only(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    import pytest

    from headpose.errors import InvalidInputError

    result = export_onnx(
        tiny_checkpoint, tmp_path / "m.onnx", describe={"license": "research only; UTKFace"}
    )
    assert PoseModel(result.path).meta.license == "research only; UTKFace"
    with pytest.raises(InvalidInputError, match="input_size"):
        export_onnx(tiny_checkpoint, tmp_path / "n.onnx", describe={"input_size": "64"})
