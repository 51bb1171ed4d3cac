"""PoseModel: the ONNX contract, clear errors for bad files, batched prediction on crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headpose.errors import InvalidInputError, InvalidModelError
from headpose.metadata import ModelMetadata
from headpose.pose_model import PoseModel


def test_loads_metadata_and_contract(tiny_model: Path) -> None:
    model = PoseModel(tiny_model, providers=["CPUExecutionProvider"], threads=1)
    assert model.meta.backbone == "tiny-test"
    assert model.input_size == (32, 32)
    assert model.angle_names == ("yaw", "pitch", "roll")
    assert model.providers == ["CPUExecutionProvider"]
    assert "tiny-test" in repr(model)


def test_predict_crops_shapes_and_one_call(
    tiny_model: Path, aflw_crops: list[Path], spy_session
) -> None:
    import cv2

    model = PoseModel(tiny_model)
    spy = spy_session(model.session)
    model.session = spy
    crops = [cv2.imread(str(p)) for p in aflw_crops]
    crops.append(cv2.resize(crops[0], (50, 70)))  # any size: resized whole
    angles, spread = model.predict_crops(crops)
    assert angles.shape == (5, 3) and spread.shape == (5, 3)
    assert spy.batches == [5]
    assert np.isfinite(angles).all() and (spread > 0).all()
    assert not np.allclose(angles[0], angles[1])  # different faces, different answers
    # the same crop gives the same answer whatever its batch neighbours
    single, _ = model.predict_crops(crops[:1])
    assert np.allclose(single[0], angles[0], atol=1e-5)


def test_predict_crops_array_input(tiny_model: Path, crop_bgr: np.ndarray) -> None:
    model = PoseModel(tiny_model)
    batch = np.stack([crop_bgr, crop_bgr[::-1]])
    angles, spread = model.predict_crops(batch)
    assert angles.shape == (2, 3)
    empty_angles, empty_spread = model.predict_crops([])
    assert empty_angles.shape == (0, 3) and empty_spread.shape == (0, 3)
    with pytest.raises(InvalidInputError, match="wrap a single crop in a list"):
        model.predict_crops(crop_bgr)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match=r"absent\.onnx: model file not found"):
        PoseModel(tmp_path / "absent.onnx")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match="is a directory"):
        PoseModel(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(InvalidModelError, match=r"empty\.onnx: empty model file"):
        PoseModel(path)


def test_truncated_file(tmp_path: Path, tiny_model: Path) -> None:
    path = tmp_path / "truncated.onnx"
    path.write_bytes(tiny_model.read_bytes()[:200])
    with pytest.raises(InvalidModelError, match=r"truncated\.onnx: cannot load as an ONNX model"):
        PoseModel(path)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(InvalidModelError, match=r"garbage\.onnx"):
        PoseModel(path)


def test_onnx_without_headpose_metadata(make_model) -> None:
    path = make_model("plain.onnx", metadata=False)
    with pytest.raises(InvalidModelError, match=r"plain\.onnx: not a headpose model"):
        PoseModel(path)


def test_missing_output_is_named(make_model) -> None:
    path = make_model("wrong_out.onnx", outputs=("poses", "spread"))
    with pytest.raises(
        InvalidModelError, match=r"wrong_out\.onnx.*missing output\(s\) \['angles'\]"
    ):
        PoseModel(path)


def test_spread_is_optional(make_model) -> None:
    """A network without a spread output (a peer made a pool member) loads; its spread is NaN."""
    model = PoseModel(make_model("no_spread.onnx", outputs=("angles", "sigma")))
    assert not model.has_spread
    angles, spread = model.predict_crops([np.zeros((40, 40, 3), np.uint8)])
    assert np.isfinite(angles).all() and np.isnan(spread).all()


def test_wrong_input_name_is_named(make_model) -> None:
    meta = ModelMetadata(input_size=(32, 32), input_name="input")
    path = make_model("wrong_in.onnx", metadata=meta)
    with pytest.raises(InvalidModelError, match=r"wrong_in\.onnx.*missing input 'input'"):
        PoseModel(path)


def test_input_size_disagreeing_with_metadata(make_model) -> None:
    meta = ModelMetadata(input_size=(64, 64))
    path = make_model("wrong_size.onnx", metadata=meta)
    with pytest.raises(InvalidModelError, match=r"metadata says \(N, 3, 64, 64\)"):
        PoseModel(path)


def test_two_angle_model_maps_roll_to_nan(make_model, crop_bgr: np.ndarray) -> None:
    model = PoseModel(make_model("yaw_pitch.onnx", angles=("yaw", "pitch")))
    angles, spread = model.predict_crops([crop_bgr])
    assert angles.shape == (1, 2)
    full = model.to_yaw_pitch_roll(angles)
    assert np.allclose(full[0, :2], angles[0]) and np.isnan(full[0, 2])


def test_fixed_batch_model_runs_in_chunks(make_model, crop_bgr: np.ndarray, spy_session) -> None:
    model = PoseModel(make_model("batch1.onnx", batch=1))
    spy = spy_session(model.session)
    model.session = spy
    crops = [crop_bgr, crop_bgr[::-1], crop_bgr[:, ::-1]]
    angles, _ = model.predict_crops(crops)
    assert angles.shape == (3, 3) and spy.batches == [1, 1, 1]


def test_missing_onnxruntime_is_not_reported_as_a_bad_model(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from headpose import runtime
    from headpose.errors import MissingDependencyError

    monkeypatch.setattr(runtime, "_ort", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependencyError, match="pip install"):
        PoseModel(tiny_model)


def test_unavailable_provider_is_reported_as_such(tiny_model: Path) -> None:
    with pytest.raises(InvalidInputError, match="NoSuchExecutionProvider"):
        PoseModel(tiny_model, providers=["NoSuchExecutionProvider"])
