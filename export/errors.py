"""Errors raised by ``headpose.export``; all are :class:`headpose.errors.HeadPoseError`."""

from __future__ import annotations

from headpose.errors import HeadPoseError, InvalidModelError


class CheckpointError(InvalidModelError):
    """A checkpoint that is missing, unreadable, not a headpose checkpoint, or does not build."""


class ParityError(HeadPoseError, RuntimeError):
    """The exported ONNX model does not reproduce the PyTorch model (the file is removed)."""


class ExportError(HeadPoseError, RuntimeError):
    """Any other export failure (ONNX graph checks, file size, quantization, TensorRT build)."""
