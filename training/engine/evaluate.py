"""Evaluation of a checkpoint or an exported ONNX model on a labelled dataset (MAE in degrees).

Both paths preprocess identically, as the runtime does: the dataset's face crop (RGB) is turned
to BGR, resized whole with :func:`headpose.preprocess.resize_image` and normalised with
:func:`headpose.preprocess.to_input_tensor` under the model's metadata. A checkpoint runs as
``DecodedPoseNetwork(model.pose_network())`` in torch, an ONNX file through
:class:`headpose.pose_model.PoseModel`; the two agree to ~1e-4 degrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headpose.metadata import Bins, CropRule, ModelMetadata
from headpose.pose_model import PoseModel
from headpose.preprocess import resize_image, to_input_tensor
from headpose.training.checkpoint_io import RunOptions, inference_weights, load_checkpoint
from headpose.training.data.records import REDUCED_LIMIT, within_limit
from headpose.training.engine.metrics import geodesic_by_yaw_band, mae_by_yaw_band, mae_per_angle

ANGLES = ("yaw", "pitch", "roll")
Predictor = Callable[[list[np.ndarray]], np.ndarray]  # BGR crops -> (N, 3) [yaw, pitch, roll]


@dataclass
class EvalResult:
    """MAE (degrees) on the full set and on the reduced set (|angles| <= 99)."""

    full: dict[str, float]
    reduced: dict[str, float]
    baseline: dict[str, float] | None = None  # predicting the training mean (split evaluation)
    #: mean rotation angle between prediction and label (degrees), overall and per |yaw| band,
    #: for rows with all three angles labelled (``metrics.geodesic_error``)
    geodesic: dict[str, float] | None = None
    by_yaw: dict[str, dict[str, float]] | None = None  # per band of true |yaw| (metrics.YAW_BANDS)

    @property
    def reduced_differs(self) -> bool:
        return self.reduced["n"] != self.full["n"]

    def to_json(self) -> dict[str, Any]:
        """``{"n", "yaw", "pitch", "roll", "mean"}`` of the full set, plus ``"reduced"`` (same keys)
        when it has fewer samples, plus ``"baseline"`` for split evaluations, plus ``"by_yaw"``
        (band ``"0-30"`` etc. -> same keys). NaN -> null."""
        out: dict[str, Any] = _clean(self.full)
        if self.reduced_differs:
            out["reduced"] = _clean(self.reduced)
        if self.baseline is not None:
            out["baseline"] = _clean(self.baseline)
        if self.by_yaw:
            out["by_yaw"] = {band: _clean(v) for band, v in self.by_yaw.items()}
        if self.geodesic:
            out["geodesic"] = {k: _round(v) for k, v in self.geodesic.items()}
        return out

    def table(self) -> str:
        """A small text table of the results."""
        lines = [f"{'':<26}{'n':>6}{'yaw':>8}{'pitch':>8}{'roll':>8}{'mean':>8}"]
        rows = [("full", self.full)]
        if self.reduced_differs:
            rows.append((f"reduced (|angles|<={REDUCED_LIMIT:g})", self.reduced))
        if self.baseline is not None:
            rows.append(("baseline: training mean", self.baseline))
        rows += [(f"true |yaw| {band}", v) for band, v in (self.by_yaw or {}).items()]
        for name, r in rows:
            cells = "".join(f"{_num(r[k]):>8}" for k in (*ANGLES, "mean"))
            lines.append(f"{name:<26}{r['n']:>6}{cells}")
        if self.geodesic:
            parts = ", ".join(f"{k} {_num(v)}" for k, v in self.geodesic.items())
            lines.append(f"geodesic error (deg; all three angles labelled): {parts}")
        return "\n".join(lines)


def _clean(values: Mapping[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": int(values["n"])}
    for key in (*ANGLES, "mean"):
        v = values.get(key, math.nan)
        out[key] = None if v is None or math.isnan(v) else round(float(v), 4)
    return out


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 4)


def _num(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def score(
    pred: np.ndarray, target: np.ndarray, baseline: dict[str, float] | None = None
) -> EvalResult:
    """MAE of ``pred`` vs ``target`` (both ``(N, 3)`` [yaw, pitch, roll], NaN = missing)."""
    keep = within_limit(target, REDUCED_LIMIT)
    return EvalResult(
        full=mae_per_angle(pred, target, ANGLES),
        reduced=mae_per_angle(pred[keep], target[keep], ANGLES),
        baseline=baseline,
        by_yaw=mae_by_yaw_band(pred, target, ANGLES),
        geodesic=geodesic_by_yaw_band(pred, target),
    )


def to_three(values: np.ndarray, angles: Sequence[str]) -> np.ndarray:
    """``(N, A)`` in ``angles`` order -> ``(N, 3)`` [yaw, pitch, roll] with NaN for absent angles."""
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(angles))
    out = np.full((len(values), 3), np.nan)
    for i, name in enumerate(angles):
        out[:, ANGLES.index(name)] = values[:, i]
    return out


def metadata_from_dict(raw: Mapping[str, Any]) -> ModelMetadata:
    """The :class:`ModelMetadata` of a checkpoint's ``metadata`` dict (the fields used here)."""
    size = raw.get("input_size", [224, 224])
    size = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(v) for v in size)
    return ModelMetadata(
        input_size=size,
        mean=tuple(raw.get("mean", ModelMetadata.mean)),
        std=tuple(raw.get("std", ModelMetadata.std)),
        angles=tuple(raw.get("angles", ANGLES)),
        bins=Bins(**dict(raw.get("bins", {}))),
        crop=CropRule(**dict(raw.get("crop", {}))),
    )


