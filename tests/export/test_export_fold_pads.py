"""Zero pads folded into convolutions: same numbers, no ``Pad`` node left, files never
overwritten."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from timm.layers.blur_pool import BlurPool2d
from torch import nn

from headpose.errors import InvalidInputError, InvalidModelError
from headpose.export.fold_pads import fold_file, fold_pads_into_convs, main


def _onnx(module: nn.Module) -> onnx.ModelProto:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), torch.randn(1, 3, 24, 24), buffer, opset_version=17, dynamo=False
        )
    return onnx.load_from_string(buffer.getvalue())


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _ops(model: onnx.ModelProto) -> list[str]:
    return [node.op_type for node in model.graph.node]


@pytest.mark.parametrize("mode", ["constant", "reflect"])
def test_a_blur_pools_zero_pad_is_folded_and_the_numbers_stay(mode: str) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), BlurPool2d(8, pad_mode=mode), nn.Conv2d(8, 4, 3))
    model = _onnx(net)
    assert "Pad" in _ops(model)
    x = np.random.default_rng(0).normal(size=(1, 3, 24, 24)).astype(np.float32)
    before = _run(model, x)
    folded = fold_pads_into_convs(model)
    onnx.checker.check_model(model, full_check=True)
    np.testing.assert_array_equal(_run(model, x), before)
    if mode == "constant":
        assert folded == 1 and "Pad" not in _ops(model)
        assert len(model.graph.node) < 10  # the pads' constant chain went with the Pad
    else:  # reflect padding is not what a Conv pads with: left alone
        assert folded == 0 and "Pad" in _ops(model)


def test_a_pad_read_twice_is_not_folded() -> None:
    class Twice(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            padded = nn.functional.pad(x, (1, 1, 1, 1))
            return nn.functional.conv2d(padded, torch.ones(2, 3, 3, 3)) + padded.mean()

    model = _onnx(Twice())
    assert fold_pads_into_convs(model) == 0 and "Pad" in _ops(model)


@pytest.fixture(scope="module")
def unfolded_aa_model(tmp_path_factory: pytest.TempPathFactory, aa_checkpoint: Path) -> Path:
    """A tiny anti-aliased checkpoint exported as headpose-export did before it folded pads."""
    from headpose.export import onnx_export

    folder = tmp_path_factory.mktemp("fold")
    folded = onnx_export.export_onnx(aa_checkpoint, folder / "folded.onnx", verify_count=4)
    assert "Pad" not in _ops(onnx.load(str(folded.path)))  # the export folds them
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(onnx_export, "fold_pads_into_convs", lambda model: 0)
        result = onnx_export.export_onnx(aa_checkpoint, folder / "unfolded.onnx", verify_count=4)
    assert "Pad" in _ops(onnx.load(str(result.path)))
    return result.path


def test_fold_file_writes_a_new_model_with_the_same_answers(
    unfolded_aa_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "new.onnx"
    count, worst = fold_file(unfolded_aa_model, out)
    assert count == 4 and worst <= 1e-3  # efficientnet_lite0 downsamples 4 times
    old, new = onnx.load(str(unfolded_aa_model)), onnx.load(str(out))
    assert "Pad" not in _ops(new)
    assert {p.key: p.value for p in new.metadata_props} == {
        p.key: p.value for p in old.metadata_props
    }
    with pytest.raises(InvalidInputError, match="already exists"):
        fold_file(unfolded_aa_model, out)
    with pytest.raises(InvalidInputError, match="is an input of this run"):
        fold_file(unfolded_aa_model, unfolded_aa_model)  # never over its input
    assert main([str(unfolded_aa_model), "-o", str(out)]) == 2  # one line, exit 2


def test_fold_file_refuses_a_model_without_headpose_metadata(tmp_path: Path) -> None:
    plain = tmp_path / "plain.onnx"
    onnx.save(_onnx(nn.Conv2d(3, 2, 3)), str(plain))
    with pytest.raises(InvalidModelError, match="not a headpose model"):
        fold_file(plain, tmp_path / "out.onnx")
    with pytest.raises(InvalidInputError, match="not found"):
        fold_file(tmp_path / "missing.onnx", tmp_path / "out2.onnx")
