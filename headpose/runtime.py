"""onnxruntime import guard and execution-provider choice.

onnxruntime comes from one of two extras, never both in one environment (they install the same
module): ``pip install "headpose-hmtl[cpu]"`` (package ``onnxruntime``) or ``pip install
"headpose-hmtl[gpu]"`` (package ``onnxruntime-gpu``, CUDA/TensorRT); ``[cpu-headless]`` and
``[gpu-headless]`` are the same with OpenCV's headless build for servers. ``onnxruntime-gpu`` lists the
CUDA and TensorRT providers whenever they were compiled in; they only *load* when the CUDA and
cuDNN libraries it was built for are found (``pip install "onnxruntime-gpu[cuda,cudnn]"`` installs
them as wheels; TensorRT also needs the TensorRT libraries). So every session is checked after
creation (:func:`check_session_providers`): a provider asked for by name that did not load is an
error naming it; the automatic choice falls back to the CPU with one warning.

Provider choice: by default CUDA when offered, then CPU. TensorRT is opt-in
(``providers="tensorrt"``) and then runs with an engine cache and a timing cache in
:func:`tensorrt_cache_dir`, fp16, and an optimisation profile for batch sizes
:data:`TRT_BATCH` (min, opt, max) when the caller knows its input shape, so a process neither
rebuilds the engine at start-up nor in the middle of a stream.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from headpose._version import DIST_NAME
from headpose.errors import InvalidInputError, MissingDependencyError, checked_count

CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"
TENSORRT_PROVIDER = "TensorrtExecutionProvider"
_ALIASES = {"cpu": CPU_PROVIDER, "cuda": CUDA_PROVIDER, "tensorrt": TENSORRT_PROVIDER}

#: Batch sizes TensorRT engines are built for: (min, opt, max). Opt 1: one face per video frame,
#: the common case. PoseModel splits larger batches into chunks of at most max, so a batch never
#: falls outside the profile (which would rebuild the engine mid-stream).
TRT_BATCH = (1, 1, 32)

#: What a GPU provider needs when it does not load.
GPU_LIBRARIES_HINT = (
    "onnxruntime-gpu needs the CUDA and cuDNN libraries it was built for: "
    'pip install "onnxruntime-gpu[cuda,cudnn]", or install them system-wide (on the library '
    "path); TensorRT also needs the TensorRT libraries (pip install tensorrt). "
    "onnxruntime.print_debug_info() shows what it found"
)

ProviderEntry = str | tuple[str, dict[str, Any]]

_ort: ModuleType | None = None
_warned_fallback = False


def _gpu_wanted() -> bool:
    """Guess whether the user has a GPU (so the install hint names the right extra)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "").strip() not in ("", "-1"):
        return True
    return os.path.exists("/dev/nvidia0") or os.path.exists("/proc/driver/nvidia/version")


def install_hint() -> str:
    """The one pip command that installs onnxruntime for this machine."""
    if _gpu_wanted():
        return f'pip install "{DIST_NAME}[gpu]"  (CUDA; onnxruntime-gpu)'
    return f'pip install "{DIST_NAME}[cpu]"'


def import_onnxruntime() -> ModuleType:
    """Import onnxruntime once, quietly; :class:`MissingDependencyError` if it is not installed."""
    global _ort
    if _ort is not None:
        return _ort
    try:
        import onnxruntime as ort  # optional: the [cpu] or [gpu] extra
    except ImportError as exc:
        raise MissingDependencyError(
            f"headpose needs onnxruntime to run models, and it is not installed: {install_hint()}"
        ) from exc
    try:  # 3 = errors only: hides the CUDA-fallback warnings of onnxruntime-gpu on CPU machines
        ort.set_default_logger_severity(3)
    except Exception:  # pragma: no cover - very old onnxruntime
        pass
    _ort = ort
    return _ort


