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
    assert 'pip install "tensorrt>=10,<11"' in NOT_INSTALLED and "NVIDIA GPU" in NOT_INSTALLED


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
    """Just enough of the TensorRT 10 Python API (``version``) to drive the engine build; with
    ``version="11..."`` the weak-typing API TensorRT 11 removed is gone, as in the real one."""

    class Logger:
        WARNING = 2

        def __init__(self, level: int) -> None:
            self.level = level

    class MemoryPoolType:
        WORKSPACE = "workspace"

    class NetworkDefinitionCreationFlag:
        EXPLICIT_BATCH = 0

    def __init__(self, parse_ok: bool = True, version: str = "10.9.0.34") -> None:
        self.__version__ = version
        self.calls: dict = {"profile": {}, "flags": []}
        fake = self
        tensorrt_10 = version.startswith("10.")
        if tensorrt_10:

            class BuilderFlag:
                FP16 = "fp16"

            self.BuilderFlag = BuilderFlag

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
            if tensorrt_10:
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


@pytest.fixture
def engine_runs_like_onnx(monkeypatch: pytest.MonkeyPatch):
    """Replace the GPU run of the engine by the ONNX model on the CPU, plus ``offset`` degrees."""
    from headpose.export import tensorrt as T
    from headpose.export.ort_session import cpu_session, run_batched

    state = {"offset": 0.0, "batches": [], "onnx": None}

    def run_engine(trt, engine, input_name, inputs, max_batch):
        assert engine == b"ENGINE"
        state["batches"].append(max_batch)
        angles, spread = run_batched(cpu_session(state["onnx"]), inputs, batch_size=max_batch)
        return angles + state["offset"], spread

    monkeypatch.setattr(T, "run_engine", run_engine)
    return state


def test_engine_build_with_tensorrt_10(
    exported, tmp_path: Path, monkeypatch, engine_runs_like_onnx, crops_dir: Path
) -> None:
    import json

    from headpose.export.tensorrt import build_and_check
    from headpose.runtime import TRT_BATCH

    engine_runs_like_onnx["onnx"] = exported.path
    fake = _FakeTensorRT()
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    report = build_and_check(
        exported.path, tmp_path / "m.engine", verify_images=crops_dir / "images", verify_count=4
    )
    assert report.path.read_bytes() == b"ENGINE"
    sidecar = json.loads((tmp_path / "m.engine.json").read_text())
    assert sidecar["input_size"] == [64, 64] and sidecar["backbone"] == "resnet18"
    lo, opt, hi = TRT_BATCH  # the batch sizes the runtime sends (PoseModel keeps within hi)
    assert fake.calls["profile"]["image"] == ((lo, 3, 64, 64), (opt, 3, 64, 64), (hi, 3, 64, 64))
    assert fake.calls["flags"] == ["fp16"] and fake.calls["parsed_bytes"] > 1_000_000
    assert report.precision == "fp16" and report.n_images == 4
    assert report.max_diff_angles == 0.0 and "vs ONNX on 4 image(s)" in report.summary()

    monkeypatch.setitem(sys.modules, "tensorrt", _FakeTensorRT(parse_ok=False))
    from headpose.export.errors import ExportError

    with pytest.raises(ExportError, match="cannot parse the ONNX model: unsupported op Foo"):
        build_tensorrt_engine(exported.path, tmp_path / "bad.engine")
    assert not (tmp_path / "bad.engine").exists()


def test_engine_that_differs_from_the_onnx_is_not_written(
    exported, tmp_path: Path, monkeypatch, engine_runs_like_onnx, crops_dir: Path
) -> None:
    from headpose.export.errors import ParityError

    engine_runs_like_onnx["onnx"] = exported.path
    engine_runs_like_onnx["offset"] = 0.8  # e.g. an fp16 overflow in the decoding
    monkeypatch.setitem(sys.modules, "tensorrt", _FakeTensorRT())
    with pytest.raises(ParityError, match=r"differs from the ONNX.*angles 0\.8"):
        build_tensorrt_engine(
            exported.path, tmp_path / "m.engine", verify_images=crops_dir / "images"
        )
    assert not (tmp_path / "m.engine").exists() and not (tmp_path / "m.engine.json").exists()


