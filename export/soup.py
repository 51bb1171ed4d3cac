"""A uniform weight average of several checkpoints of one recipe (a "model soup").

Networks fine-tuned from the same pretrained weights with the same recipe often sit close enough
in weight space that the mean of their weights answers like the mean of their answers
(Wortsman et al., 2022, "Model soups"), at the cost of one network. ::

    python -m headpose.export.soup A.pt B.pt C.pt -o soup.pt
    headpose-export soup.pt -o soup.onnx

Every checkpoint must have the same model config and the same tensors (names, shapes, types).
Each contributes its inference weights (its moving average when it kept one, see
``--weights``); floating-point tensors, batch-norm statistics included, are averaged, and
integer ones (batch-norm step counters) are taken from the first. The written checkpoint holds
the first's config and metadata, the averaged weights as its trained weights, no optimiser
state, and ``soup_of``: the files averaged. It never overwrites a file.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import torch

from headpose.cli.options import (
    checkpoint_weights_option,
    command,
    headpose_errors_as_usage,
    trust_checkpoint_option,
)
from headpose.cli.options import run as run_command
from headpose.errors import InvalidInputError
from headpose.files import check_output
from headpose.training.engine.checkpoint import (
    inference_weights,
    load_checkpoint,
    save_checkpoint,
)


def average_states(
    states: Sequence[Mapping[str, torch.Tensor]], sources: Sequence[str]
) -> dict[str, torch.Tensor]:
    """The uniform mean of ``states`` (state dicts of one architecture): floating tensors
    averaged in float64 and cast back, other tensors from the first. Names what differs."""
    if len(states) < 2:
        raise InvalidInputError(f"a soup needs two or more checkpoints, got {len(states)}")
    first, name = states[0], sources[0]
    for state, source in zip(states[1:], sources[1:], strict=True):
        if set(state) != set(first):
            extra = sorted(set(state) ^ set(first))[:4]
            raise InvalidInputError(f"{source}: not the same tensors as {name} (e.g. {extra})")
        for key, value in state.items():
            if value.shape != first[key].shape or value.dtype != first[key].dtype:
                raise InvalidInputError(
                    f"{source}: tensor '{key}' is {tuple(value.shape)} {value.dtype}, "
                    f"{name} has {tuple(first[key].shape)} {first[key].dtype}"
                )
    soup = {}
    for key, value in first.items():
        if value.is_floating_point():
            total = sum(s[key].to(torch.float64) for s in states)
            soup[key] = (total / len(states)).to(value.dtype)
        else:
            soup[key] = value.clone()
    return soup


def make_soup(
    checkpoints: Sequence[str | Path],
    output: str | Path,
    weights: str = "auto",
    trusted: bool = False,
) -> Path:
    """Write the soup of ``checkpoints`` to the new file ``output`` (see the module doc)."""
    output = check_output(output, inputs=checkpoints)
    sources = [str(p) for p in checkpoints]
    states = [load_checkpoint(p, trusted=trusted) for p in checkpoints]
    first = states[0]
    for state, source in zip(states[1:], sources[1:], strict=True):
        if state["model_config"] != first["model_config"]:
            raise InvalidInputError(
                f"{source}: model config differs from {sources[0]}'s; a soup needs one architecture"
            )
        if state.get("metadata") != first.get("metadata"):
            raise InvalidInputError(
                f"{source}: model metadata (input, bins, crop, ...) differs from {sources[0]}'s"
            )
    weights_used = [
        inference_weights(s, weights, src) for s, src in zip(states, sources, strict=True)
    ]
    soup: dict[str, Any] = {
        **{k: v for k, v in first.items() if k != "ema"},
        "model": average_states(weights_used, sources),
        "optimizer": {},
        "scheduler": {},
        "scaler": None,
        "soup_of": sources,
    }
    return save_checkpoint(output, soup)


PROG = "python -m headpose.export.soup"


@command(PROG, (__doc__ or "").split("\n\n")[0])
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="new file")
@checkpoint_weights_option(
    "each checkpoint's moving average (ema), trained weights (raw), or whichever it runs (auto)"
)
@trust_checkpoint_option("each checkpoint")
def cli(checkpoints: tuple[str, ...], output: Path, weights: str, trust_checkpoint: bool) -> int:
    with headpose_errors_as_usage():
        path = make_soup(checkpoints, output, weights, trust_checkpoint)
    click.echo(f"wrote {path}: the mean of {len(checkpoints)} checkpoints' weights")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (bad input: one line ``PROG: error: ...`` and 2)."""
    return run_command(cli, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