def checkpoint_predictor(
    path: str | Path,
    device: str = "cpu",
    flip_average: bool = RunOptions.flip_average,
    input_zoom: float = RunOptions.input_zoom,
    trusted: bool = RunOptions.trust_checkpoint,
    weights: str = RunOptions.weights,
) -> tuple[Predictor, ModelMetadata]:
    """A predictor running the pose network of a training checkpoint in torch (eval mode);
    ``flip_average`` and ``input_zoom`` as in ``headpose-export`` (crops are resized to
    ``input_size / input_zoom`` and the network sees their centre); ``trusted`` as in
    :func:`headpose.training.checkpoint_io.read_torch_file`; ``weights`` as in
    :func:`headpose.training.checkpoint_io.inference_weights` (defaults:
    :class:`~headpose.training.checkpoint_io.RunOptions`)."""
    # torch: optional ([train] extra); an ONNX model is evaluated without it (headpose-eval --model)
    import torch

    from headpose.training.models import DecodedPoseNetwork, build_model
    from headpose.training.models.posenet import zoom_input

    state = load_checkpoint(path, trusted=trusted)
    model = build_model(**{**state["model_config"], "pretrained": None})
    model.load_state_dict(inference_weights(state, weights, source=str(path)))
    meta = metadata_from_dict(state["metadata"])
    meta, centre_crop = zoom_input(meta, input_zoom)
    net = DecodedPoseNetwork(model.pose_network(), meta.bins, flip_average, centre_crop)
    net = net.to(device).eval()

    def predict(crops_bgr: list[np.ndarray]) -> np.ndarray:
        batch = to_input_tensor([resize_image(c, meta.input_size) for c in crops_bgr], meta)
        with torch.no_grad():
            angles, _ = net(torch.from_numpy(batch).to(device))
        return to_three(angles.double().cpu().numpy(), meta.angles)

    return predict, meta


def onnx_predictor(path: str | Path) -> tuple[Predictor, ModelMetadata]:
    """A predictor running an exported model through the runtime's :class:`PoseModel`."""
    model = PoseModel(path)

    def predict(crops_bgr: list[np.ndarray]) -> np.ndarray:
        angles, _ = model.predict_crops(crops_bgr)
        return model.to_yaw_pitch_roll(angles)

    return predict, model.meta


def predict_dataset(
    predict: Predictor, dataset: Any, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``predict`` over a dataset of ``(RGB image, target)`` in batches (images are not kept).

    Returns ``(pred (N, 3), target (N, 3))``.
    """
    preds, targets = [], []
    n = len(dataset)
    for start in range(0, n, batch_size):
        crops, batch_targets = [], []
        for i in range(start, min(n, start + batch_size)):
            image, target = dataset.load(i) if hasattr(dataset, "load") else dataset[i]
            crops.append(np.ascontiguousarray(np.asarray(image)[:, :, ::-1]))  # RGB -> BGR
            batch_targets.append(np.asarray(target, dtype=np.float64).reshape(3))
        preds.append(predict(crops))
        targets.append(np.stack(batch_targets))
    if not preds:
        return np.zeros((0, 3)), np.zeros((0, 3))
    return np.concatenate(preds), np.concatenate(targets)


def evaluate(
    predict: Predictor, dataset: Any, batch_size: int = 32, train_targets: np.ndarray | None = None
) -> EvalResult:
    """MAE of ``predict`` on ``dataset``; with ``train_targets`` also the training-mean baseline."""
    pred, target = predict_dataset(predict, dataset, batch_size)
    baseline = None
    if train_targets is not None and len(target):
        mean = np.nanmean(np.asarray(train_targets, dtype=np.float64), axis=0)
        baseline = mae_per_angle(np.broadcast_to(mean, target.shape), target, ANGLES)
    return score(pred, target, baseline)
