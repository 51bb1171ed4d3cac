"""Exponential moving average of the weights, on :class:`torch.optim.swa_utils.AveragedModel`.

After ``t`` updates the average moves towards the model with decay
``min(decay, (1 + t) / (10 + t))`` (a warm-up, so the random initial heads fade out within the
first steps of a short run); floating-point parameters and buffers (BatchNorm statistics) are
averaged, integer buffers copied. The decay is computed on the device: no host copy per step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

MultiAvgFn = Callable[[list[Tensor], list[Tensor], Tensor], None]


def ema_multi_avg_fn(decay: float) -> MultiAvgFn:
    """The ``multi_avg_fn`` of :class:`AveragedModel` for an EMA with the warm-up above."""

    def update(averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        n = num_averaged.to(averaged[0].dtype)
        d = torch.clamp((1.0 + n) / (10.0 + n), max=decay)
        torch._foreach_mul_(averaged, d)
        torch._foreach_add_(averaged, torch._foreach_mul(current, 1.0 - d))

    return update


def build_ema(model: nn.Module, decay: float) -> AveragedModel:
    """An EMA copy of ``model`` (parameters and buffers); call ``update_parameters(model)``
    after every optimizer step. Its ``state_dict()`` is ``n_averaged`` + ``module.<key>``."""
    return AveragedModel(model, multi_avg_fn=ema_multi_avg_fn(decay), use_buffers=True)
