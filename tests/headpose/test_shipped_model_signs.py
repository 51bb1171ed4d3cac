"""End-to-end with the models shipped in the package: Estimator() and Estimator(model="fast") on
the pose photos get the sign of each pose right; a model name is resolved or named in the error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from headpose.errors import InvalidModelError


def _direction(path: Path) -> str:
    return re.sub(r"\d+$", "", path.stem.split("_")[1])  # pose_right1.jpg -> "right"


@pytest.fixture(scope="module")
def fast_estimator():
    from headpose.estimator import Estimator

    return Estimator(model="fast")


@pytest.mark.parametrize("which", ["shipped_estimator", "fast_estimator"])
def test_pose_photo_signs(
    which: str, request: pytest.FixtureRequest, pose_photos: list[Path]
) -> None:
    shipped_estimator = request.getfixturevalue(which)
    checks = {
        "left": lambda f: f.yaw < -5,  # pose_left faces the image's right: negative yaw
        "right": lambda f: f.yaw > 5,
        "up": lambda f: f.pitch > 3,
        "down": lambda f: f.pitch < -3,
        "mid": lambda f: abs(f.yaw) < 20,
    }
    for path in pose_photos:
        faces = shipped_estimator.predict(path)
        assert len(faces) == 1, path.name
        assert checks[_direction(path)](faces[0]), (path.name, faces[0])


def test_missing_default_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from headpose import estimator

    monkeypatch.setitem(estimator.BUNDLED_MODELS, "default", "not_shipped.onnx")
    with pytest.raises(InvalidModelError, match="not_shipped.onnx.*pass model="):
        estimator.Estimator(detector=None)


def test_fast_model_is_one_pass_and_calibrated() -> None:
    from headpose.estimator import Estimator

    est = Estimator(model="fast", detector=None)
    meta = est.model.meta
    assert meta.input_size == (112, 112) and meta.backbone == "efficientnet_lite0_aa"
    # its recommended video setting (docs/MODEL_CARD.md): the
    # detector every 4th frame, the boxes following the image in between, half-way to each
    # new detection
    assert est.video.detect_every == 4 and est.video.box_shift and est.video.box_shift_gain == 0.5
    plain = Estimator(detector=None).video
    assert plain.detect_every == 1 and not plain.box_shift
    assert "ensemble" not in meta.extra and not meta.extra.get("flip_average", False)
    # calibrated out of fold (tools/calibrate_oof.sh): rows of 3 fold models over the training
    # split, their spreads scaled to this model's
    cal = meta.calibration
    assert cal is not None and cal.n == (1093, 985, 985)
    assert "scaled by the training-face medians" in cal.data


def test_default_model_is_calibrated_out_of_fold() -> None:
    from headpose.estimator import Estimator

    cal = Estimator(detector=None).model.meta.calibration
    assert cal is not None and cal.n == (1093, 985, 985)
    assert "scaled by the training-face medians" in cal.data


def test_unknown_model_name_lists_the_shipped_ones() -> None:
    from headpose.errors import InvalidInputError
    from headpose.estimator import Estimator

    with pytest.raises(InvalidInputError, match=r"'fastest'.*\['default', 'fast'\]"):
        Estimator(model="fastest", detector=None)


def test_model_name_default_is_the_default_model() -> None:
    from headpose.estimator import Estimator, default_model_path

    assert Estimator(model="default", detector=None).model.path == default_model_path()
