"""Checkpoint -> ONNX: trace the pose network (no SSL branch) with its bin decoding, write the
headpose metadata, verify against PyTorch, and only then move the file into place.

The exported graph follows :mod:`headpose.metadata`: input ``"image"`` float32 ``(N, 3, H, W)``
(dynamic N), outputs ``"angles"`` and ``"spread"`` float32 ``(N, A)`` in degrees.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from headpose._version import __version__
from headpose.errors import InvalidInputError
from headpose.export.checkpoint import (
    ExportModules,
    build_export_modules,
    load_checkpoint,
    metadata_from_checkpoint,
)
from headpose.export.ensemble import combine_modules, merge_metadata
from headpose.export.errors import ExportError, ParityError
from headpose.export.fold_pads import fold_pads_into_convs
from headpose.export.verify import (
    ATOL_ANGLES,
    ATOL_SPREAD,
    OUTPUT_NAMES,
    ParityReport,
    verification_inputs,
    verify_onnx,
)
from headpose.files import AtomicFile, check_output, is_device
from headpose.metadata import METADATA_KEY, ModelMetadata
from headpose.tracking import VideoOptions
from headpose.training.checkpoint_io import RunOptions, uses_average
from headpose.training.models.posenet import zoom_input

PRODUCER = "headpose-export"
#: protobuf's hard limit for a single ONNX file without external data.
MAX_ONNX_BYTES = 2**31 - 1


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote and measured."""

    path: Path
    metadata: ModelMetadata
    opset: int
    size_bytes: int
    parity: ParityReport
    full_values: int  # parameters + buffers of the checkpoint's full model (with SSL)
    exported_values: int  # numbers stored in the ONNX graph (initializers + constants)

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


DESCRIPTIVE_FIELDS = ("license", "train_data", "method")


def export_checkpoint(
    checkpoint_path: str | Path,
    output_path: str | Path,
    opset: int = 17,
    verify_images: str | Path | None = None,
    atol: float = ATOL_ANGLES,
) -> ModelMetadata:
    """Export a training checkpoint to a verified headpose ONNX model; returns its metadata.

    See :func:`export_onnx` (same arguments; ``atol`` in degrees applies to angles and spread).
    """
    return export_onnx(checkpoint_path, output_path, opset, verify_images, atol, atol).metadata


