"""The detector registry: names, "auto", errors for unknown names, options and missing packages."""

from __future__ import annotations

import numpy as np
import pytest

import headpose.detectors as registry
from headpose.detectors import DEFAULT_DETECTOR, Detections, Detector, available, get_detector
from headpose.errors import InvalidInputError, MissingDependencyError


class _Fixed(Detector):
    name = "fixed"

    def __init__(self, score: float = 0.9) -> None:
        self.score = score

    def detect(self, image_bgr: np.ndarray) -> Detections:
        h, w = image_bgr.shape[:2]
        box = np.array([[0, 0, w, h]], np.float32)
        return Detections(box, np.array([self.score], np.float32))


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test vanish after it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_builtins_available_and_auto_is_the_measured_default() -> None:
    assert registry.registered() == ["blazeface", "yunet"]  # the two shipped detectors
    assert {"yunet", "blazeface"} <= set(available())
    assert DEFAULT_DETECTOR in available()
    assert get_detector("auto", threads=1).name == DEFAULT_DETECTOR
    assert get_detector().name == DEFAULT_DETECTOR


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(InvalidInputError) as err:
        get_detector("retinaface")
    message = str(err.value)
    assert "'retinaface'" in message
    for name in ("auto", "yunet", "blazeface"):
        assert name in message


def test_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match=r"'yunet'.*\['colour'\]"):
        get_detector("yunet", colour="red")


def test_register_and_use_a_new_detector(clean_registry: None) -> None:
    registry.register("fixed", _Fixed)
    assert "fixed" in available() and "fixed" in registry.registered()
    det = get_detector("fixed", score=0.5)
    dets = det.detect(np.zeros((10, 20, 3), np.uint8))
    assert dets.scores.tolist() == [0.5] and dets.boxes.tolist() == [[0, 0, 20, 10]]
    with pytest.raises(InvalidInputError, match="already registered"):
        registry.register("fixed", _Fixed)
    registry.register("fixed", lambda: _Fixed(0.25), replace=True)
    assert get_detector("fixed").score == 0.25


@pytest.mark.parametrize("bad_name", ["", "auto", None])
def test_register_rejects_bad_names(clean_registry: None, bad_name) -> None:
    with pytest.raises(InvalidInputError):
        registry.register(bad_name, _Fixed)


def test_missing_dependency_names_the_extra(clean_registry: None) -> None:
    hint = "pip install mediapipe"
    registry.register("needs-pkg", _Fixed, requires=[("surely_not_installed_pkg_x", hint)])
    assert "needs-pkg" not in available()
    assert "needs-pkg" in registry.registered()
    with pytest.raises(
        MissingDependencyError, match=r"surely_not_installed_pkg_x.*pip install mediapipe"
    ):
        get_detector("needs-pkg")


def test_missing_onnxruntime_names_the_cpu_extra(clean_registry: None, monkeypatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a),
    )
    assert "yunet" not in available() and "blazeface" not in available()
    with pytest.raises(MissingDependencyError, match=r"headpose-hmtl\[(cpu|gpu)\]"):
        get_detector("yunet")
