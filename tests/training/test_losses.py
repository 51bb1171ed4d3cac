"""Tests of headpose.training.losses with values computed by hand on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from headpose.metadata import Bins
from headpose.training.losses import IGNORE, pose_loss, regression_loss, ssl_loss

# 4 bins of 10 degrees over [-20, 20): centres -15, -5, 5, 15
BINS = Bins(width=10.0, count=4, low=-20.0)
NAN = float("nan")


def _peaked(index: int) -> torch.Tensor:
    logits = torch.full((4,), -50.0)
    logits[index] = 50.0
    return logits


def test_pose_loss_by_hand_uniform_logits() -> None:
    logits = torch.zeros(2, 1, 4, requires_grad=True)  # uniform: CE = ln 4, expectation 0
    target = torch.tensor([[3.0], [-4.0]])
    out = pose_loss(logits, target, BINS, alpha=2.0, angles=("yaw",))
    rmse = math.sqrt((9 + 16) / 2)
    assert out["ce"].item() == pytest.approx(math.log(4), abs=1e-6)
    assert out["rmse"].item() == pytest.approx(rmse, abs=1e-5)
    assert out["total"].item() == pytest.approx(math.log(4) + 2 * rmse, abs=1e-5)
    assert out["ce_yaw"].item() == pytest.approx(math.log(4), abs=1e-6)
    out["total"].backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0


def test_pose_loss_masks_missing_and_averages_over_angles() -> None:
    # yaw: sample 0 perfect (bin 2, centre 5), sample 1 missing.
    # pitch: both labelled, uniform logits -> CE ln4, expectation 0.
    # roll: all missing -> excluded from the average.
    logits = torch.zeros(2, 3, 4)
    logits[0, 0] = _peaked(2)
    logits[1, 0] = _peaked(0)  # garbage for a missing label: must not count
    target = torch.tensor([[5.0, 10.0, NAN], [NAN, -2.0, NAN]])
    out = pose_loss(logits, target, BINS, alpha=1.0)
    pitch_rmse = math.sqrt((100 + 4) / 2)
    assert out["ce_yaw"].item() == pytest.approx(0.0, abs=1e-6)
    assert out["rmse_yaw"].item() == pytest.approx(0.0, abs=1e-3)
    assert out["ce_pitch"].item() == pytest.approx(math.log(4), abs=1e-6)
    assert out["rmse_pitch"].item() == pytest.approx(pitch_rmse, abs=1e-5)
    assert out["ce_roll"].item() == 0.0 and out["rmse_roll"].item() == 0.0
    assert out["ce"].item() == pytest.approx(math.log(4) / 2, abs=1e-6)
    assert out["rmse"].item() == pytest.approx(pitch_rmse / 2, abs=1e-3)
    assert out["total"].item() == pytest.approx(out["ce"].item() + out["rmse"].item(), abs=1e-6)


def test_out_of_range_target_uses_clamped_bin() -> None:
    logits = torch.stack([_peaked(3)]).unsqueeze(1)  # (1, 1, 4), all mass on the last bin
    out = pose_loss(logits, torch.tensor([[40.0]]), BINS, angles=("yaw",))
    assert out["ce"].item() == pytest.approx(0.0, abs=1e-6)  # bin 3 after clamping
    assert out["rmse"].item() == pytest.approx(25.0, abs=1e-3)  # |15 - 40|


def test_all_missing_gives_zero_loss_that_backprops() -> None:
    logits = torch.randn(3, 3, 4, requires_grad=True)
    out = pose_loss(logits, torch.full((3, 3), NAN), BINS)
    assert out["total"].item() == 0.0
    assert not any(torch.isnan(v).item() for v in out.values())
    out["total"].backward()
    assert logits.grad is not None and torch.equal(logits.grad, torch.zeros_like(logits))


def test_perfect_prediction_has_finite_gradient() -> None:
    # expectation exactly equal to target -> sqrt(0) must not give NaN gradients
    logits = torch.zeros(1, 1, 4, requires_grad=True)
    out = pose_loss(logits, torch.tensor([[0.0]]), BINS, angles=("yaw",))
    out["total"].backward()
    assert torch.isfinite(logits.grad).all()


def test_regression_loss_is_rmse_only() -> None:
    logits = torch.zeros(2, 2, 4, requires_grad=True)
    target = torch.tensor([[6.0, NAN], [-8.0, 3.0]])
    out = regression_loss(logits, target, BINS)
    yaw, pitch = math.sqrt((36 + 64) / 2), 3.0
    assert out["rmse_yaw"].item() == pytest.approx(yaw, abs=1e-5)
    assert out["rmse_pitch"].item() == pytest.approx(pitch, abs=1e-4)
    assert out["total"].item() == pytest.approx((yaw + pitch) / 2, abs=1e-4)
    assert not out["ce"].requires_grad
    out["total"].backward()
    assert logits.grad.abs().sum() > 0


def test_pose_loss_shape_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="bin count 4"):
        pose_loss(torch.zeros(2, 3, 5), torch.zeros(2, 3), BINS)
    with pytest.raises(ValueError, match="target_deg"):
        pose_loss(torch.zeros(2, 3, 4), torch.zeros(2, 2), BINS)


def test_ssl_loss_by_hand() -> None:
    # puzzle: 2 samples x 2 heads x 2 classes, uniform -> each head ln2, sum over heads 2 ln2
    # rotation: 2 samples x 1 head x 4 classes, perfect on sample 0, uniform on sample 1
    puzzle = torch.zeros(2, 2, 2, requires_grad=True)
    rotation = torch.zeros(2, 1, 4)
    rotation[0, 0] = _peaked(1)
    out = ssl_loss(
        {"puzzle": puzzle, "rotation": rotation},
        {"puzzle": torch.tensor([[0, 1], [1, 0]]), "rotation": torch.tensor([[1], [3]])},
        weight=50.0,
    )
    assert out["puzzle"].item() == pytest.approx(2 * math.log(2), abs=1e-6)
    assert out["rotation"].item() == pytest.approx(math.log(4) / 2, abs=1e-6)
    expected_sum = 2 * math.log(2) + math.log(4) / 2
    assert out["sum"].item() == pytest.approx(expected_sum, abs=1e-6)
    assert out["total"].item() == pytest.approx(50 * expected_sum, abs=1e-4)
    out["total"].backward()
    assert puzzle.grad.abs().sum() > 0


def test_ssl_loss_skips_samples_without_ssl_target() -> None:
    # sample 1 was left clean (ssl.share < 1): its labels are IGNORE and its logits do not count
    logits = torch.zeros(2, 2, 2)
    logits[1] = 9.0 * torch.tensor([[1.0, -1.0], [1.0, -1.0]])  # would cost a lot if counted
    logits.requires_grad_(True)
    out = ssl_loss({"puzzle": logits}, {"puzzle": torch.tensor([[0, 1], [IGNORE, IGNORE]])})
    assert out["puzzle"].item() == pytest.approx(2 * math.log(2), abs=1e-6)  # mean over 1 sample
    out["total"].backward()
    assert logits.grad[1].abs().sum() == 0 and logits.grad[0].abs().sum() > 0
    none = ssl_loss({"puzzle": logits}, {"puzzle": torch.full((2, 2), IGNORE)})
    assert none["total"].item() == 0.0  # a batch with no puzzled image: zero, not NaN


def test_ssl_loss_branch_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ"):
        ssl_loss(
            {"puzzle": torch.zeros(1, 9, 9)}, {"rotation": torch.zeros(1, 9, dtype=torch.long)}
        )
    with pytest.raises(ValueError, match="'puzzle'"):
        ssl_loss({"puzzle": torch.zeros(1, 9, 9)}, {"puzzle": torch.zeros(1, 4, dtype=torch.long)})


def test_weighted_pose_loss_equals_plain_with_unit_weights_and_drops_zero_weights() -> None:
    torch.manual_seed(0)
    bins = Bins(width=3.0, count=66, low=-99.0)
    logits = torch.randn(5, 3, 66)
    target = torch.tensor(
        [
            [10.0, -5.0, 3.0],
            [40.0, 2.0, float("nan")],
            [-70.0, 9.0, 1.0],
            [0.0, 0.0, 0.0],
            [5, 5, 5],
        ]
    )
    plain = pose_loss(logits, target, bins)
    ones = pose_loss(logits, target, bins, weight=torch.ones(5, 3))
    for key in plain:
        assert torch.allclose(plain[key], ones[key], atol=1e-6), key
    w = torch.ones(5, 3)
    w[4] = 0.0  # a sample with weight 0 counts as if it were not in the batch
    dropped = pose_loss(logits[:4], target[:4], bins)
    weighted = pose_loss(logits, target, bins, weight=w)
    for key in dropped:
        assert torch.allclose(dropped[key], weighted[key], atol=1e-5), key
    w2 = torch.ones(5, 3)
    w2[0] = 3.0  # weight 3 = the sample three times
    tripled = pose_loss(
        torch.cat([logits, logits[:1], logits[:1]]),
        torch.cat([target, target[:1], target[:1]]),
        bins,
    )
    assert torch.allclose(pose_loss(logits, target, bins, weight=w2)["total"], tripled["total"])
    with pytest.raises(ValueError, match="weight"):
        pose_loss(logits, target, bins, weight=torch.ones(5))


POSE_BINS = Bins(width=3.0, count=66, low=-99.0)  # the models' bins
