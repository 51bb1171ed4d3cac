"""What the five command lines share (click): --version, one-line usage errors with exit 2,
key=value overrides anywhere, and a clear "install this extra" message on a runtime-only
install instead of a traceback."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from headpose._version import __version__
from headpose.cli.options import DIST_NAME

CLIS = {
    "headpose-predict": "headpose.cli.predict",
    "headpose-webcam": "headpose.cli.webcam",
    "headpose-train": "headpose.training.cli.train",
    "headpose-eval": "headpose.training.cli.eval",
    "headpose-export": "headpose.export.cli",
}


def _main(prog: str):
    return importlib.import_module(CLIS[prog]).main


@pytest.mark.parametrize("prog", sorted(CLIS))
def test_version(prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(prog)(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"{prog} {__version__} (distribution {DIST_NAME})"


@pytest.mark.parametrize("prog", sorted(CLIS))
def test_unknown_option_is_one_line_exit_2(prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(prog)(["--zzz"]) == 2
    err = capsys.readouterr().err
    assert err == f"{prog}: error: No such option '--zzz'.\n"


@pytest.mark.parametrize("prog", sorted(CLIS))
def test_help_exits_0(prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(prog)(["--help"]) == 0
    assert "--version" in capsys.readouterr().out


def test_eval_dead_no_detect_option_is_gone(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("headpose-eval")(["--no-detect"]) == 2
    assert "No such option '--no-detect'" in capsys.readouterr().err


def test_overrides_anywhere_on_the_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["name=x", "--config", "cpu/sl_resnet18_128", "--print-config", "optim.epochs=1"]
    assert _main("headpose-train")(argv) == 0
    out = capsys.readouterr().out
    assert "name: x" in out and "epochs: 1" in out


def test_bad_override_and_bad_range_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("headpose-train")(["--print-config", "optim.epochs"]) == 2
    assert "expected key=value" in capsys.readouterr().err
    assert _main("headpose-predict")(["x.jpg", "--every", "0"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("headpose-predict: error: Invalid value for '--every'")
        and err.count("\n") == 1
    )


def test_unknown_detector_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("headpose-predict")(["x.jpg", "--detector", "nope"]) == 2
    assert "'nope' is not one of auto, blazeface, yunet, none" in capsys.readouterr().err
    assert _main("headpose-webcam")(["--detector", "none", "--headless"]) == 2
    assert "this command needs a face detector, one of auto," in capsys.readouterr().err


BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "timm", "onnx", "yaml", "scipy"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import importlib
main = importlib.import_module(sys.argv[1]).main
code = main(sys.argv[2:])
heavy = sorted(m for m in ("torch", "yaml", "onnx", "scipy") if m in sys.modules)
print("exit", code, "heavy", heavy)
"""


def _runtime_only(tmp_path: Path, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a CLI with torch, timm, onnx, pyyaml and scipy unimportable (a `.[cpu]` install)."""
    return subprocess.run(
        [sys.executable, "-c", BLOCK, module, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("prog", "args", "extra"),
    [
        ("headpose-train", ["--config", "cpu/sl_resnet18_128"], "train"),
        ("headpose-export", ["CKPT"], "export"),
        ("headpose-eval", ["--checkpoint", "CKPT", "--data", "DATA"], "train"),
    ],
)
def test_runtime_only_install_names_the_extra(
    prog: str, args: list[str], extra: str, tmp_path: Path, crops_dir: Path
) -> None:
    ckpt = tmp_path / "x.pt"
    ckpt.write_bytes(b"x")
    args = [str(ckpt) if a == "CKPT" else str(crops_dir) if a == "DATA" else a for a in args]
    result = _runtime_only(tmp_path, CLIS[prog], *args)
    assert "Traceback" not in result.stderr, result.stderr
    assert f'pip install "{DIST_NAME}[{extra}]"' in result.stderr
    assert result.stderr.startswith(f"{prog}: error: this command needs the [{extra}] extra")
    assert result.stdout.startswith("exit 2")


def test_eval_of_an_onnx_model_needs_no_torch(
    tmp_path: Path, tiny_model: Path, crops_dir: Path
) -> None:
    import shutil

    lines = (crops_dir / "labels.csv").read_text().splitlines()
    (tmp_path / "data" / "images").mkdir(parents=True)
    for row in lines[1:7]:
        shutil.copy(crops_dir / row.split(",")[0], tmp_path / "data" / row.split(",")[0])
    (tmp_path / "data" / "labels.csv").write_text("\n".join(lines[:7]) + "\n")
    result = _runtime_only(
        tmp_path, CLIS["headpose-eval"], "--model", str(tiny_model), "--data", "data", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert '"n": 6' in result.stdout and "exit 0 heavy []" in result.stdout
