"""TensorRT step without TensorRT installed: a clear message, and only that step fails."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from headpose.errors import MissingDependencyError
from headpose.export.tensorrt import (
    NOT_INSTALLED,
    build_tensorrt_engine,
    engine_path_for,
    import_tensorrt,
)


@pytest.fixture
def no_tensorrt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` fail


def test_import_fails_with_install_hint(no_tensorrt) -> None:
    with pytest.raises(MissingDependencyError) as info:
        import_tensorrt()
    assert str(info.value) == NOT_INSTALLED
    assert "pip install tensorrt" in NOT_INSTALLED and "NVIDIA GPU" in NOT_INSTALLED


def test_build_engine_without_tensorrt_writes_nothing(exported, no_tensorrt) -> None:
    with pytest.raises(MissingDependencyError, match="TensorRT is not installed"):
        build_tensorrt_engine(exported.path)
    assert not engine_path_for(exported.path).exists()
    assert engine_path_for("/m/model.onnx") == Path("/m/model.engine")


def test_cli_tensorrt_fails_only_that_step(
    tiny_checkpoint: Path, crops_dir: Path, tmp_path: Path, no_tensorrt, capsys
) -> None:
    from headpose.export.cli import EXIT_TENSORRT, main

    out = tmp_path / "m.onnx"
    code = main(
        [
            str(tiny_checkpoint),
            "-o",
            str(out),
            "--tensorrt",
            "--verify-images",
            str(crops_dir),
            "--verify-count",
            "2",
        ]
    )
    captured = capsys.readouterr()
    assert code == EXIT_TENSORRT != 0
    assert out.is_file()  # the ONNX is written before the TensorRT step
    assert f"wrote {out}" in captured.out
    assert NOT_INSTALLED in captured.err and "Traceback" not in captured.err
