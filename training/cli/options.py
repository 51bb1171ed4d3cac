"""What the training and export command lines share beyond :mod:`headpose.cli.options`:
``KEY=VALUE`` config overrides and the options of how a checkpoint is run
(:class:`headpose.training.checkpoint_io.RunOptions`: ``--weights``, ``--flip-average``,
``--input-zoom``, ``--trust-checkpoint``, made from that one dataclass)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from headpose.cli.options import dataclass_options, dataclass_values
from headpose.training.checkpoint_io import RunOptions

F = TypeVar("F", bound=Callable[..., Any])


def run_options(names: Sequence[str] | None = None) -> Callable[[F], F]:
    """The :class:`RunOptions` fields as click options (``names``: only these); the callback
    gets them back as one object with :func:`run_options_from`."""
    return dataclass_options(RunOptions, names)


def run_options_from(values: dict[str, Any]) -> RunOptions:
    """The :class:`RunOptions` of a callback's option values (taken out of ``values``)."""
    return dataclass_values(RunOptions, values)


def overrides_argument(help_text: str = "dotted config overrides") -> Callable[[F], F]:
    """``key=value ...`` config overrides, accepted anywhere on the line (before, between or
    after options); checked here for the ``=``, typed later by the config."""

    def check(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
        for text in value:
            if "=" not in text or not text.partition("=")[0].strip():
                raise click.BadParameter(
                    f"{text!r}: expected key=value, e.g. optim.lr=0.01", ctx, param
                )
        return list(value)

    return click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...", callback=check)
