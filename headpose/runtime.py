"""onnxruntime import guard and execution-provider choice.

onnxruntime comes from one of two extras, never both in one environment (they install the same
module): ``pip install "headpose[cpu]"`` (package ``onnxruntime``) or ``pip install
"headpose[gpu]"`` (package ``onnxruntime-gpu``, CUDA/TensorRT).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from headpose.errors import InvalidInputError, MissingDependencyError

# Best first. TensorRT and CUDA are used only when the installed onnxruntime offers them.
_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU_PROVIDER = "CPUExecutionProvider"

_ort: ModuleType | None = None


def _gpu_wanted() -> bool:
    """Guess whether the user has a GPU (so the install hint names the right extra)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "").strip() not in ("", "-1"):
        return True
    return os.path.exists("/dev/nvidia0") or os.path.exists("/proc/driver/nvidia/version")


def install_hint() -> str:
    """The one pip command that installs onnxruntime for this machine."""
    if _gpu_wanted():
        return 'pip install "headpose[gpu]"  (CUDA; onnxruntime-gpu)'
    return 'pip install "headpose[cpu]"'


def import_onnxruntime() -> ModuleType:
    """Import onnxruntime once, quietly; :class:`MissingDependencyError` if it is not installed."""
    global _ort
    if _ort is not None:
        return _ort
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingDependencyError(
            f"headpose needs onnxruntime to run models, and it is not installed: {install_hint()}"
        ) from exc
    try:  # 3 = errors only: hides the CUDA-fallback warnings of onnxruntime-gpu on CPU machines
        ort.set_default_logger_severity(3)
    except Exception:  # pragma: no cover - very old onnxruntime
        pass
    _ort = ort
    return ort


def choose_providers(providers: Sequence[str] | str | None = None) -> list[str]:
    """Execution providers for a session, best first.

    ``providers=None``: TensorRT and CUDA when the installed onnxruntime offers them, then CPU.
    Given explicitly (a name or a list), they are used as given, after checking each is available.
    """
    ort = import_onnxruntime()
    available = list(ort.get_available_providers())
    if providers is None:
        chosen = [p for p in _GPU_PROVIDERS if p in available]
        return [*chosen, CPU_PROVIDER]
    wanted = [providers] if isinstance(providers, str) else list(providers)
    aliases = {"cpu": CPU_PROVIDER, "cuda": "CUDAExecutionProvider"}
    aliases["tensorrt"] = "TensorrtExecutionProvider"
    wanted = [aliases.get(p.lower(), p) for p in wanted]
    if not wanted:
        raise InvalidInputError("providers: expected at least one execution provider, got []")
    missing = [p for p in wanted if p not in available]
    if missing:
        raise InvalidInputError(
            f"providers: {missing} not available in this onnxruntime; available: {available}"
        )
    return wanted


def session_options(threads: int | None = None) -> Any:
    """SessionOptions: full graph optimisation, quiet logs, ``threads`` intra-op threads
    (default: all cores, as onnxruntime chooses), one inter-op thread."""
    ort = import_onnxruntime()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.inter_op_num_threads = 1
    if threads is not None:
        if int(threads) < 0:
            raise InvalidInputError(f"threads: expected >= 0 (0 = automatic), got {threads}")
        opts.intra_op_num_threads = int(threads)
    return opts


def create_session(
    model: str | bytes, providers: Sequence[str] | str | None = None, threads: int | None = None
) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``model`` (path or serialized bytes)."""
    ort = import_onnxruntime()
    return ort.InferenceSession(
        model, sess_options=session_options(threads), providers=choose_providers(providers)
    )