def export_onnx(
    checkpoint_path: str | Path | Sequence[str | Path],
    output_path: str | Path,
    opset: int = 17,
    verify_images: str | Path | None = None,
    atol_angles: float = ATOL_ANGLES,
    atol_spread: float = ATOL_SPREAD,
    verify_count: int = 8,
    trusted: bool = RunOptions.trust_checkpoint,
    flip_average: bool = RunOptions.flip_average,
    describe: dict[str, str] | None = None,
    input_zoom: float = RunOptions.input_zoom,
    weights: str = RunOptions.weights,
    video: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export ``checkpoint_path`` to ``output_path`` and verify it.

    Parity images: ``verify_images`` (a folder of face crops), else the shared AFLW2000 crops,
    else random input (with a warning); at most ``verify_count``. The file is written to a
    temporary name beside ``output_path`` and moved into place only after every check passed;
    on failure it is deleted (an older file at ``output_path`` is left as it was) and
    :class:`ParityError` / :class:`ExportError` is raised. An existing ``output_path`` is
    replaced only with ``overwrite``; an input (a checkpoint, a file in ``verify_images``) never
    (:func:`headpose.files.check_output`). Bad arguments or checkpoints raise
    :class:`InvalidInputError` / :class:`CheckpointError`.

    ``flip_average``: the graph also runs the mirrored image and averages (yaw and roll of the
    mirror negated); recorded as ``extra["flip_average"]`` in the metadata. ``describe``: new
    values for the descriptive metadata fields (:data:`DESCRIPTIVE_FIELDS`), e.g. to state a
    licence the checkpoint's config got wrong. ``input_zoom`` (0, 1]: the model's input grows
    to ``input_size / input_zoom`` and the graph passes its central ``input_size`` pixels to the
    network, i.e. the network sees the crop zoomed in by ``input_zoom`` at full resolution
    (match the mean zoom of the training augmentation); recorded as ``extra["input_zoom"]``.

    ``video``: the video-mode settings the runtime should use with this model unless told
    otherwise (fields of :class:`headpose.tracking.VideoOptions`, e.g. ``{"detect_every": 4}``
    as measured with ``bench/speed.py``); checked, recorded as ``extra["video"]``.

    ``weights``: ``auto`` (the moving average of the weights when the run kept one, else the
    trained weights), ``ema`` or ``raw``; a moving average used is recorded as
    ``extra["weights"] = "ema"``.

    The defaults of ``trusted``, ``flip_average``, ``input_zoom`` and ``weights`` are those of
    :class:`headpose.training.checkpoint_io.RunOptions` (as on ``headpose-export``).

    Several checkpoints (a list) export one graph that averages their predictions (see
    :mod:`headpose.export.ensemble`); they must share the input contract.
    """
    if isinstance(checkpoint_path, str | Path):
        checkpoint_paths = [Path(checkpoint_path)]
    else:
        checkpoint_paths = [Path(p) for p in checkpoint_path]
    if not checkpoint_paths:
        raise InvalidInputError("no checkpoint given")
    output_path = Path(output_path)
    if not 11 <= int(opset) <= 23:
        raise InvalidInputError(f"opset: expected 11..23 (17 recommended), got {opset}")
    if not output_path.parent.is_dir():
        raise InvalidInputError(f"output folder does not exist: {output_path.parent}")
    if output_path.is_dir():
        raise InvalidInputError(
            f"output {output_path} is a folder; give a file name like model.onnx"
        )
    read = [*checkpoint_paths, *([verify_images] if verify_images is not None else [])]
    check_output(output_path, overwrite, read)
    sources = [str(p) for p in checkpoint_paths]
    source = " + ".join(sources)
    ckpts = [load_checkpoint(p, trusted=trusted) for p in checkpoint_paths]
    metas = [metadata_from_checkpoint(c, s) for c, s in zip(ckpts, sources, strict=True)]
    meta = merge_metadata(metas, sources)
    if flip_average:
        meta = dataclasses.replace(meta, extra={**meta.extra, "flip_average": True})
    if any(uses_average(c, weights, s) for c, s in zip(ckpts, sources, strict=True)):
        meta = dataclasses.replace(meta, extra={**meta.extra, "weights": "ema"})
    meta, centre_crop = zoom_input(meta, input_zoom)
    if video:
        VideoOptions.make(dict(video))  # a bad key or value is named before any work
        meta = dataclasses.replace(meta, extra={**meta.extra, "video": dict(video)})
    if describe:
        unknown = sorted(set(describe) - set(DESCRIPTIVE_FIELDS))
        if unknown:
            raise InvalidInputError(
                f"metadata override: {unknown} cannot be set; only {list(DESCRIPTIVE_FIELDS)}"
            )
        meta = dataclasses.replace(meta, **describe)
    modules = combine_modules(
        [
            build_export_modules(
                c, meta, s, flip_average=flip_average, centre_crop=centre_crop, weights=weights
            )
            for c, s in zip(ckpts, sources, strict=True)
        ]
    )
    inputs, input_source = verification_inputs(meta, verify_images, count=verify_count)

    model = trace_to_onnx(modules, meta, int(opset))
    fold_pads_into_convs(model)  # exact; checked by the parity test below
    exported_values = check_no_ssl(model, modules, meta, source)
    write_metadata(model, meta, ckpts)
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"{source}: exported graph is not valid ONNX: {exc}") from exc

    data = model.SerializeToString()
    check_size(len(data), exported_values, source)
    try:
        with (
            AtomicFile(output_path, overwrite=overwrite) as tmp,
            tempfile.TemporaryDirectory(prefix="headpose-export-") as work,
        ):
            checked = Path(work) / "model.onnx" if is_device(output_path) else tmp  # /dev/null
            checked.write_bytes(data)
            parity = verify_onnx(
                checked, modules.decoded, meta, inputs, input_source, atol_angles, atol_spread
            )
            if checked != tmp:
                tmp.write_bytes(data)
    except ParityError as exc:
        raise ParityError(f"PARITY CHECK FAILED: {exc}; the model was not written") from exc
    return ExportResult(
        path=output_path,
        metadata=meta,
        opset=int(opset),
        size_bytes=len(data),
        parity=parity,
        full_values=modules.full_values,
        exported_values=exported_values,
    )


def trace_to_onnx(modules: ExportModules, meta: ModelMetadata, opset: int) -> onnx.ModelProto:
    """TorchScript-trace ``modules.decoded`` to an in-memory ONNX model with a dynamic batch axis."""
    h, w = (int(v) for v in meta.input_size)
    buffer = io.BytesIO()
    batch = {0: "batch"}
    with warnings.catch_warnings():
        # dynamo=False: a true opset-17 graph without onnxscript; torch flags it as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", "Constant folding", UserWarning)  # torch's own note
        torch.onnx.export(
            modules.decoded,
            (torch.zeros(1, 3, h, w),),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=[meta.input_name],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={meta.input_name: batch, **{name: batch for name in OUTPUT_NAMES}},
            do_constant_folding=True,
        )
    return onnx.load_model_from_string(buffer.getvalue())


def graph_values(model: onnx.ModelProto) -> int:
    """How many numbers the graph stores: initializers plus ``Constant`` node tensors."""
    total = sum(int(np.prod(t.dims, dtype=np.int64)) for t in model.graph.initializer)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    total += int(np.prod(attr.t.dims, dtype=np.int64))
    return total


def check_no_ssl(
    model: onnx.ModelProto, modules: ExportModules, meta: ModelMetadata, source: str
) -> int:
    """Assert that no SSL parameter reached the graph; returns :func:`graph_values`.

    The graph may hold at most the pose network's parameters and buffers (batch norms fold into
    the convolutions, so usually fewer) plus the bin centres and small shape constants, and no
    initializer may be named after an SSL branch.
    """
    values = graph_values(model)
    slack = 4096 + len(meta.angles) * meta.bins.count
    ssl_names = [t.name for t in model.graph.initializer if "ssl" in t.name.lower()]
    if ssl_names or values > modules.pose_values + slack:
        raise ExportError(
            f"{source}: the exported graph holds SSL parameters ({values} numbers stored vs "
            f"{modules.pose_values} in the pose network; SSL-named initializers: {ssl_names[:5]})"
        )
    return values


def write_metadata(model: onnx.ModelProto, meta: ModelMetadata, ckpts: Sequence[dict]) -> None:
    """Store ``meta`` under :data:`METADATA_KEY` in ``metadata_props``; set doc string/producer.

    ``ckpts``: the checkpoints the graph came from (several for an ensemble).
    """
    epochs = "+".join(str(c.get("epoch", "?")) for c in ckpts)
    steps = "+".join(str(c.get("step", "?")) for c in ckpts)
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
    model.producer_name = PRODUCER
    model.producer_version = __version__
    model.doc_string = (
        f"headpose pose model: {meta.backbone}, method {meta.method}, trained on "
        f"{meta.train_data}; epoch {epochs}, step {steps}. Input "
        f"'{meta.input_name}' float32 (N,3,{meta.input_size[0]},{meta.input_size[1]}) "
        f"{meta.color_order}; outputs 'angles' and 'spread' (N,{len(meta.angles)}) degrees in "
        f"the order {list(meta.angles)}. Licence: {meta.license}. Full metadata: "
        f"metadata_props['{METADATA_KEY}']."
    )


def check_size(size: int, stored_values: int, source: str) -> None:
    """The serialized model must hold every stored number (4 bytes each, at least 95%: a few
    constants are int64 or shape-only) and fit in one protobuf file (2 GB)."""
    if size > MAX_ONNX_BYTES:
        raise ExportError(
            f"{source}: ONNX model of {size / 1e9:.2f} GB exceeds the 2 GB file limit"
        )
    minimum = int(0.95 * 4 * stored_values)
    if size < minimum:
        raise ExportError(
            f"{source}: ONNX model is {size} bytes, expected >= {minimum} for its "
            f"{stored_values} stored float32 values: weights are missing"
        )
