"""Reading headpose checkpoints: the leaf that ``training.models``, ``training.engine``, the
training command lines and ``headpose.export`` all import (it imports none of them).

* :class:`CheckpointError`, :data:`TRUST_FLAG`, :data:`CHECKPOINT_WEIGHTS`;
* :class:`RunOptions`: how a checkpoint is run (which weights, flip averaging, input zoom,
  trust), the one home of those defaults for ``headpose-eval``, ``headpose-export`` and the
  Python functions behind them;
* :func:`read_torch_file` (the one place in the project that unpickles a torch file),
  :func:`load_checkpoint`, :func:`check_checkpoint`, :func:`inference_weights`.

Importing this module needs no torch (the errors, the format checks and the options serve the
torch-free tools too); reading a file does.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headpose.errors import InvalidModelError, checked_number, first_line

if TYPE_CHECKING:
    import torch

FORMAT = "headpose-checkpoint"
FORMAT_VERSION = 1
#: the keys every headpose checkpoint has (train, eval and export read only these and
#: the training state); checked by :func:`check_checkpoint`
REQUIRED_KEYS = ("format", "format_version", "config", "model_config", "model", "metadata")
#: the command-line switch of ``trusted=True`` (train, eval, export)
TRUST_FLAG = "--trust-checkpoint"
#: which weights of a training checkpoint export and evaluation run (:func:`uses_average`)
CHECKPOINT_WEIGHTS = ("auto", "ema", "raw")


class CheckpointError(InvalidModelError):
    """A torch checkpoint or weights file that is missing, unreadable, not a headpose
    checkpoint, holds pickled objects that were not trusted, or does not build a model."""


@dataclass(frozen=True)
class RunOptions:
    """How a training checkpoint is run by ``headpose-eval`` and ``headpose-export`` (and
    :func:`headpose.export.export_onnx`, :func:`headpose.training.engine.evaluate.
    checkpoint_predictor`): each default lives here once, and the command-line options are made
    from these fields (:func:`headpose.cli.options.dataclass_options`; ``metadata``: the flag's
    help and range)."""

    weights: str = field(
        default="auto",
        metadata={
            "help": "which weights of the checkpoint: auto = the moving average of the weights "
            "when the run kept one (optim.ema_decay > 0), else the trained weights; ema or raw "
            "to choose",
            "choices": CHECKPOINT_WEIGHTS,
        },
    )
    flip_average: bool = field(
        default=False,
        metadata={
            "help": "average each prediction with the mirrored image's (twice the compute, "
            "lower error); recorded in the exported model"
        },
    )
    input_zoom: float = field(
        default=1.0,
        metadata={
            "help": "the network sees the central Z (0 < Z <= 1) of each crop, resized back: "
            "set it to the mean zoom of the training augmentation (level 1 zooms in 0.8-1.0: "
            "0.9)",
            "low": 0.0,
            "high": 1.0,
            "low_open": True,
            "metavar": "Z",
        },
    )
    trust_checkpoint: bool = field(
        default=False,
        metadata={
            "help": "checkpoint files (and model.init) may hold pickled objects other than "
            "tensors: loads them with a warning (runs code from the file)"
        },
    )

    def __post_init__(self) -> None:
        if self.weights not in CHECKPOINT_WEIGHTS:
            raise CheckpointError(
                f"weights: expected one of {list(CHECKPOINT_WEIGHTS)}, got {self.weights!r}"
            )
        checked_number("input zoom", self.input_zoom, 0.0, 1.0, low_open=True)


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
    import torch  # torch: optional ([train] extra); importing this module needs none

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
    state: Mapping[str, Any], weights: str = RunOptions.weights, source: str = "<checkpoint>"
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
    state: Mapping[str, Any], weights: str = RunOptions.weights, source: str = "<checkpoint>"
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
    """Read and check a checkpoint written by
    :func:`headpose.training.engine.checkpoint.save_checkpoint` (see :func:`read_torch_file`
    for ``trusted``). Raises :class:`CheckpointError` naming the file."""
    return check_checkpoint(read_torch_file(path, trusted, map_location), str(path))