def tensorrt_cache_dir() -> Path:
    """Where TensorRT engines and timing caches are kept: ``$HEADPOSE_TRT_CACHE``, else
    ``$XDG_CACHE_HOME/headpose/tensorrt`` (``~/.cache/headpose/tensorrt``)."""
    env = os.environ.get("HEADPOSE_TRT_CACHE", "").strip()
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or "~/.cache"
    return Path(base).expanduser() / "headpose" / "tensorrt"


def _shape_list(shapes: Mapping[str, Sequence[int]]) -> str:
    return ",".join(
        f"{name}:{'x'.join(str(int(d)) for d in dims)}" for name, dims in shapes.items()
    )


def tensorrt_options(
    input_shape: tuple[str, Sequence[int]] | None = None, cache_dir: str | Path | None = None
) -> dict[str, Any]:
    """onnxruntime TensorRT provider options: engine + timing cache, fp16, and, for
    ``input_shape=(name, (C, H, W))``, a profile over batch sizes :data:`TRT_BATCH`."""
    cache = str(Path(cache_dir) if cache_dir is not None else tensorrt_cache_dir())
    options: dict[str, Any] = {
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": cache,
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": cache,
        "trt_fp16_enable": True,
    }
    if input_shape is not None:
        name, dims = input_shape
        for key, batch in zip(("min", "opt", "max"), TRT_BATCH, strict=True):
            options[f"trt_profile_{key}_shapes"] = _shape_list({name: (batch, *dims)})
    return options


def _provider_name(entry: ProviderEntry) -> str:
    return entry[0] if isinstance(entry, tuple) else entry


def choose_providers(
    providers: Sequence[ProviderEntry] | str | None = None,
    input_shape: tuple[str, Sequence[int]] | None = None,
) -> list[ProviderEntry]:
    """Execution providers for a session, best first (names, or ``(name, options)`` pairs).

    ``providers=None``: CUDA when the installed onnxruntime offers it, then CPU (never TensorRT:
    it builds an engine per process and input shape, so it is opt-in). Given explicitly (a name,
    an alias ``cpu``/``cuda``/``tensorrt``, or a list; ``(name, options)`` pairs pass through),
    they are used as given after checking each is available; TensorRT gets
    :func:`tensorrt_options` (``input_shape`` = ``(input name, (C, H, W))`` for its profile) and
    CUDA right after it for the nodes TensorRT does not take.
    """
    ort = import_onnxruntime()
    available = list(ort.get_available_providers())
    if providers is None:
        return [CUDA_PROVIDER, CPU_PROVIDER] if CUDA_PROVIDER in available else [CPU_PROVIDER]
    given = [providers] if isinstance(providers, str) else list(providers)
    if not given:
        raise InvalidInputError("providers: expected at least one execution provider, got []")
    wanted: list[ProviderEntry] = []
    for entry in given:
        if isinstance(entry, tuple):
            wanted.append((_ALIASES.get(entry[0].lower(), entry[0]), dict(entry[1])))
        else:
            wanted.append(_ALIASES.get(str(entry).lower(), str(entry)))
    missing = [_provider_name(p) for p in wanted if _provider_name(p) not in available]
    gpu = [name for name in missing if name in (CUDA_PROVIDER, TENSORRT_PROVIDER)]
    if gpu and CUDA_PROVIDER not in available:  # the CPU build of onnxruntime
        raise MissingDependencyError(
            f"providers: {gpu} not available: this is the CPU build of onnxruntime (available: "
            f"{available}); for a GPU install the [gpu] extra instead of [cpu]: pip uninstall -y "
            f'onnxruntime && pip install "{DIST_NAME}[gpu]" (docs/GPU.md)'
        )
    if missing:
        raise InvalidInputError(
            f"providers: {missing} not available in this onnxruntime; available: {available}"
        )
    names = [_provider_name(p) for p in wanted]
    out: list[ProviderEntry] = []
    for entry in wanted:
        if entry == TENSORRT_PROVIDER:
            out.append((TENSORRT_PROVIDER, tensorrt_options(input_shape)))
            if CUDA_PROVIDER not in names and CUDA_PROVIDER in available:
                out.append(CUDA_PROVIDER)
        else:
            out.append(entry)
    return out


