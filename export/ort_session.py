"""onnxruntime sessions and batched prediction for the export checks (CPU, quiet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

ort.set_default_logger_severity(3)  # errors only


def cpu_session(path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """A CPU :class:`onnxruntime.InferenceSession` for ``path`` (``threads`` intra-op, or ORT's
    default)."""
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_batched(
    session: ort.InferenceSession, inputs: np.ndarray, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Run a headpose ONNX model on ``inputs`` float32 ``(N, 3, H, W)``.

    Returns ``(angles, spread)``, each float32 ``(N, A)`` in degrees.
    """
    name = session.get_inputs()[0].name
    angles, spread = [], []
    for start in range(0, len(inputs), batch_size):
        chunk = np.ascontiguousarray(inputs[start : start + batch_size], dtype=np.float32)
        a, s = session.run(["angles", "spread"], {name: chunk})
        angles.append(a)
        spread.append(s)
    return np.concatenate(angles), np.concatenate(spread)
