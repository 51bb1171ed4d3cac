"""Optional TensorRT engine build from an exported ONNX model (NVIDIA GPUs only).

The engine is written next to the ONNX (``model.onnx`` -> ``model.engine``) with the headpose
metadata beside it (``model.engine.json``), since a TensorRT engine has no metadata slot.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import onnx

from headpose.errors import MissingDependencyError
from headpose.export.errors import ExportError
from headpose.metadata import METADATA_KEY, read_metadata

NOT_INSTALLED = "TensorRT is not installed; pip install tensorrt (needs an NVIDIA GPU and CUDA)"


def import_tensorrt() -> ModuleType:
    """Import ``tensorrt`` or raise :class:`MissingDependencyError` with the install hint."""
    try:
        import tensorrt as trt
    except ImportError as exc:  # also raised when the package exists but CUDA libraries do not
        raise MissingDependencyError(NOT_INSTALLED) from exc
    return trt


def engine_path_for(onnx_path: str | Path) -> Path:
    """``model.onnx`` -> ``model.engine``."""
    return Path(onnx_path).with_suffix(".engine")


def build_tensorrt_engine(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    fp16: bool = True,
    max_batch: int = 16,
    workspace_mb: int = 1024,
) -> Path:
    """Build and serialise a TensorRT engine for batch sizes 1..``max_batch``.

    Uses FP16 when ``fp16`` and the GPU supports it. Returns the engine path; raises
    :class:`MissingDependencyError` without TensorRT and :class:`ExportError` if the build fails.
    """
    trt = import_tensorrt()
    onnx_path = Path(onnx_path)
    engine_path = Path(engine_path) if engine_path is not None else engine_path_for(onnx_path)
    model = onnx.load(str(onnx_path))
    props = {p.key: p.value for p in model.metadata_props}
    meta = read_metadata(props, str(onnx_path))
    height, width = (int(v) for v in meta.input_size)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    network = builder.create_network(0 if explicit is None else 1 << int(explicit))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"{onnx_path}: TensorRT cannot parse the ONNX model: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    if fp16 and getattr(builder, "platform_has_fast_fp16", False):
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    shape = (3, height, width)
    profile.set_shape(meta.input_name, (1, *shape), (1, *shape), (int(max_batch), *shape))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")

    _write_atomic(engine_path, bytes(serialized))
    _write_atomic(Path(f"{engine_path}.json"), props[METADATA_KEY].encode("utf-8"))
    return engine_path


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
