"""Calibrated uncertainty in the runtime: metadata round trip, backward compatibility, Face fields."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.errors import InvalidModelError
from headpose.estimator import Estimator
from headpose.metadata import Calibration, ModelMetadata, read_metadata
from headpose.pose_model import PoseModel

CAL = Calibration(
    intercept=(1.0, 2.0, 0.5),
    slope=(0.1, 0.2, 0.05),
    interval_factor=(2.0, 1.5, 3.0),
    data="test faces",
    n=(100, 90, 90),
)


def test_uncalibrated_metadata_json_is_unchanged() -> None:
    meta = ModelMetadata(backbone="b", license="MIT")
    raw = json.loads(meta.to_json())
    assert "calibration" not in raw  # old readers and old files see the same JSON
    back = ModelMetadata.from_json(meta.to_json())
    assert back.calibration is None and back == meta


def test_calibration_round_trip() -> None:
    meta = ModelMetadata(backbone="b", calibration=CAL)
    back = ModelMetadata.from_json(meta.to_json())
    assert back.calibration == CAL
    spread = np.array([[10.0, 20.0, 30.0]])
    np.testing.assert_allclose(CAL.expected_error(spread), [[2.0, 6.0, 2.0]])
    np.testing.assert_allclose(CAL.interval(spread), [[4.0, 9.0, 6.0]])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slope": [0.1, 0.2]}, "calibration.slope"),
        ({"slope": [0.1, -0.2, 0.05]}, "slope >= 0"),
        ({"interval_factor": [2.0, 0.0, 3.0]}, "calibration.interval_factor"),
        ({"coverage": 1.5}, "calibration.coverage"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_calibration_is_refused_naming_the_field(change: dict, field: str) -> None:
    raw = json.loads(ModelMetadata(calibration=CAL).to_json())
    raw["calibration"].update(change)
    with pytest.raises(InvalidModelError, match=field) as info:
        read_metadata({"headpose": json.dumps(raw)}, source="m.onnx")
    assert "m.onnx" in str(info.value)


def test_calibrated_model_reports_expected_error(
    make_model: Callable[..., Path], aflw_crops: list[Path]
) -> None:
    meta = ModelMetadata(input_size=(32, 32), backbone="tiny-test", calibration=CAL)
    path = make_model("calibrated.onnx", metadata=meta)
    model = PoseModel(path)
    assert model.calibrated
    faces = Estimator(model, detector=None).predict_crops([str(p) for p in aflw_crops])
    _, spread = model.predict_crops([cv2.imread(str(p)) for p in aflw_crops])
    for face, s in zip(faces, spread, strict=True):
        expected = np.array(CAL.intercept) + np.array(CAL.slope) * s
        np.testing.assert_allclose(face.expected_error, expected, rtol=1e-6)
        np.testing.assert_allclose(face.interval90, np.array(CAL.interval_factor) * expected)
        assert face.uncertainty == pytest.approx(expected.mean())
        assert face.spread == pytest.approx(tuple(s))  # the raw spread is still there
        d = face.to_dict()
        json.dumps(d, allow_nan=False)
        assert d["expected_error"]["pitch"] == pytest.approx(expected[1])
        assert d["interval90"]["roll"] == pytest.approx(CAL.interval_factor[2] * expected[2])


def test_uncalibrated_model_keeps_spread_meaning(tiny_model: Path, aflw_crops: list[Path]) -> None:
    model = PoseModel(tiny_model)
    assert not model.calibrated and model.calibrate(np.ones((1, 3))) is None
    face = Estimator(model, detector=None).predict_crops([str(aflw_crops[0])])[0]
    assert face.expected_error is None and face.interval90 is None
    assert face.uncertainty == pytest.approx(np.mean(face.spread))
    d = face.to_dict()
    assert d["expected_error"] is None and d["interval90"] is None


def test_two_angle_calibrated_model_has_no_roll_error(
    make_model: Callable[..., Path], aflw_crops: list[Path]
) -> None:
    cal = Calibration(intercept=(1.0, 1.0), slope=(0.1, 0.1), interval_factor=(2.0, 2.0))
    meta = ModelMetadata(input_size=(32, 32), angles=("yaw", "pitch"), calibration=cal)
    path = make_model("calibrated2.onnx", angles=("yaw", "pitch"), metadata=meta)
    face = Estimator(path, detector=None).predict_crops([str(aflw_crops[0])])[0]
    assert np.isnan(face.expected_error[2]) and np.isfinite(face.expected_error[:2]).all()
    assert face.uncertainty == pytest.approx(np.mean(face.expected_error[:2]))
    assert face.to_dict()["expected_error"]["roll"] is None


def test_calibration_with_wrong_angle_count_is_refused(make_model: Callable[..., Path]) -> None:
    meta = ModelMetadata(input_size=(32, 32), angles=("yaw", "pitch"), calibration=CAL)
    path = make_model("bad_cal.onnx", angles=("yaw", "pitch"), metadata=meta)
    with pytest.raises(InvalidModelError, match="one per angle"):
        PoseModel(path)


def test_shipped_models_metadata_reads_back_identically() -> None:
    """Both shipped models carry a calibration, and their metadata JSON survives a read/write
    cycle unchanged (the uncalibrated format is checked above)."""
    from headpose.estimator import bundled_model_path
    from headpose.metadata import METADATA_KEY

    for name in ("default", "fast"):
        model = PoseModel(bundled_model_path(name), threads=1)
        stored = dict(model.session.get_modelmeta().custom_metadata_map)[METADATA_KEY]
        assert model.meta.calibration is not None and model.meta.to_json() == stored
