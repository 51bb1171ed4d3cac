"""Static int8 quantization (QDQ, U8S8, per-channel) of an exported headpose model, and the
report of what it costs in accuracy and gains in speed.

Activations are QUInt8 and weights QInt8 per output channel, calibrated with MinMax on a folder
of face crops preprocessed exactly like the runtime. The decoding tail (softmax over bins,
expectation, spread) stays float, so the outputs ``angles`` and ``spread`` are float32 as in the
fp32 model. ``quantize_dynamic`` is deliberately not used: it turns convolutions into
ConvInteger, which is many times slower on CPU.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from headpose.export.errors import ExportError
from headpose.export.images import list_images, preprocess_crops, read_labelled_folder
from headpose.export.ort_session import cpu_session, run_batched
from headpose.files import AtomicFile, check_output
from headpose.metadata import METADATA_KEY, ModelMetadata, read_metadata

QUANTIZATION = "int8 static QDQ, activations QUInt8, weights QInt8 per-channel (MinMax)"


class CropCalibrationReader(CalibrationDataReader):
    """Feeds face crops one at a time (batch 1) as ``{input_name: float32 (1, 3, H, W)}``."""

    def __init__(self, paths: Sequence[str | Path], meta: ModelMetadata) -> None:
        self.paths = [Path(p) for p in paths]
        self.meta = meta
        self._index = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._index >= len(self.paths):
            return None
        tensor = preprocess_crops([self.paths[self._index]], self.meta)
        self._index += 1
        return {self.meta.input_name: tensor}

    def rewind(self) -> None:
        self._index = 0

    def __len__(self) -> int:
        return len(self.paths)


def int8_path_for(onnx_path: str | Path) -> Path:
    """``model.onnx`` -> ``model.int8.onnx``."""
    path = Path(onnx_path)
    return path.with_name(f"{path.stem}.int8{path.suffix or '.onnx'}")


def decode_tail_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes from the first Softmax to the outputs (the bin decoding), which must
    stay float for the outputs to keep their precision."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    todo = [n for n in model.graph.node if n.op_type == "Softmax"]
    seen: dict[str, onnx.NodeProto] = {}
    while todo:
        node = todo.pop()
        if node.name in seen:
            continue
        seen[node.name] = node
        for out in node.output:
            todo.extend(consumers.get(out, []))
    return sorted(seen)


def unshare_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give every weighted node its own copy of its initializers, in place.

    The TorchScript exporter deduplicates equal tensors (e.g. the all-zero biases of freshly
    initialised or BN-folded convolutions) and routes them through ``Identity`` nodes; a bias
    shared by several convolutions cannot get the per-convolution int8 scale that QDQ needs, and
    those convolutions would stay float. Returns ``model``.
    """
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    # 1. Identity(initializer) -> a copy of the initializer under the Identity's output name
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
            inits[copy.name] = copy
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    # 2. an initializer feeding several nodes -> one copy per extra consumer
    uses: dict[str, int] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name not in inits:
                continue
            uses[name] = uses.get(name, 0) + 1
            if uses[name] > 1:
                copy = onnx.TensorProto()
                copy.CopyFrom(inits[name])
                copy.name = f"{name}__copy{uses[name]}"
                graph.initializer.append(copy)
                node.input[i] = copy.name
    used = {name for node in graph.node for name in node.input}
    unused = [t for t in graph.initializer if t.name not in used]
    for tensor in unused:
        graph.initializer.remove(tensor)
    return model


def quantize_int8(
    onnx_path: str | Path,
    calib_dir: str | Path,
    output_path: str | Path | None = None,
    calib_limit: int = 64,
    overwrite: bool = False,
) -> Path:
    """Quantize ``onnx_path`` to int8 with crops from ``calib_dir`` (at most ``calib_limit``).

    Writes ``output_path`` (default ``model.int8.onnx`` beside the input) atomically, with the
    headpose metadata copied over (``extra["quantization"]`` says how it was made). Returns it.
    An existing ``output_path`` is replaced only with ``overwrite``; an input never.
    """
    onnx_path = Path(onnx_path)
    output_path = Path(output_path) if output_path is not None else int8_path_for(onnx_path)
    check_output(output_path, overwrite, inputs=[onnx_path, calib_dir])
    model = onnx.load(str(onnx_path))
    props = {p.key: p.value for p in model.metadata_props}
    meta = read_metadata(props, str(onnx_path))
    paths = list_images(calib_dir, limit=calib_limit)
    unshare_initializers(model)
    for i, node in enumerate(model.graph.node):  # the exclusion list needs every node named
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    exclude = decode_tail_nodes(model)
    if not exclude:
        raise ExportError(f"{onnx_path}: no Softmax in the graph; is this a headpose pose model?")

    ort_logger = logging.getLogger()
    level = ort_logger.level
    ort_logger.setLevel(logging.ERROR)  # quantize_static logs advice at INFO/WARNING
    try:
        with (
            AtomicFile(output_path, overwrite=overwrite) as tmp,
            tempfile.TemporaryDirectory(prefix="headpose-int8-") as work,
        ):
            src = Path(work) / "fp32.onnx"
            onnx.save(model, str(src))
            quantize_static(
                str(src),
                str(tmp),
                CropCalibrationReader(paths, meta),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=exclude,
                calibrate_method=CalibrationMethod.MinMax,
            )
            qmodel = onnx.load(str(tmp))
            qmeta = dataclasses.replace(
                meta,
                extra={
                    **meta.extra,
                    "quantization": QUANTIZATION,
                    "calibration_images": len(paths),
                },
                calibration=None,  # fitted on the fp32 model's errors: recalibrate the int8 model
            )
            del qmodel.metadata_props[:]
            for key, value in props.items():
                entry = qmodel.metadata_props.add()
                entry.key, entry.value = key, (qmeta.to_json() if key == METADATA_KEY else value)
            qmodel.doc_string = f"{model.doc_string} [{QUANTIZATION}]".strip()
            qmodel.producer_name = model.producer_name
            qmodel.producer_version = model.producer_version
            onnx.save(qmodel, str(tmp))
    finally:
        ort_logger.setLevel(level)
    return output_path


