"""Rebuild what export needs from a training checkpoint (docs/ARCHITECTURE.md, "Checkpoint"):
the pose network without any SSL branch, wrapped to output decoded angles, and its metadata.

Checkpoints are read by the project's one loader,
:func:`headpose.training.checkpoint_io.load_checkpoint` (re-exported here)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any

import torch
from torch import nn

from headpose._version import __version__
from headpose.errors import first_line
from headpose.metadata import Bins, CropRule, ModelMetadata
from headpose.training.checkpoint_io import (
    CheckpointError,
    RunOptions,
    inference_weights,
    load_checkpoint,
)
from headpose.training.models import DecodedPoseNetwork, build_model

__all__ = ["CheckpointError", "build_export_modules", "load_checkpoint", "metadata_from_checkpoint"]

#: ModelMetadata fields the exporter sets itself, not taken from the checkpoint.
EXPORTER_FIELDS = ("headpose_version", "created", "format_version")
#: build_model defaults (docs/ARCHITECTURE.md), used when model_config leaves them out.
MODEL_DEFAULTS = {
    "angles": ("yaw", "pitch", "roll"),
    "bin_width": 3.0,
    "bin_low": -99.0,
    "bin_count": 66,
}


def model_bins(model_config: dict[str, Any]) -> Bins:
    """The :class:`Bins` that ``build_model(**model_config)`` uses."""
    return Bins(
        width=float(model_config.get("bin_width", MODEL_DEFAULTS["bin_width"])),
        count=int(model_config.get("bin_count", MODEL_DEFAULTS["bin_count"])),
        low=float(model_config.get("bin_low", MODEL_DEFAULTS["bin_low"])),
    )


def metadata_from_checkpoint(ckpt: dict[str, Any], source: str = "<checkpoint>") -> ModelMetadata:
    """Build the exported model's :class:`ModelMetadata` from the checkpoint's ``metadata`` dict.

    ``headpose_version`` and ``created`` (UTC, ISO 8601) are set here. Keys that are not
    metadata fields are kept under ``extra``. Bins and angles must agree with ``model_config``.
    """
    raw = dict(ckpt["metadata"])
    config = ckpt["model_config"]
    known = {f.name for f in fields(ModelMetadata)} - set(EXPORTER_FIELDS)
    extra = dict(raw.pop("extra", None) or {})
    extra.update({k: raw.pop(k) for k in sorted(set(raw) - known)})
    for key in EXPORTER_FIELDS:
        raw.pop(key, None)
    try:
        if "input_size" in raw:
            size = raw["input_size"]
            raw["input_size"] = (
                (int(size), int(size))
                if isinstance(size, int | float)
                else tuple(int(v) for v in size)
            )
        for key in ("mean", "std"):
            if key in raw:
                raw[key] = tuple(float(v) for v in raw[key])
        raw["angles"] = tuple(raw.get("angles", config.get("angles", MODEL_DEFAULTS["angles"])))
        bins = raw.get("bins", model_bins(config))
        raw["bins"] = bins if isinstance(bins, Bins) else Bins(**dict(bins))
        crop = raw.get("crop", CropRule())
        raw["crop"] = crop if isinstance(crop, CropRule) else CropRule(**dict(crop))
        meta = ModelMetadata(
            **raw,
            extra=extra,
            headpose_version=__version__,
            created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        )
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: checkpoint 'metadata' is not valid: {exc}") from exc
    meta.validate(f"{source} (checkpoint 'metadata')")
    config_angles = tuple(config.get("angles", MODEL_DEFAULTS["angles"]))
    if meta.angles != config_angles:
        raise CheckpointError(
            f"{source}: metadata angles {meta.angles} differ from model_config angles {config_angles}"
        )
    if meta.bins != model_bins(config):
        raise CheckpointError(
            f"{source}: metadata bins {meta.bins} differ from the model_config bins "
            f"{model_bins(config)}"
        )
    return meta


@dataclass
class ExportModules:
    """What export traces, and the parameter counts that prove the SSL branches are gone."""

    decoded: nn.Module  # DecodedPoseNetwork, eval mode: image -> (angles_deg, spread_deg)
    full_values: int  # parameters + buffers of the full PoseNet (with SSL branches)
    pose_values: int  # parameters + buffers of pose_network() (what may be exported)
    pose_params: int  # parameters only of pose_network()
    ssl_values: int  # parameters + buffers only in SSL branches


def _count_values(module: nn.Module) -> tuple[int, set[int]]:
    tensors = {id(t): t for t in [*module.parameters(), *module.buffers()]}
    return sum(t.numel() for t in tensors.values()), set(tensors)


def build_export_modules(
    ckpt: dict[str, Any],
    meta: ModelMetadata,
    source: str,
    flip_average: bool = RunOptions.flip_average,
    centre_crop: tuple[int, int] | None = None,
    weights: str = RunOptions.weights,
) -> ExportModules:
    """Build the full model from ``model_config``, load the weights, keep ``pose_network()``.

    ``weights``: which weights (:func:`headpose.training.checkpoint_io.inference_weights`:
    ``auto`` takes the moving average when the run kept one). Raises :class:`CheckpointError` if
    the config does not build, the weights do not fit, or the pose network's logits do not have
    the shape the metadata describes.
    """

    config = dict(ckpt["model_config"])
    config["pretrained"] = None  # the weights come from the checkpoint; never download
    try:
        model = build_model(**config)
    except Exception as exc:  # any failure here means the config is unusable
        raise CheckpointError(
            f"{source}: model_config does not build a model ({type(exc).__name__}: "
            f"{first_line(exc)}); model_config = {ckpt['model_config']!r}"
        ) from exc
    try:
        result = model.load_state_dict(inference_weights(ckpt, weights, source), strict=False)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{source}: weights do not fit model_config: {first_line(exc, 'size mismatch')}"
        ) from exc
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{source}: weights do not fit model_config: {len(result.missing_keys)} missing "
            f"(e.g. {result.missing_keys[:3]}), {len(result.unexpected_keys)} unexpected "
            f"(e.g. {result.unexpected_keys[:3]})"
        )
    model.eval()
    pose = model.pose_network().eval()
    full_values, _ = _count_values(model)
    pose_values, pose_ids = _count_values(pose)
    pose_params = sum(p.numel() for p in pose.parameters())
    full_tensors = {id(t) for t in [*model.parameters(), *model.buffers()]}
    if not pose_ids <= full_tensors:
        raise CheckpointError(f"{source}: pose_network() holds tensors that are not the model's")
    decoded = DecodedPoseNetwork(
        pose, meta.bins, flip_average=flip_average, centre_crop=centre_crop
    ).eval()
    h, w = (int(v) for v in meta.input_size)
    with torch.inference_mode():
        logits = pose(torch.zeros(1, 3, h, w))
    expected = (1, len(meta.angles), meta.bins.count)
    if tuple(logits.shape) != expected:
        raise CheckpointError(
            f"{source}: pose network outputs logits of shape {tuple(logits.shape)}, the metadata "
            f"implies {expected} (1, angles, bins)"
        )
    return ExportModules(
        decoded=decoded,
        full_values=full_values,
        pose_values=pose_values,
        pose_params=pose_params,
        ssl_values=full_values - pose_values,
    )
