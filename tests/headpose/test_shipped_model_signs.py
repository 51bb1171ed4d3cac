"""End-to-end with the model shipped in the package (skips until it is built): Estimator()
on the pose photos gets the sign of each pose right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from headpose.errors import InvalidModelError


def _direction(path: Path) -> str:
    return re.sub(r"\d+$", "", path.stem.split("_")[1])  # pose_right1.jpg -> "right"


def test_pose_photo_signs(shipped_estimator, pose_photos: list[Path]) -> None:
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

    monkeypatch.setattr(estimator, "DEFAULT_MODEL", "not_shipped.onnx")
    with pytest.raises(InvalidModelError, match="not_shipped.onnx.*pass model="):
        estimator.Estimator(detector=None)
