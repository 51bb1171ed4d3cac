"""Learning-rate schedules of a run, from ``cfg.optim`` (stepped once per epoch).

* ``step``: multiply the lr by ``gamma`` every ``step_size`` epochs;
* ``multistep``: multiply it by ``gamma`` at each epoch in ``milestones`` (the paper: 20 and 100
  for 300W-LP, 30 and 40 for ETH-XGaze).

:data:`SCHEDULERS` is the registry ``optim.scheduler`` names; add one with
:func:`register_scheduler`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from headpose.training.config import Config, ConfigError

SchedulerFactory = Callable[[Config, torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]
SCHEDULERS: dict[str, SchedulerFactory] = {}


def register_scheduler(name: str, factory: SchedulerFactory) -> None:
    """Make ``optim.scheduler=name`` build its schedule with ``factory(cfg, optimizer)``."""
    SCHEDULERS[name] = factory


register_scheduler(
    "step",
    lambda cfg, opt: torch.optim.lr_scheduler.StepLR(
        opt, step_size=cfg.optim.step_size, gamma=cfg.optim.gamma
    ),
)
register_scheduler(
    "multistep",
    lambda cfg, opt: torch.optim.lr_scheduler.MultiStepLR(
        opt, milestones=list(cfg.optim.milestones), gamma=cfg.optim.gamma
    ),
)


def build_scheduler(
    cfg: Config, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LRScheduler:
    """The epoch-wise schedule ``cfg.optim.scheduler`` names, on ``optimizer``."""
    name = cfg.optim.scheduler
    if name not in SCHEDULERS:
        raise ConfigError(
            f"config key 'optim.scheduler': expected one of {sorted(SCHEDULERS)}, got {name!r}"
        )
    return SCHEDULERS[name](cfg, optimizer)
