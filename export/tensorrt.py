"""Optional TensorRT engine build from an exported ONNX model (NVIDIA GPUs only).

The engine is written next to the ONNX (``model.onnx`` -> ``model.engine``) with the headpose
metadata beside it (``model.engine.json``), since a TensorRT engine has no metadata slot.

TensorRT 10.x is the version this builder is written for (:data:`SUPPORTED_MAJOR`): fp16 engines
use its weakly typed ``BuilderFlag.FP16``. TensorRT 11 removed that flag (and
``platform_has_fast_fp16``) in favour of strongly typed networks, so with TensorRT 11 an fp16
build is refused with a clear error instead of silently building fp32; ``fp16=False`` builds an
fp32 engine with any version from 10 on. The optimisation profile covers the batch sizes the
runtime sends (:data:`headpose.runtime.TRT_BATCH`), and the engine's outputs are compared with
the ONNX model's (onnxruntime, CPU) on face crops before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx

from headpose.errors import MissingDependencyError
from headpose.export.errors import ExportError, ParityError
from headpose.export.ort_session import cpu_session, run_batched
from headpose.export.verify import verification_inputs
from headpose.files import atomic_write, check_output
from headpose.metadata import METADATA_KEY, read_metadata
from headpose.runtime import TRT_BATCH

SUPPORTED_MAJOR = 10
PIP_PIN = 'pip install "tensorrt>=10,<11"'
NOT_INSTALLED = f"TensorRT is not installed; {PIP_PIN} (needs an NVIDIA GPU and CUDA)"
#: Engine vs ONNX tolerance in degrees (angles and spread): fp16 engines differ by rounding.
ATOL_FP16 = 0.5
ATOL_FP32 = 0.01
OUTPUT_NAMES = ("angles", "spread")


def import_tensorrt() -> ModuleType:
    """Import ``tensorrt`` or raise :class:`MissingDependencyError` with the install hint."""
    try:
        import tensorrt as trt  # optional: NVIDIA GPUs only, installed by hand
    except ImportError as exc:  # also raised when the package exists but CUDA libraries do not
        raise MissingDependencyError(NOT_INSTALLED) from exc
    return trt


def tensorrt_major(trt: ModuleType) -> int:
    """Major version of the imported TensorRT (``trt.__version__``, e.g. ``"10.9.0.34"`` -> 10)."""
    version = str(getattr(trt, "__version__", ""))
    match = re.match(r"(\d+)\.", version)
    if match is None:
        raise ExportError(f"cannot tell the TensorRT version (tensorrt.__version__ = {version!r})")
    return int(match.group(1))


def check_version(trt: ModuleType, fp16: bool) -> int:
    """The TensorRT major version, after checking this builder supports it with ``fp16``."""
    major = tensorrt_major(trt)
    if major < SUPPORTED_MAJOR:
        raise ExportError(
            f"TensorRT {trt.__version__} is too old: headpose builds engines with TensorRT "
            f"{SUPPORTED_MAJOR}.x ({PIP_PIN})"
        )
    if fp16 and major > SUPPORTED_MAJOR:
        raise ExportError(
            f"TensorRT {trt.__version__}: TensorRT 11 removed the fp16 builder flag (networks are "
            f"strongly typed), so this exporter cannot build an fp16 engine with it; install "
            f"TensorRT {SUPPORTED_MAJOR}.x ({PIP_PIN}) or build fp32 (--tensorrt-fp32)"
        )
    return major


def engine_path_for(onnx_path: str | Path) -> Path:
    """``model.onnx`` -> ``model.engine``."""
    return Path(onnx_path).with_suffix(".engine")


def engine_outputs(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    overwrite: bool = False,
    verify_images: str | Path | None = None,
) -> tuple[Path, Path]:
    """The engine file (default :func:`engine_path_for`) and its ``.json`` metadata, after
    checking both may be written (:func:`headpose.files.check_output`)."""
    engine = Path(engine_path) if engine_path is not None else engine_path_for(onnx_path)
    read = [onnx_path, *([verify_images] if verify_images is not None else [])]
    sidecar = Path(f"{engine}.json")
    return check_output(engine, overwrite, read), check_output(sidecar, overwrite, read)


@dataclass(frozen=True)
class EngineReport:
    """A built engine and how far its outputs are from the ONNX model's (degrees)."""

    path: Path
    precision: str  # "fp16" or "fp32"
    tensorrt_version: str
    batch: tuple[int, int, int]  # profile (min, opt, max)
    n_images: int
    source: str
    max_diff_angles: float
    max_diff_spread: float
    atol: float

    def summary(self) -> str:
        lo, opt, hi = self.batch
        return (
            f"TensorRT {self.tensorrt_version} {self.precision} engine, batch {lo}..{hi} (opt "
            f"{opt}); vs ONNX on {self.n_images} image(s) from {self.source}: max |diff| angles "
            f"{self.max_diff_angles:.3g} deg, spread {self.max_diff_spread:.3g} deg "
            f"(atol {self.atol:g})"
        )


def build_tensorrt_engine(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    fp16: bool = True,
    batch: tuple[int, int, int] = TRT_BATCH,
    workspace_mb: int = 1024,
    verify_images: str | Path | None = None,
    verify_count: int = 8,
    atol: float | None = None,
    overwrite: bool = False,
) -> Path:
    """Build, check and write a TensorRT engine; returns its path (see :func:`build_and_check`)."""
    return build_and_check(
        onnx_path,
        engine_path,
        fp16,
        batch,
        workspace_mb,
        verify_images,
        verify_count,
        atol,
        overwrite,
    ).path


