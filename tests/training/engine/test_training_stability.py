"""Stability training: a perturbed copy of each batch in the same pass, and the agreement loss."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from headpose.metadata import Bins
from headpose.training.config import ConfigError, load_config
from headpose.training.engine.methods import build_method
from headpose.training.engine.perturb import perturb_batch
from headpose.training.engine.trainer import train
from headpose.training.losses import stability_loss

BINS = Bins(width=3.0, count=66, low=-99.0)


def test_no_perturbation_is_the_identity() -> None:
    x = torch.randn(3, 3, 16, 16)
    assert torch.allclose(perturb_batch(x, 0.0, 0.0, 0.0), x, atol=1e-5)


def test_a_shift_moves_the_content_by_that_share_of_the_side() -> None:
    x = torch.zeros(1, 1, 20, 20)
    x[0, 0, :, 10] = 1.0  # a vertical line in column 10
    g = torch.Generator().manual_seed(0)
    out = perturb_batch(x, 0.1, 0.0, 0.0, g)  # up to 2 px either way
    same = torch.Generator().manual_seed(0)
    torch.rand((1,), generator=same)  # the zoom's draw comes first
    u = torch.rand((1, 2), generator=same)
    # the grid samples the source at x + shift, so the content moves the other way
    expected = 10 - (2 * u[0, 0].item() - 1) * 0.1 * 20
    cols = out[0, 0].mean(dim=0)
    centre = float((cols * torch.arange(20)).sum() / cols.sum())
    assert centre == pytest.approx(expected, abs=0.05)
    assert out.shape == x.shape and out.dtype == x.dtype


def test_noise_has_the_given_spread_and_bad_shapes_are_named() -> None:
    x = torch.zeros(4, 3, 32, 32)
    out = perturb_batch(x, 0.0, 0.0, 0.5, torch.Generator().manual_seed(1))
    assert out.std().item() == pytest.approx(0.5, rel=0.05)
    with pytest.raises(ValueError, match=r"expected \(N, C, H, W\)"):
        perturb_batch(torch.zeros(3, 8, 8), 0.0, 0.0, 0.0)


def test_mirror_flips_the_copy_left_right() -> None:
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(perturb_batch(x, 0.0, 0.0, 0.0, mirror=True), x.flip(3), atol=1e-5)


def test_stability_loss_compares_a_mirrored_copy_with_signs() -> None:
    logits = torch.full((1, 3, BINS.count), -30.0)
    logits[0, :, 35] = 30.0  # yaw, pitch, roll all at bin 35: +7.5 deg
    mirrored = logits.clone()
    mirrored[0, [0, 2]] = -30.0
    mirrored[0, [0, 2], 30] = 30.0  # yaw and roll at bin 30: -7.5 deg
    signs = torch.tensor([-1.0, 1.0, -1.0])
    assert stability_loss(logits, mirrored, BINS, signs).item() == pytest.approx(0.0, abs=1e-4)
    # without the signs the mirrored answer is 15 deg away on yaw and roll
    assert stability_loss(logits, mirrored, BINS).item() == pytest.approx(10.0, abs=1e-3)


def test_a_mirror_method_holds_the_mirrored_answer_to_the_clean_one() -> None:
    cfg = load_config("cpu/sl_resnet18_128", ["stability.weight=1", "stability.mirror=true"])
    method = build_method(cfg)
    assert method.stability_mirror
    logits = torch.full((2, 3, BINS.count), -30.0)
    logits[:, :, 40] = 30.0
    mirrored = torch.full((2, 3, BINS.count), -30.0)
    mirrored[:, 1, 40] = 30.0  # pitch keeps its sign
    mirrored[:, [0, 2], 25] = 30.0  # yaw and roll: the mirror bin of 40
    target = torch.full((2, 3), 22.5)
    parts = method.losses({"pose": logits, "pose_perturbed": mirrored}, target, {})
    assert parts["stability"].item() == pytest.approx(0.0, abs=1e-3)
    plain = build_method(load_config("cpu/sl_resnet18_128", ["stability.weight=1"]))
    parts = plain.losses({"pose": logits, "pose_perturbed": mirrored}, target, {})
    assert parts["stability"].item() == pytest.approx(2 * 45.0 / 3, abs=1e-2)


def test_stability_loss_is_the_mean_gap_between_expected_angles() -> None:
    logits = torch.full((2, 3, BINS.count), -30.0)
    logits[..., 33] = 30.0  # all mass on bin 33: centre 1.5 deg
    other = logits.clone()
    other[0, 0] = -30.0
    other[0, 0, 35] = 30.0  # one angle moved by two bins: 6 deg
    assert stability_loss(logits, logits, BINS).item() == pytest.approx(0.0, abs=1e-4)
    assert stability_loss(logits, other, BINS).item() == pytest.approx(6.0 / 6, abs=1e-3)
    with pytest.raises(ValueError, match="perturbed_logits: expected shape"):
        stability_loss(logits, logits[:1], BINS)


def test_forward_adds_the_perturbed_pose_in_the_same_pass(pass_recorder) -> None:
    cfg = load_config(
        "cpu/hmtl_puzzle3_flag3_resnet18_128", ["ssl.input=separate", "stability.weight=1"]
    )
    method = build_method(cfg)
    assert method.stability_weight == 1.0
    clean, puzzled, moved = (
        torch.zeros(2, 3, 4, 4),
        torch.ones(2, 3, 4, 4),
        torch.full((2, 3, 4, 4), 2.0),
    )
    out = method.forward(pass_recorder, clean, puzzled, moved)
    assert pass_recorder.batches == [6]
    assert torch.all(out["pose"] == 0) and torch.all(out["ssl"]["puzzle"] == 1)
    assert torch.all(out["pose_perturbed"] == 2)


def test_a_method_whose_pose_heads_see_the_puzzle_is_refused() -> None:
    with pytest.raises(ConfigError, match="stability.weight"):
        load_config(
            "cpu/hmtl_puzzle3_flag3_resnet18_128", ["stability.weight=1", "ssl.input=shared"]
        )
    with pytest.raises(ConfigError, match="stability.share"):
        load_config("cpu/sl_resnet18_128", ["stability.share=0"])
    with pytest.raises(ConfigError, match="stability.noise"):
        load_config("cpu/sl_resnet18_128", ["stability.noise=-1"])


@pytest.mark.slow
def test_stability_trains_and_logs_its_part(
    tiny_hmtl_config: Callable[..., Any], tmp_path: Path
) -> None:
    cfg = tiny_hmtl_config(
        tmp_path / "run",
        "ssl.input=separate",
        "stability.weight=0.5",
        "stability.share=0.5",
        "stability.mirror=true",
    )
    row = train(cfg)
    assert row["train/stability"] > 0 and row["val/mae_mean"] > 0
