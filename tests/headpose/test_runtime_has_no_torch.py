"""The runtime never imports torch (nor onnx, timm, torchvision), even indirectly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
import headpose
from headpose import Estimator, Face
from headpose.pose_model import PoseModel
import headpose.draw, headpose.smoothing, headpose.rotation, headpose.image_io
import headpose.cli.predict, headpose.cli.webcam, headpose.detectors
import numpy as np
est = Estimator(sys.argv[1], detector=None)
faces = est.predict(np.full((64, 64, 3), 100, np.uint8), boxes=[[8, 8, 56, 56]])
assert len(faces) == 1
heavy = sorted(m for m in ("torch", "torchvision", "timm", "onnx") if m in sys.modules)
assert not heavy, heavy
print("ok")
"""


def test_runtime_imports_no_torch(tiny_model: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_model)],
        cwd=tmp_path,  # not the tests folder: import the installed package
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
