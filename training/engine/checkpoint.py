"""Checkpoints: the ``headpose-checkpoint`` format of docs/ARCHITECTURE.md, written here.

Reading them (:func:`read_torch_file`, :func:`load_checkpoint`, :func:`inference_weights`,
:class:`CheckpointError`) lives in the leaf :mod:`headpose.training.checkpoint_io`, which the
models, the command lines and export import without this module.

Every checkpoint is written with :func:`headpose.files.atomic_write` (a temporary name in the
same folder, fsync'ed, then renamed over the target), so a crash leaves either the old file or
the new one, never half of one. Checkpoints hold only tensors and plain Python values, so they
load with ``torch.load(weights_only=True)``. Training checkpoints also record ``"amp"``, the resolved AMP
mode (``fp16``, ``bf16`` or ``off``) the ``"scaler"`` state belongs to (absent in older files).
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headpose.files import atomic_write
from headpose.training.checkpoint_io import REQUIRED_KEYS


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write a training checkpoint atomically; ``state`` must hold the keys of the format."""
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {missing}")
    return atomic_write(path, lambda handle: torch.save(dict(state), handle))


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
