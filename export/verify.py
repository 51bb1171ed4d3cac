"""Checks that an exported ONNX file is the PyTorch model: same outputs on real face crops,
readable headpose metadata, the graph contract (names, dynamic batch)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from headpose.errors import InvalidInputError
from headpose.export.errors import ExportError, ParityError
from headpose.export.images import default_crops_dir, list_images, preprocess_crops
from headpose.export.ort_session import cpu_session, run_batched
from headpose.metadata import ModelMetadata, read_metadata

#: Default tolerances, degrees. onnxruntime typically matches torch to ~1e-4 deg.
ATOL_ANGLES = 1e-3
ATOL_SPREAD = 1e-3
OUTPUT_NAMES = ("angles", "spread")


@dataclass(frozen=True)
class ParityReport:
    """Result of :func:`verify_onnx`; differences are max absolute, in degrees."""

    source: str  # image folder, or "random input"
    n_images: int
    max_diff_angles: float
    max_diff_spread: float
    atol_angles: float
    atol_spread: float
    batch_sizes: tuple[int, ...]

    def summary(self) -> str:
        return (
            f"parity vs PyTorch on {self.n_images} image(s) from {self.source}: max |diff| angles "
            f"{self.max_diff_angles:.2e} deg (atol {self.atol_angles:g}), spread "
            f"{self.max_diff_spread:.2e} deg (atol {self.atol_spread:g}); batch sizes "
            f"{', '.join(map(str, self.batch_sizes))} OK"
        )


def verification_inputs(
    meta: ModelMetadata, verify_images: str | Path | None = None, count: int = 8, seed: int = 0
) -> tuple[np.ndarray, str]:
    """Inputs ``(N, 3, H, W)`` for the parity check and where they came from.

    ``verify_images`` (a folder of face crops) if given, else the shared AFLW2000 crops when
    present, else random normal input with a :class:`UserWarning`. Real images are preprocessed
    exactly like the runtime (:func:`headpose.export.images.preprocess_crops`).
    """
    folder = Path(verify_images) if verify_images is not None else default_crops_dir()
    if folder is not None:
        paths = list_images(folder, limit=count)
        return preprocess_crops(paths, meta), str(folder)
    warnings.warn(
        "no face crops for the parity check (pass verify_images / --verify-images): "
        "comparing ONNX and PyTorch on random input only",
        UserWarning,
        stacklevel=2,
    )
    h, w = (int(v) for v in meta.input_size)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((count, 3, h, w)).astype(np.float32), "random input"


def torch_outputs(module: nn.Module, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``module(inputs)`` -> ``(angles, spread)`` as float32 numpy ``(N, A)``."""
    with torch.inference_mode():
        angles, spread = module(torch.from_numpy(np.ascontiguousarray(inputs)))
    return angles.float().numpy(), spread.float().numpy()


def check_metadata(onnx_path: str | Path, expected: ModelMetadata) -> ModelMetadata:
    """Read the metadata back as the runtime will (onnx ``metadata_props`` and onnxruntime's
    ``custom_metadata_map``) and check it equals ``expected``; raises :class:`ExportError`."""
    source = str(onnx_path)
    model = onnx.load(source, load_external_data=False)
    from_onnx = read_metadata({p.key: p.value for p in model.metadata_props}, source)
    from_ort = read_metadata(cpu_session(onnx_path).get_modelmeta().custom_metadata_map, source)
    for got in (from_onnx, from_ort):
        if got.to_json() != expected.to_json():
            raise ExportError(f"{source}: metadata read back differs from what was written")
    return from_onnx


def check_graph_contract(session, meta: ModelMetadata, source: str) -> None:
    """Input name/shape and output names as in :mod:`headpose.metadata`; batch axis dynamic."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != [meta.input_name]:
        raise ExportError(
            f"{source}: inputs {[i.name for i in inputs]}, expected [{meta.input_name!r}]"
        )
    if tuple(o.name for o in outputs) != OUTPUT_NAMES:
        raise ExportError(
            f"{source}: outputs {[o.name for o in outputs]}, expected {list(OUTPUT_NAMES)}"
        )
    shape = inputs[0].shape
    h, w = (int(v) for v in meta.input_size)
    if len(shape) != 4 or isinstance(shape[0], int) or list(shape[1:]) != [3, h, w]:
        raise ExportError(f"{source}: input shape {shape}, expected [batch, 3, {h}, {w}]")


def verify_onnx(
    onnx_path: str | Path,
    module: nn.Module,
    meta: ModelMetadata,
    inputs: np.ndarray,
    source: str,
    atol_angles: float = ATOL_ANGLES,
    atol_spread: float = ATOL_SPREAD,
    batch_sizes: tuple[int, ...] = (1, 3),
) -> ParityReport:
    """Compare onnxruntime with ``module`` (the traced PyTorch model, eval mode) on ``inputs``.

    Checks the metadata read-back, the graph contract, parity within ``atol_*`` degrees on all
    inputs (one batch), and that every batch size in ``batch_sizes`` runs and gives the same
    numbers. Raises :class:`ParityError` (with the max differences) or :class:`ExportError`.
    """
    if atol_angles <= 0 or atol_spread <= 0:
        raise InvalidInputError(
            f"atol: expected > 0, got angles {atol_angles}, spread {atol_spread}"
        )
    onnx_path = Path(onnx_path)
    check_metadata(onnx_path, meta)
    session = cpu_session(onnx_path)
    check_graph_contract(session, meta, str(onnx_path))
    ref_angles, ref_spread = torch_outputs(module, inputs)
    ort_angles, ort_spread = run_batched(session, inputs, batch_size=len(inputs))
    expected_shape = (len(inputs), len(meta.angles))
    if ort_angles.shape != expected_shape or ort_spread.shape != expected_shape:
        raise ParityError(
            f"{onnx_path}: output shapes {ort_angles.shape}, {ort_spread.shape}, expected {expected_shape}"
        )
    diff_angles = _max_diff(ort_angles, ref_angles)
    diff_spread = _max_diff(ort_spread, ref_spread)
    if not (diff_angles <= atol_angles and diff_spread <= atol_spread):
        raise ParityError(
            f"{onnx_path}: ONNX output differs from PyTorch on {len(inputs)} input(s) from "
            f"{source}: max |diff| angles {diff_angles:.3g} deg (atol {atol_angles:g}), spread "
            f"{diff_spread:.3g} deg (atol {atol_spread:g})"
        )
    for size in batch_sizes:
        pick = np.arange(size) % len(inputs)  # repeat the inputs to fill the batch
        a, s = run_batched(session, inputs[pick], batch_size=size)
        if a.shape != (size, len(meta.angles)):
            raise ParityError(f"{onnx_path}: batch of {size} gave angles of shape {a.shape}")
        da, ds = _max_diff(a, ort_angles[pick]), _max_diff(s, ort_spread[pick])
        if da > atol_angles or ds > atol_spread:
            raise ParityError(
                f"{onnx_path}: a batch of {size} gives other numbers than one batch of "
                f"{len(inputs)}: max |diff| angles {da:.3g}, spread {ds:.3g} deg"
            )
    return ParityReport(
        source=source,
        n_images=len(inputs),
        max_diff_angles=diff_angles,
        max_diff_spread=diff_spread,
        atol_angles=atol_angles,
        atol_spread=atol_spread,
        batch_sizes=tuple(batch_sizes),
    )


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Max absolute difference; inf if either side has a non-finite value where the other has not."""
    if a.shape != b.shape:
        return float("inf")
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return float("inf")
    finite = np.isfinite(a)
    return float(np.abs(a[finite] - b[finite]).max()) if finite.any() else 0.0