@dataclass(frozen=True)
class Int8Report:
    """Accuracy and speed of the fp32 and int8 models, measured side by side.

    MAE values are degrees per angle name (NaN labels masked); ``ms_*`` is the median latency of
    one image at batch 1; ``n_eval`` is the number of labelled images (0: no accuracy measured).
    """

    fp32_path: Path
    int8_path: Path
    fp32_mb: float
    int8_mb: float
    ms_fp32: float
    ms_int8: float
    threads: int | None = 1
    n_eval: int = 0
    mae_fp32: dict[str, float] = dataclasses.field(default_factory=dict)
    mae_int8: dict[str, float] = dataclasses.field(default_factory=dict)
    diff_int8_vs_fp32: dict[str, float] = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"int8: {self.int8_path} ({self.int8_mb:.2f} MB vs fp32 {self.fp32_mb:.2f} MB)",
            f"  speed, batch 1, {self.threads or 'default'} thread(s): fp32 {self.ms_fp32:.2f} ms/image, "
            f"int8 {self.ms_int8:.2f} ms/image",
        ]
        if self.n_eval:
            for name in self.mae_fp32:
                lines.append(
                    f"  {name:5s} MAE fp32 {self.mae_fp32[name]:.3f} deg, int8 "
                    f"{self.mae_int8[name]:.3f} deg (change {self.mae_int8[name] - self.mae_fp32[name]:+.3f}); "
                    f"mean |int8 - fp32| {self.diff_int8_vs_fp32[name]:.3f} deg"
                )
            lines.append(f"  on {self.n_eval} labelled images")
        return "\n".join(lines)


def measure_latency(
    paths: Sequence[str | Path],
    sample: np.ndarray,
    runs: int = 20,
    warmup: int = 3,
    threads: int | None = 1,
) -> list[float]:
    """Median ms per call of each model in ``paths`` on ``sample`` ``(1, 3, H, W)``, the models
    run alternately so that they share the machine's state. ``threads``: intra-op threads of
    each session (1 by default: stable on a shared machine; None = onnxruntime's default)."""
    sessions = [cpu_session(p, threads) for p in paths]
    names = [s.get_inputs()[0].name for s in sessions]
    times: list[list[float]] = [[] for _ in sessions]
    for i in range(warmup + runs):
        for j, (session, name) in enumerate(zip(sessions, names, strict=True)):
            start = time.perf_counter()
            session.run(None, {name: sample})
            if i >= warmup:
                times[j].append((time.perf_counter() - start) * 1000.0)
    return [float(np.median(t)) for t in times]


def mean_abs_error(pred: np.ndarray, labels: np.ndarray) -> float:
    """Mean of ``|pred - labels|`` over finite labels (degrees); NaN if there is none."""
    mask = np.isfinite(labels)
    return float(np.abs(pred[mask] - labels[mask]).mean()) if mask.any() else float("nan")


def compare_int8(
    fp32_path: str | Path,
    int8_path: str | Path,
    eval_dir: str | Path | None = None,
    eval_limit: int | None = None,
    sample_dir: str | Path | None = None,
    runs: int = 20,
    threads: int | None = 1,
) -> Int8Report:
    """Measure the int8 model against the fp32 one.

    Accuracy: MAE per angle on the labelled folder ``eval_dir`` (``labels.csv``:
    ``image,yaw,pitch,roll``) for both models, and their mean absolute difference. Speed: batch 1
    latency of both on one real crop (from ``eval_dir`` or ``sample_dir``; zeros without either).
    """
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    model = onnx.load(str(fp32_path), load_external_data=False)
    meta = read_metadata({p.key: p.value for p in model.metadata_props}, str(fp32_path))
    h, w = (int(v) for v in meta.input_size)
    report: dict = {}
    sample = np.zeros((1, 3, h, w), dtype=np.float32)
    if eval_dir is not None:
        data = read_labelled_folder(eval_dir, limit=eval_limit)
        inputs = preprocess_crops(data.paths, meta)
        fp32_pred, _ = run_batched(cpu_session(fp32_path), inputs)
        int8_pred, _ = run_batched(cpu_session(int8_path), inputs)
        columns = {"yaw": 0, "pitch": 1, "roll": 2}
        report["n_eval"] = len(data.paths)
        report["mae_fp32"], report["mae_int8"], report["diff_int8_vs_fp32"] = {}, {}, {}
        for k, name in enumerate(meta.angles):
            labels = data.labels[:, columns[name]]
            report["mae_fp32"][name] = mean_abs_error(fp32_pred[:, k], labels)
            report["mae_int8"][name] = mean_abs_error(int8_pred[:, k], labels)
            report["diff_int8_vs_fp32"][name] = float(
                np.abs(int8_pred[:, k] - fp32_pred[:, k]).mean()
            )
        sample = inputs[:1]
    elif sample_dir is not None:
        sample = preprocess_crops(list_images(sample_dir, limit=1), meta)
    ms_fp32, ms_int8 = measure_latency([fp32_path, int8_path], sample, runs=runs, threads=threads)
    return Int8Report(
        fp32_path=fp32_path,
        int8_path=int8_path,
        fp32_mb=fp32_path.stat().st_size / 1e6,
        int8_mb=int8_path.stat().st_size / 1e6,
        ms_fp32=ms_fp32,
        ms_int8=ms_int8,
        threads=threads,
        **report,
    )
