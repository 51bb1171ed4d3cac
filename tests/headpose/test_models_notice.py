"""Every model file shipped in the package is listed in models/NOTICE.md with its sha256, and the
default pose model states its non-commercial licence in its own metadata."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

import headpose

MODELS = Path(headpose.__file__).parent / "models"


def test_notice_lists_each_shipped_model_with_its_sha256() -> None:
    notice = (MODELS / "NOTICE.md").read_text()
    listed = dict(re.findall(r"\| `([^`]+\.onnx)` \| `([0-9a-f]{64})` \|", notice))
    shipped = sorted(p.name for p in MODELS.glob("*.onnx"))
    assert shipped and sorted(listed) == shipped
    for name in shipped:
        digest = hashlib.sha256((MODELS / name).read_bytes()).hexdigest()
        assert listed[name] == digest, f"NOTICE.md has a stale sha256 for {name}"


@pytest.mark.parametrize("name", ["default", "fast"])
def test_shipped_pose_model_metadata_states_its_licence_and_recipe(name: str) -> None:
    from headpose.estimator import BUNDLED_MODELS
    from headpose.pose_model import PoseModel

    path = MODELS / BUNDLED_MODELS[name]
    meta = PoseModel(path).meta
    assert "non-commercial" in meta.license
    assert meta.angles == ("yaw", "pitch", "roll")
    assert path.stat().st_size <= 25e6  # the size limit for a shipped model
