"""Backbones: timm ``features_only`` networks tapped after each of their 4 stages.

The four feature maps are the paper's "flag points" 1-4 (after ResNet ``layer1`` .. ``layer4``,
strides 4, 8, 16, 32). Any timm model with at least four feature levels works; the registry
:data:`BACKBONES` (in :mod:`headpose.training.plugins`, read by the config) lists the tested
ones and :func:`register_backbone` adds more.

Pretrained weights: ``None`` (random init), ``"imagenet"`` (timm download; needs network) or the
path of a local timm-compatible state dict (``.pth``/``.pt``/``.bin``/``.safetensors``, possibly
wrapped in ``{"state_dict": ...}`` or ``{"model": ...}``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import timm
from safetensors.torch import load_file
from torch import Tensor, nn

from headpose.errors import InvalidInputError, InvalidModelError
from headpose.training.checkpoint_io import read_torch_file
from headpose.training.plugins import BACKBONES, BackboneSpec, register_backbone

__all__ = ["BACKBONES", "Backbone", "BackboneSpec", "read_weights_file", "register_backbone"]

log = logging.getLogger(__name__)


def _spec_for(name: str) -> BackboneSpec:
    if name in BACKBONES:
        return BACKBONES[name]
    if timm.is_model(name):  # unregistered timm model: try the generic recipe
        return BackboneSpec(name)
    raise InvalidInputError(
        f"backbone '{name}': unknown; registered: {sorted(BACKBONES)} (or any timm model name)"
    )


def read_weights_file(path: str | Path, trusted: bool = False) -> Any:
    """Load a local weights file (torch file or safetensors) on the CPU.

    Torch files go through the project's one loader,
    :func:`headpose.training.checkpoint_io.read_torch_file`: ``weights_only=True``, and a
    file holding other pickled objects is refused (:class:`CheckpointError`) unless ``trusted``.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidModelError(f"{path}: weights file not found")
    if path.suffix == ".safetensors":
        return load_file(str(path), device="cpu")
    return read_torch_file(path, trusted=trusted, what="weights file")


def _unwrap_state_dict(obj: Any, source: str) -> dict[str, Tensor]:
    if isinstance(obj, Mapping) and obj.get("format") == "headpose-checkpoint":
        raise InvalidModelError(
            f"{source}: is a headpose checkpoint, not a timm state dict; pass it to "
            "build_model(pretrained=...) or load_pretrained_checkpoint()"
        )
    for key in ("state_dict_ema", "model_ema", "state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise InvalidModelError(
            f"{source}: expected a state dict of tensors, got {type(obj).__name__}"
        )
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _short(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


class Backbone(nn.Module):
    """A timm feature extractor returning the 4 stage outputs ``[f1, f2, f3, f4]``.

    ``f_k`` has ``channels[k-1]`` channels and stride ``reductions[k-1]`` (4, 8, 16, 32 for the
    registered models).

    Args:
        name: registry name or timm model name.
        pretrained: ``None``, ``"imagenet"`` or a local weights file path.
    """

    def __init__(self, name: str = "resnet18", pretrained: str | Path | None = None) -> None:
        super().__init__()
        spec = _spec_for(name)
        download = pretrained == "imagenet"
        kwargs = dict(spec.timm_kwargs or {}, features_only=True, pretrained=download)
        if spec.out_indices is None:
            probe = timm.create_model(spec.timm_name, features_only=True, pretrained=False)
            levels = len(probe.feature_info)
            if levels < 4:
                raise InvalidInputError(
                    f"backbone '{name}': timm model has {levels} feature levels, need 4"
                )
            out_indices = tuple(range(levels - 4, levels))
            del probe
        else:
            out_indices = spec.out_indices
        self.name = name
        self.timm_name = spec.timm_name
        self.body = timm.create_model(spec.timm_name, out_indices=out_indices, **kwargs)
        self.channels: tuple[int, int, int, int] = tuple(self.body.feature_info.channels())
        self.reductions: tuple[int, ...] = tuple(self.body.feature_info.reduction())
        self.load_report: dict[str, list[str]] | None = None
        if pretrained is not None and not download:
            self.load_report = self.load_timm_weights(pretrained)

    def forward(self, x: Tensor) -> list[Tensor]:
        """``x`` ``(N, 3, H, W)`` -> four maps ``(N, channels[k], H/r_k, W/r_k)``."""
        return list(self.body(x))

    def load_timm_weights(
        self, weights: str | Path | Mapping[str, Any], source: str | None = None
    ) -> dict[str, list[str]]:
        """Load a timm state dict (of the full classifier model): a local file path, or the
        object already read from ``source`` by :func:`read_weights_file`.

        Keys of the classifier head that ``features_only`` drops (``fc``, ``classifier``,
        ``conv_head``...) are skipped; any other unexpected key, any missing key or any shape
        mismatch raises :class:`InvalidModelError` listing the keys. Returns
        ``{"loaded": [...], "skipped": [...]}``.
        """
        if isinstance(weights, (str, Path)):
            source = source or str(weights)
            weights = read_weights_file(weights)
        source = source or "<state dict>"
        state = _unwrap_state_dict(weights, source)
        own = self.body.state_dict()
        top_level = {name for name, _ in self.body.named_children()}
        missing = sorted(k for k in own if k not in state)
        unexpected = sorted(k for k in state if k not in own)
        dropped = [k for k in unexpected if k.split(".", 1)[0] not in top_level]
        foreign = [k for k in unexpected if k.split(".", 1)[0] in top_level]
        shape = sorted(
            f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
            for k, v in own.items()
            if k in state and state[k].shape != v.shape
        )
        problems = []
        if missing:
            problems.append(f"missing key(s): {_short(missing)}")
        if foreign:
            problems.append(f"unexpected key(s): {_short(foreign)}")
        if shape:
            problems.append(f"shape mismatch (file vs model): {_short(shape)}")
        if problems:
            raise InvalidModelError(
                f"{source}: not a '{self.timm_name}' state dict: " + "; ".join(problems)
            )
        self.body.load_state_dict({k: state[k] for k in own}, strict=True)
        log.info(
            "%s: loaded %d tensors into %s, skipped head: %s",
            source,
            len(own),
            self.timm_name,
            _short(dropped),
        )
        return {"loaded": sorted(own), "skipped": dropped}
