"""Checkpoints: the ``headpose-checkpoint`` format of docs/ARCHITECTURE.md.

Every checkpoint is written with :func:`headpose.files.atomic_write` (a temporary name in the
same folder, fsync'ed, then renamed over the target), so a crash leaves either the old file or
the new one, never half of one. Checkpoints hold only tensors and plain Python values, so they load with
``torch.load(weights_only=True)``. Training checkpoints also record ``"amp"``, the resolved AMP
mode (``fp16``, ``bf16`` or ``off``) the ``"scaler"`` state belongs to (absent in older files).
:func:`read_torch_file` is the one place in the project that unpickles a torch file; loading
anything else needs ``trusted=True`` (``--trust-checkpoint``).
"""

from __future__ import annotations

import os
import pickle
import random
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headpose.cli.options import CHECKPOINT_WEIGHTS, TRUST_FLAG
from headpose.errors import CheckpointError, first_line
from headpose.files import atomic_write

FORMAT = "headpose-checkpoint"
FORMAT_VERSION = 1
#: the keys every headpose checkpoint has (train, eval and export read only these and
#: the training state); checked by :func:`check_checkpoint`
REQUIRED_KEYS = ("format", "format_version", "config", "model_config", "model", "metadata")


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write a training checkpoint atomically; ``state`` must hold the keys of the format."""
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {missing}")
    return atomic_write(path, lambda handle: torch.save(dict(state), handle))


def read_torch_file(
    path: str | os.PathLike[str],
    trusted: bool = False,
    map_location: str | torch.device = "cpu",
    what: str = "torch checkpoint",
) -> Any:
    """``torch.load`` a file safely: the one place in headpose that unpickles a torch file.

    Loads with ``weights_only=True`` (tensors and plain containers only). A file holding other
    pickled objects is refused with a :class:`CheckpointError` unless ``trusted`` is True; then
    it is loaded fully (unpickling runs code from the file) and a :class:`UserWarning` says so.
    The trust switch is ``--trust-checkpoint`` in headpose-train, headpose-eval and
    headpose-export.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines()]
        refused = next((line for line in lines if "unsupported global" in line.lower()), None)
        if refused is None:
            raise CheckpointError(
                f"{path}: not a readable {what} (corrupt, or not written by torch.save): "
                f"{first_line(exc, 'Unsupported')}"
            ) from None
    except Exception as exc:  # truncated zip, garbage bytes: torch raises many kinds
        raise CheckpointError(
            f"{path}: not a readable {what} (truncated or not written by torch.save): "
            f"{first_line(exc)}"
        ) from None
    if not trusted:
        raise CheckpointError(
            f"{path}: holds pickled objects other than tensors and plain containers ({refused}); "
            f"loading it would run code from the file. If you trust it, pass {TRUST_FLAG} "
            "(trusted=True in Python)"
        )
    warnings.warn(
        f"{path}: loading with full unpickling because of {TRUST_FLAG}: this runs code from "
        "the file",
        UserWarning,
        stacklevel=2,
    )
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable {what}: {first_line(exc)}") from None


def check_checkpoint(state: Any, source: str) -> dict[str, Any]:
    """Check that ``state`` is a headpose training checkpoint; :class:`CheckpointError` naming
    ``source`` and the missing keys / wrong format otherwise. Returns ``state``."""
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{source}: not a headpose checkpoint: expected a dict with keys "
            f"{list(REQUIRED_KEYS)}, got {type(state).__name__}"
        )
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{source}: not a headpose checkpoint: missing key(s) {missing}")
    if state["format"] != FORMAT:
        raise CheckpointError(
            f"{source}: not a headpose checkpoint: format is {state['format']!r}, "
            f"expected {FORMAT!r}"
        )
    if state["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{source}: checkpoint format_version {state['format_version']!r} is not supported "
            f"(this headpose reads {FORMAT_VERSION})"
        )
    for key in ("config", "model_config", "metadata", "model"):
        if not isinstance(state[key], dict):
            raise CheckpointError(
                f"{source}: checkpoint field '{key}': expected a dict, "
                f"got {type(state[key]).__name__}"
            )
    return state


def is_checkpoint(obj: Any) -> bool:
    """True if ``obj`` (a loaded torch file) claims to be a headpose checkpoint."""
    return isinstance(obj, Mapping) and obj.get("format") == FORMAT


def uses_average(
    state: Mapping[str, Any], weights: str = "auto", source: str = "<checkpoint>"
) -> bool:
    """Whether ``weights`` (``auto``, ``ema`` or ``raw``, :data:`CHECKPOINT_WEIGHTS`) runs the
    checkpoint's moving average of the weights (``"ema"``, written when ``optim.ema_decay`` > 0):
    ``auto`` when it has one, ``ema`` always (a :class:`CheckpointError` without one)."""
    if weights not in CHECKPOINT_WEIGHTS:
        raise CheckpointError(
            f"weights: expected one of {list(CHECKPOINT_WEIGHTS)}, got {weights!r}"
        )
    has = bool(state.get("ema"))
    if weights == "ema" and not has:
        raise CheckpointError(
            f"{source}: has no moving average of the weights (trained with optim.ema_decay=0); "
            "use the trained weights (weights 'raw' or 'auto')"
        )
    return has and weights != "raw"


def inference_weights(
    state: Mapping[str, Any], weights: str = "auto", source: str = "<checkpoint>"
) -> dict[str, Any]:
    """The state dict to run a checkpoint with: its moving average of the weights when
    :func:`uses_average`, else the trained weights (``"model"``)."""
    if uses_average(state, weights, source):
        ema = state["ema"]
        return {k[len("module.") :]: v for k, v in ema.items() if k.startswith("module.")}
    return dict(state["model"])


def load_checkpoint(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    trusted: bool = False,
) -> dict[str, Any]:
    """Read and check a checkpoint written by :func:`save_checkpoint` (see
    :func:`read_torch_file` for ``trusted``). Raises :class:`CheckpointError` naming the file."""
    return check_checkpoint(read_torch_file(path, trusted, map_location), str(path))


# --------------------------------------------------------------------------- RNG states


def rng_state(cuda_device: torch.device | None = None) -> dict[str, Any]:
    """Python, NumPy and torch CPU generator states as tensors and plain values, plus the CUDA
    generator of ``cuda_device`` (this process's GPU) when given: only that one, so a run can
    resume where fewer GPUs are visible."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if cuda_device is not None:
        state["cuda_device"] = torch.cuda.get_rng_state(cuda_device)
    return state


def set_rng_state(state: Mapping[str, Any], cuda_device: torch.device | None = None) -> None:
    """Restore what :func:`rng_state` returned; the saved CUDA generator goes to ``cuda_device``
    (this process's GPU). States of older checkpoints (every visible GPU's) are not restored."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    npst = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            npst["keys"].numpy().astype(np.uint32),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    if cuda_device is not None and "cuda_device" in state:
        torch.cuda.set_rng_state(state["cuda_device"].cpu(), cuda_device)
