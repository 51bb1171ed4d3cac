"""headpose-export: summary on success, one-line errors and exit codes otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from headpose.export.cli import EXIT_BAD_INPUT, EXIT_FAILED, main
from headpose.metadata import read_metadata


def test_cli_exports_with_int8_and_prints_summary(
    tiny_checkpoint: Path,
    crops_dir: Path,
    calib_dir: Path,
    labelled_dir: Path,
    tmp_path: Path,
    capsys,
) -> None:
    out = tmp_path / "model.onnx"
    argv = [
        str(tiny_checkpoint),
        "-o",
        str(out),
        "--verify-images",
        str(crops_dir),
        "--verify-count",
        "3",
    ]
    argv += ["--int8", str(calib_dir), "--calib-count", "4", "--int8-eval", str(labelled_dir)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "MB, opset 17" in text
    assert "parity vs PyTorch on 3 image(s)" in text and "max |diff| angles" in text
    assert "SSL branches stripped" in text and "resnet18, method sl-puzzled" in text
    assert "int8:" in text and "MAE fp32" in text and "ms/image" in text
    int8 = tmp_path / "model.int8.onnx"
    assert int8.is_file()
    meta = read_metadata({p.key: p.value for p in onnx.load(str(int8)).metadata_props})
    assert "quantization" in meta.extra


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def test_cli_bad_input_exit_2(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    code, err = _run([str(tmp_path / "missing.pt"), "-o", str(tmp_path / "m.onnx")], capsys)
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1
    assert "missing.pt' does not exist" in err and err.startswith("headpose-export: error: ")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00" * 100)
    code, err = _run([str(corrupt), "-o", str(tmp_path / "m.onnx")], capsys)
    assert code == EXIT_BAD_INPUT and "corrupt.pt: not a readable torch checkpoint" in err
    assert "Traceback" not in err
    code, err = _run([str(tiny_checkpoint), "--int8", str(tmp_path / "none")], capsys)
    assert code == EXIT_BAD_INPUT and "'--int8'" in err and "does not exist" in err
    code, err = _run([str(tiny_checkpoint), "--int8-eval", str(tmp_path)], capsys)
    assert code == EXIT_BAD_INPUT and "--int8-eval needs --int8" in err
    code, err = _run([str(tiny_checkpoint), "--atol", "0"], capsys)
    assert code == EXIT_BAD_INPUT and "--atol" in err
    code, err = _run([str(tiny_checkpoint), "-o", str(tmp_path / "no" / "m.onnx")], capsys)
    assert code == EXIT_BAD_INPUT and "output folder does not exist" in err
    code, err = _run([str(tiny_checkpoint), "-o", str(tmp_path)], capsys)
    assert code == EXIT_BAD_INPUT and "is a folder" in err
    assert not list(tmp_path.glob("*.onnx"))
    code, err = _run(
        [str(tiny_checkpoint), "--weights", "ema", "-o", str(tmp_path / "e.onnx")], capsys
    )
    assert code == EXIT_BAD_INPUT and "tiny.pt: has no moving average of the weights" in err
    assert not (tmp_path / "e.onnx").exists()
    code, err = _run([str(tiny_checkpoint), "--opset", "x"], capsys)  # click usage errors too
    assert code == EXIT_BAD_INPUT and "'--opset'" in err and err.count("\n") == 1


def test_cli_parity_failure_exit_1(
    tiny_checkpoint: Path, crops_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import headpose.export.verify as verify

    real = verify.torch_outputs
    monkeypatch.setattr(verify, "torch_outputs", lambda m, x: tuple(v + 1.0 for v in real(m, x)))
    out = tmp_path / "m.onnx"
    code, err = _run(
        [
            str(tiny_checkpoint),
            "-o",
            str(out),
            "--verify-images",
            str(crops_dir),
            "--verify-count",
            "2",
        ],
        capsys,
    )
    assert code == EXIT_FAILED and err.startswith(
        "headpose-export: error: export failed: PARITY CHECK FAILED"
    )
    assert "ONNX output differs" in err and "not written" in err
    assert not out.exists()


def test_console_script_help() -> None:
    exe = Path(sys.executable).with_name("headpose-export")
    if not exe.exists():
        pytest.skip("headpose-export console script not installed in this environment")
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    for flag in ("--opset", "--int8", "--int8-eval", "--tensorrt", "--verify-images", "--atol"):
        assert flag in done.stdout


def test_cli_records_the_video_settings_it_is_given(
    tiny_checkpoint: Path, crops_dir: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "video.onnx"
    common = ["--verify-images", str(crops_dir), "--verify-count", "2"]
    argv = [str(tiny_checkpoint), "-o", str(out), *common, "--video", "detect_every=4"]
    assert main(argv + ["--video", "redetect_every=12"]) == 0
    meta = read_metadata({p.key: p.value for p in onnx.load(str(out)).metadata_props})
    assert meta.extra["video"] == {"detect_every": 4, "redetect_every": 12}
    capsys.readouterr()
    bad = tmp_path / "bad.onnx"
    code, err = _run(
        [str(tiny_checkpoint), "-o", str(bad), *common, "--video", "detect_every=0"], capsys
    )
    assert code == EXIT_BAD_INPUT and "detect_every: expected an integer >= 1, got 0" in err
    code, err = _run([str(tiny_checkpoint), "-o", str(bad), *common, "--video", "fps=3"], capsys)
    assert code == EXIT_BAD_INPUT and "--video: unknown key 'fps'" in err
    assert not bad.exists()


def test_cli_never_replaces_a_file_without_overwrite_nor_an_input_with_it(
    tiny_checkpoint: Path, crops_dir: Path, calib_dir: Path, tmp_path: Path, capsys
) -> None:
    """`headpose-export last.pt -o photo.jpg` replaced the photo with the model, exit 0
    (issue 40). Every file an export writes is checked before any work."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"a precious photo")
    verify = ["--verify-images", str(crops_dir), "--verify-count", "2"]
    code, err = _run([str(tiny_checkpoint), "-o", str(photo), *verify], capsys)
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1
    assert err.startswith(f"headpose-export: error: {photo}: already exists; pass --overwrite")
    assert photo.read_bytes() == b"a precious photo"
    out = tmp_path / "m.onnx"
    (tmp_path / "m.int8.onnx").write_bytes(b"an older int8 model")
    code, err = _run(
        [str(tiny_checkpoint), "-o", str(out), *verify, "--int8", str(calib_dir)], capsys
    )
    assert code == EXIT_BAD_INPUT and "m.int8.onnx: already exists" in err
    assert not out.exists()  # refused before the export, not after it
    before = tiny_checkpoint.read_bytes()
    code, err = _run([str(tiny_checkpoint), "-o", str(tiny_checkpoint), "--overwrite"], capsys)
    assert code == EXIT_BAD_INPUT and "is an input of this run" in err
    assert tiny_checkpoint.read_bytes() == before
    assert main([str(tiny_checkpoint), "-o", str(photo), *verify, "--overwrite"]) == 0
    assert onnx.load(str(photo)).graph.node  # asked for: replaced, by a whole model
    if Path("/dev/null").exists():  # a device is written, not replaced: a dry run
        assert main([str(tiny_checkpoint), "-o", "/dev/null", *verify]) == 0
        assert "wrote /dev/null" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.int8.onnx", "photo.jpg"]
