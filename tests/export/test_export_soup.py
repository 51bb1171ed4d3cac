"""Weight averages of checkpoints: the mean of the weights, one architecture, no overwrite."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from headpose.errors import InvalidInputError
from headpose.export.soup import average_states, main, make_soup
from headpose.training.engine.checkpoint import load_checkpoint


def test_the_soup_holds_the_mean_of_the_weights(
    tiny_checkpoint: Path, second_checkpoint: Path, tmp_path: Path
) -> None:
    out = make_soup([tiny_checkpoint, second_checkpoint], tmp_path / "soup.pt")
    a, b, soup = (load_checkpoint(p) for p in (tiny_checkpoint, second_checkpoint, out))
    for key, value in soup["model"].items():
        if value.is_floating_point():
            expected = (a["model"][key].double() + b["model"][key].double()) / 2
            torch.testing.assert_close(value, expected.to(value.dtype))
        else:
            assert torch.equal(value, a["model"][key])
    assert soup["soup_of"] == [str(tiny_checkpoint), str(second_checkpoint)]
    assert soup["model_config"] == a["model_config"] and "ema" not in soup
    with pytest.raises(InvalidInputError, match="already exists"):
        make_soup([tiny_checkpoint, second_checkpoint], out)
    assert main([str(tiny_checkpoint), str(second_checkpoint), "-o", str(out)]) == 2


def test_a_soup_needs_one_architecture(
    tiny_checkpoint: Path, aa_checkpoint: Path, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match="model config differs"):
        make_soup([tiny_checkpoint, aa_checkpoint], tmp_path / "mixed.pt")
    with pytest.raises(InvalidInputError, match="two or more"):
        average_states([{"w": torch.zeros(2)}], ["a"])
    with pytest.raises(InvalidInputError, match="'w' is \\(3,\\)"):
        average_states([{"w": torch.zeros(2)}, {"w": torch.zeros(3)}], ["a", "b"])
