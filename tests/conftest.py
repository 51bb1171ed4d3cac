"""Shared fixtures: the read-only data folder `../shared` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HEADPOSE_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` (or $HEADPOSE_SHARED); tests that need it skip cleanly when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def crops_dir(shared_dir: Path) -> Path:
    """AFLW2000 loose crops with labels.csv (image,yaw,pitch,roll)."""
    return shared_dir / "data" / "aflw2000-crops"
