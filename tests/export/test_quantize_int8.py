"""Static int8 (QDQ U8S8 per-channel) quantization of the exported tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from headpose.errors import InvalidInputError
from headpose.export.images import list_images, preprocess_crops
from headpose.export.quantize import (
    QUANTIZATION,
    compare_int8,
    decode_tail_nodes,
    int8_path_for,
    quantize_int8,
    unshare_initializers,
)
from headpose.metadata import read_metadata


@pytest.fixture(scope="module")
def int8_model(exported, calib_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("int8") / "tiny.int8.onnx"
    return quantize_int8(exported.path, calib_dir, output_path=out, calib_limit=8)


def _run(path: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return tuple(session.run(["angles", "spread"], {"image": x}))


def test_int8_is_smaller_keeps_metadata_and_float_outputs(exported, int8_model: Path) -> None:
    assert int8_model.stat().st_size < 0.4 * exported.path.stat().st_size
    model = onnx.load(str(int8_model))
    meta = read_metadata({p.key: p.value for p in model.metadata_props}, str(int8_model))
    assert meta.extra["quantization"] == QUANTIZATION and meta.extra["calibration_images"] == 8
    assert meta.input_size == exported.metadata.input_size
    assert meta.bins == exported.metadata.bins and meta.backbone == exported.metadata.backbone
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and "ConvInteger" not in ops
    for output in model.graph.output:
        assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    # the decoding tail (softmax expectation / spread) stays float: no QDQ right after Softmax
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
    consumers = [n for n in model.graph.node if softmax.output[0] in n.input]
    assert consumers and all(n.op_type != "QuantizeLinear" for n in consumers)


def test_int8_predictions_close_to_fp32(exported, int8_model: Path, crops_dir: Path) -> None:
    x = preprocess_crops(list_images(crops_dir / "images")[100:116], exported.metadata)
    fp32_angles, fp32_spread = _run(exported.path, x)
    int8_angles, int8_spread = _run(int8_model, x)
    assert int8_angles.dtype == np.float32 and int8_angles.shape == fp32_angles.shape
    diff = np.abs(int8_angles - fp32_angles).mean(axis=0)
    spread_between_images = fp32_angles.std(axis=0)
    assert (diff < 5.0).all(), diff
    assert (diff < 0.3 * spread_between_images).all(), (diff, spread_between_images)
    assert np.abs(int8_spread - fp32_spread).mean() < 5.0


def test_compare_int8_report(exported, int8_model: Path, labelled_dir: Path) -> None:
    report = compare_int8(exported.path, int8_model, eval_dir=labelled_dir, runs=3)
    assert report.n_eval == 12
    assert set(report.mae_fp32) == {"yaw", "pitch", "roll"}
    for name in ("yaw", "pitch", "roll"):
        assert np.isfinite(report.mae_fp32[name]) and np.isfinite(report.mae_int8[name])
        assert abs(report.mae_int8[name] - report.mae_fp32[name]) < 5.0
    # independent check of the fp32 MAE, NaN (empty) labels skipped
    rows = [r.split(",") for r in (labelled_dir / "labels.csv").read_text().splitlines()[1:]]
    x = preprocess_crops([labelled_dir / r[0] for r in rows], exported.metadata)
    angles, _ = _run(exported.path, x)
    for col, name in enumerate(("yaw", "pitch", "roll")):
        errors = [abs(angles[i, col] - float(r[col + 1])) for i, r in enumerate(rows) if r[col + 1]]
        assert report.mae_fp32[name] == pytest.approx(np.mean(errors), abs=1e-3)
    assert report.ms_fp32 > 0 and report.ms_int8 > 0
    assert report.int8_mb < report.fp32_mb
    text = report.summary()
    assert "MAE fp32" in text and "ms/image" in text and "12 labelled images" in text
    speed_only = compare_int8(exported.path, int8_model, sample_dir=labelled_dir, runs=2)
    assert speed_only.n_eval == 0 and "MAE" not in speed_only.summary()


def test_quantize_errors(exported, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no images found"):
        quantize_int8(exported.path, tmp_path, output_path=tmp_path / "q.onnx")
    assert not (tmp_path / "q.onnx").exists()
    assert int8_path_for("/a/model.onnx") == Path("/a/model.int8.onnx")


def test_quantize_never_replaces_a_file_unasked_nor_an_input(
    exported, calib_dir: Path, int8_model: Path, tmp_path: Path
) -> None:
    """quantize_int8 replaced whatever file was at its output (issue 40)."""
    notes = tmp_path / "notes.onnx"
    notes.write_bytes(b"not a model")
    with pytest.raises(InvalidInputError, match="notes.onnx: already exists; pass --overwrite"):
        quantize_int8(exported.path, calib_dir, output_path=notes, calib_limit=2)
    assert notes.read_bytes() == b"not a model"
    before = exported.path.read_bytes()
    with pytest.raises(InvalidInputError, match="is an input of this run"):
        quantize_int8(exported.path, calib_dir, exported.path, calib_limit=2, overwrite=True)
    crop = sorted(calib_dir.iterdir())[0]  # a calibration image: in an input folder
    crop_bytes = crop.read_bytes()
    with pytest.raises(InvalidInputError, match="inside the input folder"):
        quantize_int8(exported.path, calib_dir, crop, calib_limit=2, overwrite=True)
    assert exported.path.read_bytes() == before and crop.read_bytes() == crop_bytes
    quantize_int8(exported.path, calib_dir, output_path=notes, calib_limit=2, overwrite=True)
    assert onnx.load(str(notes)).graph.node
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.onnx"]  # no temporary file


def test_graph_passes_on_a_small_graph() -> None:
    h = onnx.helper
    w = onnx.numpy_helper.from_array(np.ones((2, 2), np.float32), "w")
    nodes = [
        h.make_node("Identity", ["w"], ["w2"], name="id"),
        h.make_node("MatMul", ["x", "w"], ["a"], name="mm1"),
        h.make_node("MatMul", ["a", "w2"], ["b"], name="mm2"),
        h.make_node("MatMul", ["b", "w"], ["c"], name="mm3"),
        h.make_node("Softmax", ["c"], ["p"], name="sm"),
        h.make_node("ReduceSum", ["p"], ["y"], name="sum"),
    ]
    vi = [h.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, 2]) for n in ("x", "y")]
    model = h.make_model(h.make_graph(nodes, "g", vi[:1], vi[1:], [w]))
    assert decode_tail_nodes(model) == ["sm", "sum"]
    unshare_initializers(model)
    weights = [list(n.input)[1] for n in model.graph.node if n.op_type == "MatMul"]
    assert len(set(weights)) == 3  # each MatMul now has its own weight tensor
    assert "Identity" not in {n.op_type for n in model.graph.node}
    onnx.checker.check_model(model)