def wants_tensorrt(providers: Sequence[ProviderEntry] | str | None) -> bool:
    """Whether ``providers`` (as given to :func:`choose_providers`) asks for TensorRT."""
    if providers is None:
        return False
    given = [providers] if isinstance(providers, str) else list(providers)
    names = [_provider_name(p) for p in given]
    return any(_ALIASES.get(str(n).lower(), n) == TENSORRT_PROVIDER for n in names)


def check_session_providers(session: Any, chosen: Sequence[ProviderEntry], explicit: bool) -> None:
    """Compare the providers a session loaded (``session.get_providers()``) with ``chosen``.

    onnxruntime silently drops a GPU provider whose libraries are missing. ``explicit`` (the
    caller named the providers): :class:`MissingDependencyError` naming each that did not load.
    Automatic choice: one :class:`RuntimeWarning` per process, and the session runs on the CPU.
    """
    global _warned_fallback
    loaded = list(session.get_providers())
    missing = [
        _provider_name(p)
        for p in chosen
        if _provider_name(p) != CPU_PROVIDER and _provider_name(p) not in loaded
    ]
    if not missing:
        return
    if explicit:
        raise MissingDependencyError(
            f"providers: {missing} requested but onnxruntime could not load "
            f"{'it' if len(missing) == 1 else 'them'} (session runs on {loaded}); "
            f"{GPU_LIBRARIES_HINT}"
        )
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn(
            f"onnxruntime offers {missing} but could not load {'it' if len(missing) == 1 else 'them'}"
            f": running on {loaded}. {GPU_LIBRARIES_HINT}; or pass providers='cpu' to silence this",
            RuntimeWarning,
            stacklevel=3,
        )


def default_threads(cpus: int | None = None) -> int:
    """Intra-op threads per session when none are asked for: half the cores, 1 to 4 (1 on a
    2-core machine). The pose model and the detector run one after the other on small inputs;
    more threads mostly wait on each other, and on a busy machine they slow each other down
    (on the project's shared 2-core machines one thread was faster for YuNet and about even for
    the pose model). Pass ``threads`` to choose."""
    n = os.cpu_count() if cpus is None else cpus
    return max(1, min(4, (n or 1) // 2))


def session_options(threads: int | None = None) -> Any:
    """SessionOptions: full graph optimisation, quiet logs, ``threads`` intra-op threads
    (``None``: :func:`default_threads`; 0: all cores, as onnxruntime chooses), one inter-op
    thread."""
    ort = import_onnxruntime()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.inter_op_num_threads = 1
    checked = checked_threads(threads)
    opts.intra_op_num_threads = default_threads() if checked is None else checked
    return opts


def checked_threads(threads: object) -> int | None:
    """``threads`` checked: ``None`` (:func:`default_threads`) or an integer >= 0 (0: all
    cores, as onnxruntime chooses); anything else (``"x"``, ``2.5``, ``-1``) is an
    :class:`~headpose.errors.InvalidInputError` naming ``threads``."""
    if threads is None:
        return None
    return checked_count("threads (0 = onnxruntime decides)", threads, low=0)


def create_session(
    model: str | bytes,
    providers: Sequence[ProviderEntry] | str | None = None,
    threads: int | None = None,
    input_shape: tuple[str, Sequence[int]] | None = None,
) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``model`` (path or serialized bytes), checked to
    run on the providers chosen (:func:`choose_providers`, :func:`check_session_providers`).

    ``input_shape``: ``(input name, (C, H, W))`` for the TensorRT profile, when known.
    """
    ort = import_onnxruntime()
    chosen = choose_providers(providers, input_shape)
    for entry in chosen:
        if isinstance(entry, tuple) and entry[0] == TENSORRT_PROVIDER:
            for key in ("trt_engine_cache_path", "trt_timing_cache_path"):
                if entry[1].get(key):
                    Path(entry[1][key]).mkdir(parents=True, exist_ok=True)
    session = ort.InferenceSession(model, sess_options=session_options(threads), providers=chosen)
    check_session_providers(session, chosen, explicit=providers is not None)
    return session