def test_engine_never_replaces_an_existing_file_unasked(
    exported, tmp_path: Path, monkeypatch, engine_runs_like_onnx, crops_dir: Path
) -> None:
    """The engine and its .json were written over any file at their names (issue 40)."""
    from headpose.errors import InvalidInputError

    engine_runs_like_onnx["onnx"] = exported.path
    monkeypatch.setitem(sys.modules, "tensorrt", _FakeTensorRT())
    (tmp_path / "m.engine.json").write_text("kept")
    with pytest.raises(InvalidInputError, match=r"m\.engine\.json: already exists"):
        build_tensorrt_engine(exported.path, tmp_path / "m.engine")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.engine.json"]
    assert (tmp_path / "m.engine.json").read_text() == "kept"
    with pytest.raises(InvalidInputError, match="is an input of this run"):
        build_tensorrt_engine(exported.path, exported.path, overwrite=True)
    engine = build_tensorrt_engine(
        exported.path, tmp_path / "m.engine", verify_images=crops_dir / "images", overwrite=True
    )
    assert (
        engine.read_bytes() == b"ENGINE"
        and "input_size" in (tmp_path / "m.engine.json").read_text()
    )


def test_tensorrt_11_refuses_fp16_instead_of_building_fp32(
    exported, tmp_path: Path, monkeypatch, engine_runs_like_onnx, crops_dir: Path
) -> None:
    from headpose.export.errors import ExportError

    engine_runs_like_onnx["onnx"] = exported.path
    fake = _FakeTensorRT(version="11.4.1.0")
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    with pytest.raises(ExportError, match=r"TensorRT 11 removed the fp16 builder flag.*<11"):
        build_tensorrt_engine(exported.path, tmp_path / "m.engine")
    assert not (tmp_path / "m.engine").exists()
    engine = build_tensorrt_engine(
        exported.path, tmp_path / "m.engine", fp16=False, verify_images=crops_dir / "images"
    )
    assert engine.is_file() and fake.calls["flags"] == []
    monkeypatch.setitem(sys.modules, "tensorrt", _FakeTensorRT(version="8.6.1"))
    with pytest.raises(ExportError, match="too old"):
        build_tensorrt_engine(exported.path, tmp_path / "old.engine")


def test_bin_decoding_survives_fp16() -> None:
    """The spread formula of the graph, run in fp16 (as an fp16 engine would): its squares stay
    far from fp16's limit (65504) even for +-180 deg bins, where the plain formula overflows."""
    import torch

    from headpose.metadata import Bins
    from headpose.training.bins import bin_centres, moments_from_centres, spread_from_probs

    bins = Bins(width=1.0, count=360, low=-180.0)
    centres = bin_centres(bins)
    logits = torch.full((2, 360), -30.0)
    logits[0, 0] = logits[0, -1] = 0.0  # half at -179.5, half at +179.5: spread 179.5
    logits[1, 0] = 0.0  # all at -179.5: (179.5 + 179.5)^2 for the other end
    _, ref_spread = moments_from_centres(logits, centres)
    probs, c = torch.softmax(logits, -1).half(), centres.half()
    mean = probs @ c
    naive = (probs * (c - mean.unsqueeze(-1)) ** 2).sum(-1)
    assert not torch.isfinite(naive[1])  # the plain formula overflows in fp16 (inf * 0)
    spread = spread_from_probs(probs, c, mean)
    assert spread.dtype == torch.float16 and torch.isfinite(spread).all()
    assert torch.allclose(spread.float(), ref_spread, atol=0.5)
    assert ref_spread[0] == pytest.approx(179.5, abs=1e-3)