def build_and_check(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    fp16: bool = True,
    batch: tuple[int, int, int] = TRT_BATCH,
    workspace_mb: int = 1024,
    verify_images: str | Path | None = None,
    verify_count: int = 8,
    atol: float | None = None,
    overwrite: bool = False,
) -> EngineReport:
    """Build a TensorRT engine for batch sizes ``batch`` = (min, opt, max), compare it with the
    ONNX model on ``verify_images`` (default: the shared face crops, else random input) within
    ``atol`` degrees (default :data:`ATOL_FP16` / :data:`ATOL_FP32`), then write it.

    Raises :class:`MissingDependencyError` without TensorRT, :class:`ExportError` for an
    unsupported version or a failed build, :class:`ParityError` when the engine's outputs differ;
    nothing is written then. The engine and its ``.json`` metadata are new files
    (:func:`engine_outputs`): an existing one is replaced only with ``overwrite``.
    """
    trt = import_tensorrt()
    major = check_version(trt, fp16)
    lo, opt, hi = (int(b) for b in batch)
    if not 1 <= lo <= opt <= hi:
        raise ExportError(f"batch profile: expected 1 <= min <= opt <= max, got {batch}")
    onnx_path = Path(onnx_path)
    engine_path, sidecar = engine_outputs(onnx_path, engine_path, overwrite, verify_images)
    model = onnx.load(str(onnx_path))
    props = {p.key: p.value for p in model.metadata_props}
    meta = read_metadata(props, str(onnx_path))
    height, width = (int(v) for v in meta.input_size)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    network = builder.create_network(0 if explicit is None or major > 10 else 1 << int(explicit))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"{onnx_path}: TensorRT cannot parse the ONNX model: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    if fp16:  # TensorRT 10 (checked above); it keeps fp32 kernels where fp16 is not faster
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    shape = (3, height, width)
    profile.set_shape(meta.input_name, (lo, *shape), (opt, *shape), (hi, *shape))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")
    engine = bytes(serialized)

    inputs, source = verification_inputs(meta, verify_images, count=verify_count)
    tol = atol if atol is not None else (ATOL_FP16 if fp16 else ATOL_FP32)
    diff_angles, diff_spread = compare_with_onnx(
        trt, engine, onnx_path, meta.input_name, inputs, hi
    )
    if not (diff_angles <= tol and diff_spread <= tol):
        raise ParityError(
            f"{onnx_path}: the TensorRT {'fp16' if fp16 else 'fp32'} engine differs from the ONNX "
            f"model on {len(inputs)} input(s) from {source}: max |diff| angles {diff_angles:.3g} "
            f"deg, spread {diff_spread:.3g} deg (atol {tol:g}); engine not written"
        )
    atomic_write(engine_path, engine)
    atomic_write(sidecar, props[METADATA_KEY])
    return EngineReport(
        path=engine_path,
        precision="fp16" if fp16 else "fp32",
        tensorrt_version=str(trt.__version__),
        batch=(lo, opt, hi),
        n_images=len(inputs),
        source=source,
        max_diff_angles=diff_angles,
        max_diff_spread=diff_spread,
        atol=tol,
    )


def compare_with_onnx(
    trt: ModuleType,
    engine: bytes,
    onnx_path: Path,
    input_name: str,
    inputs: np.ndarray,
    max_batch: int,
) -> tuple[float, float]:
    """Max |engine - ONNX| over ``inputs`` for angles and spread (degrees), NaN counting as inf."""
    ref_angles, ref_spread = run_batched(cpu_session(onnx_path), inputs, batch_size=max_batch)
    angles, spread = run_engine(trt, engine, input_name, inputs, max_batch)
    if angles.shape != ref_angles.shape or spread.shape != ref_spread.shape:
        raise ParityError(
            f"{onnx_path}: engine outputs {angles.shape}, {spread.shape}, ONNX {ref_angles.shape}"
        )
    return _max_diff(angles, ref_angles), _max_diff(spread, ref_spread)


def run_engine(
    trt: ModuleType, engine: bytes, input_name: str, inputs: np.ndarray, max_batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Run a serialized engine on ``inputs`` ``(N, 3, H, W)`` in batches of at most ``max_batch``
    (TensorRT 10 tensor API, CUDA buffers from torch); returns ``(angles, spread)`` float32."""
    import torch  # import cost: only a TensorRT check needs torch's CUDA buffers

    if not torch.cuda.is_available():
        raise ExportError("checking the TensorRT engine needs a CUDA GPU visible to torch")
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    cuda_engine = runtime.deserialize_cuda_engine(engine)
    if cuda_engine is None:
        raise ExportError("TensorRT cannot load the engine it just built")
    context = cuda_engine.create_execution_context()
    stream = torch.cuda.Stream()
    parts: dict[str, list[np.ndarray]] = {name: [] for name in OUTPUT_NAMES}
    for start in range(0, len(inputs), max_batch):
        x = torch.from_numpy(np.ascontiguousarray(inputs[start : start + max_batch])).cuda()
        context.set_input_shape(input_name, tuple(x.shape))
        context.set_tensor_address(input_name, x.data_ptr())
        buffers = {}
        for name in OUTPUT_NAMES:
            shape = tuple(context.get_tensor_shape(name))
            buffers[name] = torch.empty(shape, dtype=torch.float32, device="cuda")
            context.set_tensor_address(name, buffers[name].data_ptr())
        if not context.execute_async_v3(stream.cuda_stream):
            raise ExportError("TensorRT engine execution failed")
        stream.synchronize()
        for name in OUTPUT_NAMES:
            parts[name].append(buffers[name].cpu().numpy())
    return np.concatenate(parts["angles"]), np.concatenate(parts["spread"])


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return float(np.nan_to_num(diff, nan=np.inf).max()) if diff.size else 0.0
