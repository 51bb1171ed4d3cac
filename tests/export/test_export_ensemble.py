"""headpose-export with several checkpoints: one graph whose outputs are the members' mean."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from headpose.errors import InvalidInputError
from headpose.export.cli import main as export_main
from headpose.export.onnx_export import export_onnx
from headpose.pose_model import PoseModel


def test_ensemble_is_the_mean_of_its_members(
    tiny_checkpoint: Path, second_checkpoint: Path, crops_dir: Path, tmp_path: Path
) -> None:
    images = [cv2.imread(str(p)) for p in sorted((crops_dir / "images").iterdir())[:3]]
    members = [
        export_onnx(c, tmp_path / f"m{i}.onnx", verify_images=crops_dir / "images")
        for i, c in enumerate((tiny_checkpoint, second_checkpoint))
    ]
    both = export_onnx(
        [tiny_checkpoint, second_checkpoint],
        tmp_path / "both.onnx",
        verify_images=crops_dir / "images",
    )
    outs = [PoseModel(m.path).predict_crops(images) for m in members]
    angles, spread = PoseModel(both.path).predict_crops(images)
    assert np.abs(outs[0][0] - outs[1][0]).max() > 1.0  # the members really differ
    np.testing.assert_allclose(angles, (outs[0][0] + outs[1][0]) / 2, atol=1e-3)
    np.testing.assert_allclose(spread, (outs[0][1] + outs[1][1]) / 2, atol=1e-3)
    meta = PoseModel(both.path).meta
    assert [m["source"] for m in meta.extra["ensemble"]] == [
        str(tiny_checkpoint),
        str(second_checkpoint),
    ]
    assert meta.method.startswith("mean of 2 networks")
    # both members' weights are in the graph (not 2x: the exporter stores the all-zero folded
    # convolutions of a fresh timm ResNet, zero_init_last, only once)
    assert both.exported_values > 1.5 * members[0].exported_values


def test_ensemble_members_must_share_the_input_contract(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    ckpt["metadata"]["input_size"] = [96, 96]
    other = tmp_path / "other_size.pt"
    torch.save(ckpt, other)
    with pytest.raises(InvalidInputError, match=r"input_size=\(96, 96\)"):
        export_onnx([tiny_checkpoint, other], tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


def test_cli_ensemble_needs_an_output_name(
    tiny_checkpoint: Path, second_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export_main([str(tiny_checkpoint), str(second_checkpoint)]) == 2
    assert "need -o/--output" in capsys.readouterr().err
