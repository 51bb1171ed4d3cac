"""PoseNet: backbone + pose heads + self-supervised branches (HMTL), and what export traces.

* :class:`PoseNet` - ``forward(x) -> {"pose": (N, A, B), "ssl": {branch: (N, heads, classes)}}``;
  the SSL branches sit at ``flag_point`` (1-4: after backbone stage 1-4).
* :class:`PoseNetwork` - backbone + pose heads only (shares the weights of a PoseNet; state dict
  keys ``backbone.*`` and ``pose_head.*``, the same as in the PoseNet).
* :class:`DecodedPoseNetwork` - pose network + softmax decoding -> ``(angles_deg, spread_deg)``,
  both ``(N, A)``; traceable by ``torch.onnx.export``.
* :func:`load_pretrained_checkpoint` - initialise a PoseNet from a headpose checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from headpose.errors import InvalidInputError, InvalidModelError
from headpose.metadata import Bins, ModelMetadata
from headpose.rotation import mirror_signs
from headpose.training.bins import bin_centres, moments_from_centres
from headpose.training.checkpoint_io import FORMAT as CHECKPOINT_FORMAT
from headpose.training.checkpoint_io import inference_weights, is_checkpoint
from headpose.training.models.backbones import Backbone, read_weights_file
from headpose.training.models.heads import PoseHeads, SSLBranch

log = logging.getLogger(__name__)


class PoseNetwork(nn.Module):
    """Backbone + pose heads: ``forward(x) -> logits (N, A, B)``."""

    def __init__(self, backbone: Backbone, pose_head: PoseHeads, bins: Bins) -> None:
        super().__init__()
        self.backbone = backbone
        self.pose_head = pose_head
        self.bins = bins
        self.angles = pose_head.angles

    def forward(self, x: Tensor) -> Tensor:
        return self.pose_head(self.backbone(x)[-1])


class PoseNet(nn.Module):
    """The training model.

    Args:
        backbone: a :class:`Backbone`.
        angles: predicted angles in output order.
        bins: bin specification of the pose heads.
        ssl_heads: branch name -> ``(num_heads, num_classes)``, or ``None`` for no SSL branch.
        flag_point: backbone stage (1-4) whose output feeds the SSL branches.
        dropout: dropout of the pose heads; ``ssl_dropout``: of the SSL heads.
    """

    def __init__(
        self,
        backbone: Backbone,
        angles: Sequence[str] = ("yaw", "pitch", "roll"),
        bins: Bins | None = None,
        ssl_heads: Mapping[str, tuple[int, int]] | None = None,
        flag_point: int = 3,
        dropout: float = 0.5,
        ssl_dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if flag_point not in (1, 2, 3, 4):
            raise InvalidInputError(f"flag_point: expected 1, 2, 3 or 4, got {flag_point!r}")
        self.bins = bins or Bins()
        self.angles = tuple(angles)
        self.flag_point = int(flag_point)
        self.backbone = backbone
        self.pose_head = PoseHeads(backbone.channels[-1], self.angles, self.bins.count, dropout)
        tap_channels = backbone.channels[self.flag_point - 1]
        self.ssl = nn.ModuleDict(
            {
                name: SSLBranch(tap_channels, heads, classes, ssl_dropout)
                for name, (heads, classes) in (ssl_heads or {}).items()
            }
        )
        self.model_config: dict[str, Any] = {}  # filled by build_model (for checkpoints)
        self.load_report: dict[str, Any] | None = None  # what pretrained weights were loaded

    def forward(self, x: Tensor, ssl: bool = True) -> dict[str, Any]:
        """``x`` ``(N, 3, H, W)`` -> ``{"pose": (N, A, B), "ssl": {branch: (N, heads, classes)}}``.

        ``ssl=False`` skips the SSL branches (``"ssl"`` is then ``{}``).
        """
        features = self.backbone(x)
        out: dict[str, Any] = {"pose": self.pose_head(features[-1]), "ssl": {}}
        if ssl:
            tapped = features[self.flag_point - 1]
            out["ssl"] = {name: branch(tapped) for name, branch in self.ssl.items()}
        return out

    def pose_network(self) -> PoseNetwork:
        """Backbone + pose heads only, sharing this model's weights (no SSL parameters)."""
        return PoseNetwork(self.backbone, self.pose_head, self.bins)


