"""headpose.files: the one rule for every file a command writes (issue 40)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from headpose.files import (
    AtomicFile,
    OutputError,
    atomic_write,
    check_output,
    check_output_folder,
    remove_stale_temp_files,
    temp_path,
)


def test_check_output_rules(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = folder / "a.jpg"
    photo.write_bytes(b"original")
    new = tmp_path / "new.csv"
    assert check_output(new) == new  # a new file
    old = tmp_path / "old.csv"
    old.write_text("x")
    with pytest.raises(OutputError, match=r"old\.csv: already exists; pass --overwrite"):
        check_output(old)
    assert check_output(old, overwrite=True) == old
    for overwrite in (False, True):  # an input: never
        with pytest.raises(OutputError, match="is an input of this run.*even with --overwrite"):
            check_output(photo, overwrite, inputs=[photo])
        with pytest.raises(OutputError, match="inside the input folder"):
            check_output(photo, overwrite, inputs=[folder])
    assert check_output(folder / "new.csv", inputs=[folder])  # a new file there is no input
    with pytest.raises(OutputError, match="is a folder"):
        check_output(folder, overwrite=True)
    with pytest.raises(OutputError, match="--output .*already exists"):
        check_output(old, what="--output ")
    if os.path.exists(os.devnull) and os.name == "posix":
        assert check_output(os.devnull) == Path(os.devnull)  # exists, but not a file
        atomic_write(os.devnull, b"discarded")  # written in place, never replaced
        assert Path(os.devnull).exists() and not Path(os.devnull).is_file()


def test_output_folder_never_holds_an_input(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    with pytest.raises(OutputError, match="holds the input"):
        check_output_folder(data, [data])
    with pytest.raises(OutputError, match="holds the input"):
        check_output_folder(tmp_path, [data / "sub"])
    assert check_output_folder(tmp_path / "out", [data]) == tmp_path / "out"


def test_an_error_inside_a_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old model")

    def half_then_fail(handle) -> None:
        handle.write(b"half of a new mod")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporary file
    with pytest.raises(ValueError, match="check failed"), AtomicFile(target) as tmp:
        tmp.write_bytes(b"a new model that fails its check")
        raise ValueError("check failed")
    assert target.read_bytes() == b"old model" and not tmp.exists()
    atomic_write(target, "new text")
    assert target.read_text() == "new text"
    with (
        pytest.raises(OutputError, match="appeared while it was written"),
        AtomicFile(tmp_path / "late.txt", overwrite=False) as tmp,
    ):
        tmp.write_text("mine")
        (tmp_path / "late.txt").write_text("someone else's")
    assert (tmp_path / "late.txt").read_text() == "someone else's" and not tmp.exists()


def test_a_write_killed_half_way_leaves_the_old_file(tmp_path: Path) -> None:
    """SIGKILL in the middle of a write (nothing can clean up): the old file is intact, and the
    half-written temporary file is removed by the next run."""
    target = tmp_path / "poses.csv"
    target.write_text("old,rows\n")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from headpose.files import atomic_write\n"
            "def slow(handle):\n"
            "    handle.write(b'new,rows\\n' * 1000)\n"
            "    handle.flush()\n"
            "    print('half', flush=True)\n"
            "    time.sleep(60)\n"
            "atomic_write(sys.argv[1], slow)\n",
            str(target),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "half\n"
        half = tmp_path / f".poses.csv.tmp-{child.pid}"
        assert half.stat().st_size == 9000  # the new content, half-way
    finally:
        child.kill()
        child.wait(timeout=30)
    assert target.read_text() == "old,rows\n"
    assert remove_stale_temp_files(tmp_path) == [half]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poses.csv"]


def test_temp_name_is_hidden_beside_the_target(tmp_path: Path) -> None:
    assert temp_path(tmp_path / "m.onnx") == tmp_path / f".m.onnx.tmp-{os.getpid()}"
