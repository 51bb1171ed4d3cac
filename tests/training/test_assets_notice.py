"""Every training-time asset is listed in training/assets/NOTICE.md with its sha256."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import headpose.training

ASSETS = Path(headpose.training.__file__).parent / "assets"


def test_notice_lists_each_asset_with_its_sha256() -> None:
    notice = (ASSETS / "NOTICE.md").read_text()
    listed = dict(re.findall(r"\| `([^`]+)` \| `([0-9a-f]{64})` \|", notice))
    assets = sorted(p.name for p in ASSETS.iterdir() if p.suffix in (".onnx", ".obj"))
    assert assets and sorted(listed) == assets
    for name in assets:
        digest = hashlib.sha256((ASSETS / name).read_bytes()).hexdigest()
        assert listed[name] == digest, f"NOTICE.md has a stale sha256 for {name}"