class DecodedPoseNetwork(nn.Module):
    """Pose network + decoding: ``forward(x) -> (angles_deg (N, A), spread_deg (N, A))``.

    Angles are the softmax expectation over the bin centres; spread is the standard deviation of
    that distribution. ``network`` is a :class:`PoseNetwork` (a :class:`PoseNet` is reduced to
    its pose network). No data-dependent control flow: ONNX-traceable.

    ``flip_average=True`` also runs the horizontally mirrored image and averages the two
    predictions, the mirror's yaw and roll negated (twice the compute; lower error for a model
    trained with flips). Spread is then the mean of the two spreads.

    ``centre_crop`` (h, w): the network sees only the central (h, w) pixels of a larger input
    (N, 3, H, W). With ``H = h / z`` this is a zoom by ``z`` at full resolution: the mean of a
    training augmentation that zooms in (the level-1 zoom crops the centre 0.8-1.0 of the
    image, mean 0.9), so that the test crop matches the average training crop
    (:func:`zoom_input`, ``headpose-export --input-zoom``).
    """

    def __init__(
        self,
        network: nn.Module,
        bins: Bins,
        flip_average: bool = False,
        centre_crop: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.centre_crop = None if centre_crop is None else tuple(int(v) for v in centre_crop)
        if isinstance(network, PoseNet):
            network = network.pose_network()
        own_bins = getattr(network, "bins", None)
        if own_bins is not None and own_bins.count != bins.count:
            raise InvalidInputError(
                f"DecodedPoseNetwork: network has {own_bins.count} bins, bins spec has {bins.count}"
            )
        self.network = network
        self.bins = bins
        self.register_buffer("centres", bin_centres(bins), persistent=False)
        self.flip_average = bool(flip_average)
        angles = getattr(network, "angles", ("yaw", "pitch", "roll"))
        self.register_buffer("mirror", torch.tensor(mirror_signs(angles)), persistent=False)

    def cropped(self, x: Tensor) -> Tensor:
        """The central ``centre_crop`` pixels of ``x`` (N, 3, H, W); ``x`` itself if None."""
        if self.centre_crop is None:
            return x
        (h, w), (ch, cw) = x.shape[-2:], self.centre_crop
        if not torch.jit.is_tracing() and (ch > h or cw > w):
            raise InvalidInputError(
                f"DecodedPoseNetwork: input {h}x{w} is smaller than the centre crop {ch}x{cw}"
            )
        top, left = (h - ch) // 2, (w - cw) // 2
        return x[:, :, top : top + ch, left : left + cw]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.cropped(x)
        angles, spread = moments_from_centres(self.network(x), self.centres)
        if not self.flip_average:
            return angles, spread
        flipped, flipped_spread = moments_from_centres(
            self.network(torch.flip(x, dims=[3])), self.centres
        )
        return (angles + flipped * self.mirror) / 2.0, (spread + flipped_spread) / 2.0


def zoom_input(meta: ModelMetadata, zoom: float) -> tuple[ModelMetadata, tuple[int, int] | None]:
    """``meta`` of a model that zooms in by ``zoom`` (0, 1] at full resolution, and the centre
    crop (h, w) its network takes (for :class:`DecodedPoseNetwork`).

    The input grows to ``input_size / zoom``; ``extra`` records ``input_zoom`` and
    ``network_input``. ``zoom == 1`` returns ``(meta, None)`` unchanged.
    """
    if not 0.0 < float(zoom) <= 1.0:
        raise InvalidInputError(f"input zoom: expected a number in (0, 1], got {zoom!r}")
    if float(zoom) == 1.0:
        return meta, None
    crop = (int(meta.input_size[0]), int(meta.input_size[1]))
    size = (int(round(crop[0] / float(zoom))), int(round(crop[1] / float(zoom))))
    extra = {**meta.extra, "input_zoom": float(zoom), "network_input": crop}
    return dataclasses.replace(meta, input_size=size, extra=extra), crop


def _prefixed(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _try_load(module: nn.Module, state: Mapping[str, Tensor]) -> bool:
    """Load ``state`` into ``module`` if keys and shapes match exactly; else leave it alone."""
    own = module.state_dict()
    if set(own) != set(state) or any(own[k].shape != state[k].shape for k in own):
        return False
    module.load_state_dict(dict(state), strict=True)
    return True


def load_pretrained_checkpoint(
    model: PoseNet,
    checkpoint: str | Path | Mapping[str, Any],
    heads: bool = True,
    ssl: bool = True,
    trusted: bool = False,
) -> dict[str, Any]:
    """Initialise ``model`` from a headpose checkpoint (file path or the loaded dict).

    The backbone is always loaded and must match exactly (same timm architecture), else
    :class:`InvalidModelError`. Pose heads are loaded per angle and SSL branches per branch name
    when all their keys and shapes match (``heads`` / ``ssl`` switch this off). Returns a report
    ``{"source", "backbone": n_tensors, "pose_heads": [angles], "ssl_branches": [names],
    "skipped": [descriptions]}``. A file is read with :func:`read_weights_file` (``trusted``:
    allow full unpickling, see :func:`headpose.training.checkpoint_io.read_torch_file`).
    """
    source = str(checkpoint) if isinstance(checkpoint, (str, Path)) else "<checkpoint>"
    if isinstance(checkpoint, (str, Path)):
        obj = read_weights_file(checkpoint, trusted=trusted)
    else:
        obj = checkpoint
    if not is_checkpoint(obj) or not isinstance(obj.get("model"), Mapping):
        raise InvalidModelError(
            f"{source}: not a headpose checkpoint (expected format '{CHECKPOINT_FORMAT}' with a "
            "'model' state dict)"
        )
    state: Mapping[str, Tensor] = inference_weights(obj, source=source)
    theirs = (obj.get("model_config") or {}).get("backbone")
    backbone_state = _prefixed(state, "backbone.")
    if not _try_load(model.backbone, backbone_state):
        raise InvalidModelError(
            f"{source}: backbone '{theirs}' does not match this model's '{model.backbone.name}' "
            f"({len(backbone_state)} vs {len(model.backbone.state_dict())} tensors or shapes differ)"
        )
    report: dict[str, Any] = {
        "source": source,
        "backbone": len(backbone_state),
        "pose_heads": [],
        "ssl_branches": [],
        "skipped": [],
    }
    if heads:
        for angle, head in model.pose_head.heads.items():
            part = _prefixed(state, f"pose_head.heads.{angle}.")
            if _try_load(head, part):
                report["pose_heads"].append(angle)
            else:
                why = "absent" if not part else "shape differs"
                report["skipped"].append(f"pose head '{angle}' ({why})")
    if ssl:
        for name, branch in model.ssl.items():
            part = _prefixed(state, f"ssl.{name}.")
            if _try_load(branch, part):
                report["ssl_branches"].append(name)
            else:
                why = "absent" if not part else "shape differs"
                report["skipped"].append(f"ssl branch '{name}' ({why})")
    log.info(
        "%s: loaded backbone (%d tensors), pose heads %s, ssl branches %s; skipped %s",
        source,
        report["backbone"],
        report["pose_heads"],
        report["ssl_branches"],
        report["skipped"],
    )
    return report
