"""Errors raised by ``headpose.export``; all are :class:`headpose.errors.HeadPoseError`."""

from __future__ import annotations

from headpose.errors import HeadPoseError
from headpose.training.checkpoint_io import CheckpointError

__all__ = ["CheckpointError", "ExportError", "ParityError"]


class ParityError(HeadPoseError, RuntimeError):
    """The exported ONNX model does not reproduce the PyTorch model (the file is removed)."""


class ExportError(HeadPoseError, RuntimeError):
    """Any other export failure (ONNX graph checks, file size, quantization, TensorRT build)."""
