"""ONNX export of a tiny checkpoint with an SSL branch: graph, metadata, parity, dynamic batch."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from headpose.errors import InvalidInputError
from headpose.export.checkpoint import (
    build_export_modules,
    load_checkpoint,
    metadata_from_checkpoint,
)
from headpose.export.errors import ExportError, ParityError
from headpose.export.images import list_images, preprocess_crops
from headpose.export.onnx_export import check_no_ssl, export_checkpoint, export_onnx, graph_values
from headpose.metadata import METADATA_KEY, read_metadata

INPUT_SIZE = 64  # the checkpoint fixture (conftest.py)


def _props(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_export_writes_contract_graph(exported) -> None:
    model = onnx.load(str(exported.path))
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["angles", "spread"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].dim_value  # dynamic batch
    assert [d.dim_value for d in dims[1:]] == [3, INPUT_SIZE, INPUT_SIZE]
    assert {o.domain: o.version for o in model.opset_import}[""] == 17
    assert model.producer_name == "headpose-export"
    assert "resnet18" in model.doc_string and "angles" in model.doc_string
    assert exported.size_bytes == exported.path.stat().st_size > 1_000_000
    assert not list(exported.path.parent.glob(".*.tmp"))  # temporary file gone


def test_no_ssl_parameter_in_graph(exported, tiny_checkpoint: Path) -> None:
    model = onnx.load(str(exported.path))
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    ssl_values = sum(v.numel() for k, v in ckpt["model"].items() if k.startswith("ssl."))
    assert ssl_values > 10_000  # the fixture really has a puzzle branch
    assert not [t.name for t in model.graph.initializer if "ssl" in t.name.lower()]
    full_values = sum(v.numel() for v in ckpt["model"].values())
    assert graph_values(model) == exported.exported_values
    assert exported.exported_values <= full_values - ssl_values + 4096 + 3 * 66
    assert exported.full_values == full_values


def test_ssl_check_catches_a_graph_with_the_ssl_branch(tiny_checkpoint: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    meta = metadata_from_checkpoint(ckpt, "t")
    modules = build_export_modules(ckpt, meta, "t")
    fake = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []))
    big = np.zeros(modules.pose_values + 10_000, dtype=np.float32)
    fake.graph.initializer.append(onnx.numpy_helper.from_array(big, "w"))
    with pytest.raises(ExportError, match="SSL"):
        check_no_ssl(fake, modules, meta, "t")
    fake.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(big[:10], "ssl.puzzle.w"))
    with pytest.raises(ExportError, match="ssl.puzzle.w"):
        check_no_ssl(fake, modules, meta, "t")


def test_metadata_round_trips(exported, tiny_checkpoint: Path) -> None:
    meta = read_metadata(_props(exported.path), str(exported.path))
    assert meta == exported.metadata
    assert meta.input_size == (INPUT_SIZE, INPUT_SIZE)
    assert meta.backbone == "resnet18" and meta.method == "sl-puzzled"
    assert meta.license == "test-only" and meta.bins.count == 66
    assert meta.headpose_version and meta.created.endswith("+00:00")
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map[METADATA_KEY]) == json.loads(
        meta.to_json()
    )


def test_parity_on_real_images(exported, tiny_checkpoint: Path, crops_dir: Path) -> None:
    report = exported.parity
    assert report.n_images == 6 and "aflw2000-crops" in report.source
    assert report.max_diff_angles <= 1e-3 and report.max_diff_spread <= 1e-3
    # independent re-check: torch model from the checkpoint vs onnxruntime on other crops
    ckpt = load_checkpoint(tiny_checkpoint)
    meta = metadata_from_checkpoint(ckpt, "t")
    decoded = build_export_modules(ckpt, meta, "t").decoded
    x = preprocess_crops(list_images(crops_dir / "images")[20:25], meta)
    with torch.inference_mode():
        ref_angles, ref_spread = (t.numpy() for t in decoded(torch.from_numpy(x)))
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    angles, spread = session.run(["angles", "spread"], {"image": x})
    assert angles.dtype == np.float32 and angles.shape == (5, 3)
    assert ref_angles.std(axis=0).max() > 1.0  # the fixture's outputs depend on the image
    np.testing.assert_allclose(angles, ref_angles, atol=1e-3)
    np.testing.assert_allclose(spread, ref_spread, atol=1e-3)


def test_dynamic_batch(exported, crops_dir: Path) -> None:
    x = preprocess_crops(list_images(crops_dir / "images", limit=3), exported.metadata)
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    batch3 = session.run(["angles"], {"image": x})[0]
    singles = np.concatenate(
        [session.run(["angles"], {"image": x[i : i + 1]})[0] for i in range(3)]
    )
    assert batch3.shape == (3, 3)
    np.testing.assert_allclose(batch3, singles, atol=1e-4)


def test_runtime_pose_model_reads_the_export(exported, crops_dir: Path) -> None:
    import cv2

    from headpose.pose_model import PoseModel

    model = PoseModel(exported.path, providers="cpu")
    crop = cv2.imread(str(list_images(crops_dir / "images", limit=1)[0]))
    angles, spread = model.predict_crops([crop])
    x = preprocess_crops(list_images(crops_dir / "images", limit=1), exported.metadata)
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(angles, session.run(["angles"], {"image": x})[0], atol=1e-4)
    assert (spread > 0).all()


def test_failing_parity_deletes_the_output(
    tiny_checkpoint: Path, crops_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import headpose.export.verify as verify

    real = verify.torch_outputs

    def off_by_half_a_degree(module, inputs):
        angles, spread = real(module, inputs)
        return angles + 0.5, spread

    monkeypatch.setattr(verify, "torch_outputs", off_by_half_a_degree)
    out = tmp_path / "bad.onnx"
    with pytest.raises(ParityError, match=r"max \|diff\| angles 0\.5"):
        export_onnx(tiny_checkpoint, out, verify_images=crops_dir / "images", verify_count=2)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_random_input_fallback_warns(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import headpose.export.verify as verify

    monkeypatch.setattr(verify, "default_crops_dir", lambda: None)
    with pytest.warns(UserWarning, match="random input"):
        result = export_onnx(tiny_checkpoint, tmp_path / "m.onnx", verify_count=2)
    assert result.parity.source == "random input" and result.path.is_file()


def test_export_checkpoint_returns_metadata_and_rejects_bad_args(
    tiny_checkpoint: Path, crops_dir: Path, tmp_path: Path
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeprecationWarning from torch.onnx leaks out
        meta = export_checkpoint(
            tiny_checkpoint, tmp_path / "m.onnx", opset=17, verify_images=crops_dir / "images"
        )
    assert meta == read_metadata(_props(tmp_path / "m.onnx"))
    with pytest.raises(InvalidInputError, match="opset"):
        export_checkpoint(tiny_checkpoint, tmp_path / "x.onnx", opset=7)
    with pytest.raises(InvalidInputError, match="output folder does not exist"):
        export_checkpoint(tiny_checkpoint, tmp_path / "no" / "x.onnx")
    with pytest.raises(InvalidInputError, match="image folder not found"):
        export_checkpoint(tiny_checkpoint, tmp_path / "x.onnx", verify_images=tmp_path / "none")
    assert not (tmp_path / "x.onnx").exists()
