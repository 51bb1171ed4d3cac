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


class _Payload:
    """Unpickling this creates a folder: stands in for the code a crafted checkpoint runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


@pytest.fixture(scope="session")
def pickle_payload():
    """``write(path, marker)``: a torch file shaped like a state dict whose unpickling runs
    ``os.mkdir(marker)`` (so a test can see whether anything in it was executed)."""
    torch = pytest.importorskip("torch")

    def write(path: Path, marker: Path) -> Path:
        torch.save({"state_dict": {"w": torch.zeros(1)}, "x": _Payload(marker)}, path)
        return path

    return write
