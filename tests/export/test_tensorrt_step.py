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


class _FakeTensorRT:
    """Just enough of the TensorRT 10 Python API to drive build_tensorrt_engine."""

    class Logger:
        WARNING = 2

        def __init__(self, level: int) -> None:
            self.level = level

    class MemoryPoolType:
        WORKSPACE = "workspace"

    class BuilderFlag:
        FP16 = "fp16"

    class NetworkDefinitionCreationFlag:
        EXPLICIT_BATCH = 0

    def __init__(self, parse_ok: bool = True) -> None:
        self.calls: dict = {"profile": {}, "flags": []}
        fake = self

        class Profile:
            def set_shape(self, name, lo, opt, hi):
                fake.calls["profile"][name] = (lo, opt, hi)

        class Config:
            def set_memory_pool_limit(self, pool, size):
                fake.calls["workspace"] = size

            def set_flag(self, flag):
                fake.calls["flags"].append(flag)

            def add_optimization_profile(self, profile):
                fake.calls["profiles_added"] = True

        class Builder:
            platform_has_fast_fp16 = True

            def __init__(self, logger):
                pass

            def create_network(self, flags):
                return object()

            def create_builder_config(self):
                return Config()

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                return b"ENGINE"

        class OnnxParser:
            num_errors = 0 if parse_ok else 1

            def __init__(self, network, logger):
                pass

            def parse(self, data: bytes) -> bool:
                fake.calls["parsed_bytes"] = len(data)
                return parse_ok

            def get_error(self, i):
                return "unsupported op Foo"

        self.Builder, self.OnnxParser = Builder, OnnxParser


def test_engine_build_with_tensorrt_api(exported, tmp_path: Path, monkeypatch) -> None:
    import json

    fake = _FakeTensorRT()
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    engine = build_tensorrt_engine(exported.path, tmp_path / "m.engine", max_batch=8)
    assert engine.read_bytes() == b"ENGINE"
    sidecar = json.loads((tmp_path / "m.engine.json").read_text())
    assert sidecar["input_size"] == [64, 64] and sidecar["backbone"] == "resnet18"
    assert fake.calls["profile"]["image"] == ((1, 3, 64, 64), (1, 3, 64, 64), (8, 3, 64, 64))
    assert fake.calls["flags"] == ["fp16"] and fake.calls["parsed_bytes"] > 1_000_000

    monkeypatch.setitem(sys.modules, "tensorrt", _FakeTensorRT(parse_ok=False))
    from headpose.export.errors import ExportError

    with pytest.raises(ExportError, match="cannot parse the ONNX model: unsupported op Foo"):
        build_tensorrt_engine(exported.path, tmp_path / "bad.engine")
    assert not (tmp_path / "bad.engine").exists()
