"""headpose.export: training checkpoint -> verified ONNX model for the headpose runtime.

>>> from headpose.export import export_checkpoint
>>> meta = export_checkpoint("runs/best.pt", "model.onnx")   # -> ModelMetadata

Also :func:`export_onnx` (returns the full :class:`ExportResult` with the parity report),
:func:`quantize_int8` / :func:`compare_int8` (static int8 QDQ) and
:func:`build_tensorrt_engine`. The command line is ``headpose-export`` (:mod:`.cli`).
Needs torch, onnx and onnxruntime; imported lazily so ``import headpose.export`` is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "export_checkpoint": "headpose.export.onnx_export",
    "export_onnx": "headpose.export.onnx_export",
    "ExportResult": "headpose.export.onnx_export",
    "ParityReport": "headpose.export.verify",
    "quantize_int8": "headpose.export.quantize",
    "compare_int8": "headpose.export.quantize",
    "Int8Report": "headpose.export.quantize",
    "build_tensorrt_engine": "headpose.export.tensorrt",
    "CheckpointError": "headpose.export.errors",
    "ExportError": "headpose.export.errors",
    "ParityError": "headpose.export.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'headpose.export' has no attribute {name!r}")
