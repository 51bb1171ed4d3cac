"""The moving average of the weights: warm-up decay by hand, buffers, integer buffers copied."""

from __future__ import annotations

import torch
from torch import nn

from headpose.training.engine.ema import build_ema


def test_ema_follows_the_warm_up_decay_by_hand() -> None:
    model = nn.Sequential(nn.Linear(2, 1, bias=False), nn.BatchNorm1d(1))
    ema = build_ema(model, decay=0.5)
    values = [1.0, 3.0, 7.0, 2.0]
    expected = None
    for t, v in enumerate(values):
        with torch.no_grad():
            model[0].weight.fill_(v)
            model[1].running_mean.fill_(10 * v)
            model[1].num_batches_tracked.fill_(t + 5)
        ema.update_parameters(model)
        if expected is None:
            expected = v  # the first update copies
        else:
            d = min(0.5, (1 + t) / (10 + t))  # t models averaged so far
            expected = d * expected + (1 - d) * v
        assert torch.allclose(ema.module[0].weight, torch.full((1, 2), expected))
        assert torch.allclose(ema.module[1].running_mean, torch.full((1,), 10 * expected))
        assert int(ema.module[1].num_batches_tracked) == t + 5
    assert int(ema.n_averaged) == len(values)


def test_ema_state_round_trips() -> None:
    model = nn.Linear(3, 2)
    ema = build_ema(model, decay=0.9)
    for _ in range(3):
        with torch.no_grad():
            model.weight.add_(1.0)
        ema.update_parameters(model)
    again = build_ema(nn.Linear(3, 2), decay=0.9)
    again.load_state_dict(ema.state_dict())
    assert int(again.n_averaged) == 3
    assert torch.equal(again.module.weight, ema.module.weight)
