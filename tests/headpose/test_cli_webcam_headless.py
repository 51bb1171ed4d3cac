"""headpose-webcam with a video file as the source: headless FPS, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.cli import webcam
from headpose.detectors.base import Detections
from headpose.estimator import Estimator
from headpose.smoothing import DEFAULT_SMOOTHING


def _needs_detector() -> None:
    from headpose import detectors

    if "yunet" not in getattr(detectors, "available", lambda: [])():
        pytest.skip("yunet detector not available")


def test_headless_frames_prints_fps(tiny_video: Path, tiny_model: Path) -> None:
    _needs_detector()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "headpose.cli.webcam",
            "--headless",
            "--frames",
            "5",
            "--source",
            str(tiny_video),
            "--model",
            str(tiny_model),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("5 frames,") and "FPS" in result.stdout


def test_unopenable_source_is_a_clear_error(tmp_path: Path, tiny_model: Path, capsys) -> None:
    _needs_detector()
    code = webcam.main(
        ["--headless", "--source", str(tmp_path / "none.avi"), "--model", str(tiny_model)]
    )
    assert code == 2
    assert "cannot open video file" in capsys.readouterr().err


def test_window_without_gui_says_what_to_do(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DISPLAY", ":0")  # a display, but a GUI-less OpenCV
    monkeypatch.setattr(webcam, "gui_available", lambda: False)
    assert webcam.main([]) == 2
    err = capsys.readouterr().err
    assert "--headless" in err and "opencv-python" in err


def _no_display_env() -> dict[str, str]:
    import os

    drop = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="X11/Wayland only")
def test_window_without_display_is_one_line_not_an_abort(tiny_model: Path) -> None:
    """Qt aborted the process (exit 134, lines of Qt errors) before the tool could say
    anything when there was no display (issue 40)."""
    result = subprocess.run(
        [sys.executable, "-m", "headpose.cli.webcam", "--camera", "0", "--model", str(tiny_model)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_no_display_env(),
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("headpose-webcam: error: no display") and "--headless" in line


def test_missing_camera_is_the_tools_line_only(tiny_model: Path) -> None:
    """OpenCV's own "[ERROR:0@0.350] ... Camera index out of range" came before the tool's
    line (issue 40)."""
    _needs_detector()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "headpose.cli.webcam",
            "--headless",
            "--camera",
            "9",
            "--frames",
            "1",
            "--model",
            str(tiny_model),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_no_display_env(),
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        "headpose-webcam: error: cannot open camera 9 (is it connected and free? try --camera 1)"
    )


def test_run_with_injected_source_and_display(tiny_model: Path, pose_photos: list[Path]) -> None:
    class Source:
        def __init__(self) -> None:
            self.frames = [cv2.imread(str(p)) for p in pose_photos[:4]]

        def read(self):
            return (True, self.frames.pop(0)) if self.frames else (False, None)

    class Det:
        def detect(self, image):
            return Detections(
                np.array([[250, 120, 430, 350]], np.float32), np.array([0.9], np.float32)
            )

    shown: list[np.ndarray] = []

    def show(frame: np.ndarray) -> bool:
        shown.append(frame)
        return len(shown) < 3  # "q" pressed on the third frame

    count, fps = webcam.run(Source(), Estimator(tiny_model, detector=Det()), show=show)
    assert count == 3 and fps > 0
    assert shown[0].shape == (480, 640, 3)


def test_smoothing_settings_reach_the_estimator(
    tiny_video: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_detector()
    seen = {}

    def fake_run(capture, est, **kwargs):
        seen.update(est.smoothing, smooth=est.smooth)
        return 1, 30.0

    monkeypatch.setattr(webcam, "run", fake_run)
    argv = ["--headless", "--source", str(tiny_video), "--model", str(tiny_model)]
    assert webcam.main([*argv, "--smoothing", "2"]) == 0
    assert seen["min_cutoff"] == DEFAULT_SMOOTHING["min_cutoff"] / 2 and seen["smooth"] is True
    assert webcam.main([*argv, "--no-smoothing"]) == 0 and seen["smooth"] is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--smoothing", "min_cutoff=0.1"], "'min_cutoff=0.1' is not a valid float"),
        (["--smoothing", "2", "--no-smoothing"], "give one of them"),
        (["--smoothing", "strong"], "'strong' is not a valid float"),
        (["--smoothing", "-1"], "-1.0 is not in the range x>0"),
    ],
)
def test_bad_smoothing_is_named(
    tiny_video: Path, tiny_model: Path, capsys, extra: list[str], message: str
) -> None:
    _needs_detector()
    argv = ["--headless", "--source", str(tiny_video), "--model", str(tiny_model)]
    assert webcam.main([*argv, *extra]) == 2
    assert message in capsys.readouterr().err
