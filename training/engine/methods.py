"""Training methods, composed from an SSL input task, the model's heads and the loss functions.

=============  ======================  ==============  ==================================
method         input of the network    SSL branches    loss
=============  ======================  ==============  ==================================
sl             the image               none            pose
sl-puzzled     ssl.task(image)         none            pose
hmtl           ssl.task(image)         ssl.task.heads  pose + ssl.weight * ssl
ssl-pretrain   ssl.task(image)         ssl.task.heads  ssl (no labels needed)
=============  ======================  ==============  ==================================

HMTL follows the paper by default (``ssl.input: shared``): the puzzled/rotated image goes through
the network once; the pose heads at the end and the SSL branch at the flag point share that one
forward pass. With ``ssl.input: separate`` the pose heads see the clean image and the SSL branch a
transformed copy, both in one batched pass of 2N images (:meth:`Method.forward`). Every loss
part is returned separately (``pose/ce``, ``pose/rmse_yaw``, ``ssl/puzzle``, ...) next to
``loss``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from headpose.metadata import Bins
from headpose.training.config import ANGLES, Config
from headpose.training.losses import (
    IGNORE,
    pose_loss,
    regression_loss,
    ssl_loss,
)
from headpose.training.plugins import METHODS
from headpose.training.ssl import build_task


@dataclass
class Method:
    """One way of training: which input task, which heads, which losses."""

    name: str
    task: Any | None  # SSL task: (image (C,H,W), generator) -> (image, {branch: labels}); .heads
    uses_pose_loss: bool
    uses_ssl_loss: bool
    bins: Bins
    angles: tuple[str, ...]
    alpha: float = 2.0
    regression_only: bool = False
    reduction: str = "mean"  # pose loss over angles: mean | sum (the paper's)
    ssl_weight: float = 50.0
    separate_input: bool = False  # hmtl: pose on the clean image, SSL on a transformed copy
    ssl_share: float = 1.0  # probability that a training image gets the SSL transform
    ssl_warmup_epochs: float = 0.0  # the SSL weight ramps from 0 over this many epochs

    @property
    def ssl_heads(self) -> dict[str, tuple[int, int]] | None:
        """Branches the model needs (``build_model(ssl_heads=...)``), or None."""
        if not self.uses_ssl_loss or self.task is None:
            return None
        return {k: tuple(v) for k, v in self.task.heads.items()}

    @property
    def angle_index(self) -> list[int]:
        """Columns of the dataset target ``[yaw, pitch, roll]`` that the model predicts."""
        return [ANGLES.index(a) for a in self.angles]

    def prepare(
        self, image: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The network input for one training image ``(C, H, W)`` and its SSL labels."""
        if self.task is None:
            return image, {}
        if self.ssl_share < 1.0 and float(torch.rand(1, generator=generator)) >= self.ssl_share:
            # left clean: no SSL target (ssl_loss skips IGNORE labels)
            heads = self.task.heads if self.uses_ssl_loss else {}
            return image, {k: torch.full((int(h),), IGNORE) for k, (h, _c) in heads.items()}
        image, labels = self.task(image, generator)
        return image, (dict(labels) if self.uses_ssl_loss else {})

    def ssl_scale(self, epochs_done: float) -> float:
        """The SSL weight's warm-up factor after ``epochs_done`` (fractional) epochs: 0 -> 1."""
        if self.ssl_warmup_epochs <= 0:
            return 1.0
        return min(1.0, max(0.0, epochs_done / self.ssl_warmup_epochs))

    def forward(
        self,
        net: Any,
        images: Tensor,
        ssl_images: Tensor | None = None,
    ) -> dict[str, Any]:
        """Network outputs of a batch: ``net(images)``, or in one pass with ``ssl_images``
        (separate input: pose logits from ``images``, SSL logits from ``ssl_images``)."""
        if ssl_images is None:
            return net(images)
        n = images.shape[0]
        out = net(torch.cat([images, ssl_images]))
        return {"pose": out["pose"][:n], "ssl": {k: v[n:] for k, v in out["ssl"].items()}}

    def losses(
        self,
        outputs: Mapping[str, Any],
        target: Tensor | None,
        ssl_labels: Mapping[str, Tensor],
        weight: Tensor | None = None,
        ssl_scale: float = 1.0,
    ) -> dict[str, Tensor]:
        """All loss parts of one batch; ``"loss"`` is what is optimised.

        ``outputs``: PoseNet output; ``target``: ``(N, A)`` degrees in the model's angle order
        (NaN = missing), or None without labels; ``ssl_labels``: branch -> ``(N, heads)``;
        ``weight``: ``(N, A)`` per-label weights of the pose loss (pseudo-labels), or None;
        ``ssl_scale``: multiplies the SSL weight (:meth:`ssl_scale`, the warm-up).
        """
        parts: dict[str, Tensor] = {}
        total: Tensor | None = None
        if self.uses_pose_loss:
            if target is None:
                raise ValueError(f"method '{self.name}' needs pose labels")
            if self.regression_only:
                pose = regression_loss(
                    outputs["pose"], target, self.bins, self.angles, self.reduction
                )
            else:
                pose = pose_loss(
                    outputs["pose"],
                    target,
                    self.bins,
                    self.alpha,
                    self.angles,
                    weight=weight,
                    reduction=self.reduction,
                )
            parts.update({f"pose/{k}": v for k, v in pose.items()})
            total = pose["total"]
        if self.uses_ssl_loss:
            ssl = ssl_loss(outputs["ssl"], ssl_labels, self.ssl_weight * ssl_scale)
            parts.update({f"ssl/{k}": v for k, v in ssl.items()})
            total = ssl["total"] if total is None else total + ssl["total"]
        assert total is not None
        parts["loss"] = total
        return parts


def build_method(cfg: Config) -> Method:
    """The :class:`Method` of ``cfg.method`` (a :class:`~headpose.training.plugins.MethodSpec`
    from the registry) with its task, bins and loss settings."""
    spec = METHODS[cfg.method]
    task = None
    if spec.task_input:
        task = build_task(cfg.ssl.task, cfg.ssl.grid)
    bins = Bins(width=cfg.model.bin_width, count=cfg.model.bin_count, low=cfg.model.bin_low)
    return Method(
        name=spec.name,
        task=task,
        uses_pose_loss=spec.pose_loss,
        uses_ssl_loss=spec.ssl_loss,
        bins=bins,
        angles=tuple(cfg.model.angles),
        alpha=cfg.loss.alpha,
        regression_only=cfg.loss.regression_only,
        reduction=cfg.loss.reduction,
        ssl_weight=cfg.ssl.weight if spec.ssl_weight is None else spec.ssl_weight,
        separate_input=spec.separate_input and cfg.ssl.input == "separate",
        ssl_share=cfg.ssl.share,
        ssl_warmup_epochs=cfg.ssl.warmup_epochs,
    )


def describe(cfg: Config) -> str:
    """Short human description of the method for the model metadata, e.g. ``hmtl (puzzle 3x3, flag 3)``."""
    spec = METHODS[cfg.method]
    if not spec.task_input:
        return spec.name
    task = f"{cfg.ssl.task} {cfg.ssl.grid}x{cfg.ssl.grid}"
    if not spec.ssl_loss:
        return f"{spec.name} ({task})"
    separate = ", separate input" if spec.separate_input and cfg.ssl.input == "separate" else ""
    return f"{spec.name} ({task}, flag {cfg.model.flag_point}, weight {cfg.ssl.weight:g}{separate})"
