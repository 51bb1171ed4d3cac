"""Several checkpoints -> one ONNX graph that averages their predictions (a model ensemble).

The members must agree on everything the runtime reads (input size and name, colour order,
normalisation, angles, bins, crop rule, angle convention): one preprocessed crop feeds them all.
The graph outputs the mean of the members' angles and the mean of their spreads, in degrees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from headpose.errors import InvalidInputError
from headpose.export.checkpoint import ExportModules
from headpose.metadata import ModelMetadata

#: Metadata fields every member must share: the runtime preprocesses once for all of them.
CONTRACT_FIELDS = (
    "input_size",
    "input_name",
    "color_order",
    "mean",
    "std",
    "angles",
    "bins",
    "crop",
    "angle_convention",
)


class MeanOfPoseNetworks(nn.Module):
    """``forward(x) -> (angles (N, A), spread (N, A))``: the mean over decoded pose networks."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise InvalidInputError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        outputs = [member(x) for member in self.members]
        angles = torch.stack([a for a, _ in outputs]).mean(dim=0)
        spread = torch.stack([s for _, s in outputs]).mean(dim=0)
        return angles, spread


def _merge_text(values: Sequence[str]) -> str:
    """Distinct texts, dropping any that another one already contains, joined by ' | '."""
    unique = list(dict.fromkeys(values))
    kept = [v for v in unique if not any(v != o and v in o for o in unique)]
    return " | ".join(kept)


def merge_metadata(metas: Sequence[ModelMetadata], sources: Sequence[str]) -> ModelMetadata:
    """One :class:`ModelMetadata` for an ensemble of ``metas`` (raises if the contract differs).

    Descriptive fields are merged (licences and training data joined, so every member's terms
    stay visible); ``extra["ensemble"]`` lists each member's source, backbone and method.
    """
    first = metas[0]
    for meta, source in zip(metas[1:], sources[1:], strict=True):
        for name in CONTRACT_FIELDS:
            mine, theirs = getattr(meta, name), getattr(first, name)
            if mine != theirs:
                raise InvalidInputError(
                    f"ensemble: {source} has {name}={mine!r} but {sources[0]} has {theirs!r}; "
                    "members must share the input contract"
                )
    if len(metas) == 1:
        return first
    members = [
        {"source": source, "backbone": m.backbone, "method": m.method}
        for m, source in zip(metas, sources, strict=True)
    ]
    extra = {k: v for k, v in first.extra.items() if all(m.extra.get(k) == v for m in metas)}
    return dataclasses.replace(
        first,
        backbone=_merge_text([m.backbone for m in metas]),
        method=f"mean of {len(metas)} networks: " + " | ".join(m.method for m in metas),
        train_data=_merge_text([m.train_data for m in metas]),
        license=_merge_text([m.license for m in metas]),
        extra={**extra, "ensemble": members},
    )


def combine_modules(modules: Sequence[ExportModules]) -> ExportModules:
    """The members' decoded networks behind one :class:`MeanOfPoseNetworks`, counts summed."""
    if len(modules) == 1:
        return modules[0]
    return ExportModules(
        decoded=MeanOfPoseNetworks([m.decoded for m in modules]).eval(),
        full_values=sum(m.full_values for m in modules),
        pose_values=sum(m.pose_values for m in modules),
        pose_params=sum(m.pose_params for m in modules),
        ssl_values=sum(m.ssl_values for m in modules),
    )
