"""Tests of headpose.training.bins: centres, angle -> bin, softmax expectation and spread."""

from __future__ import annotations

import math

import pytest
import torch

from headpose.metadata import Bins
from headpose.training.bins import (
    IGNORE_INDEX,
    angle_to_bin,
    bin_centres,
    expectation_and_spread,
    softmax_expectation,
    softmax_spread,
)

BINS_3 = Bins(width=3.0, count=66, low=-99.0)
BINS_1 = Bins(width=1.0, count=198, low=-99.0)


@pytest.mark.parametrize("bins", [BINS_3, BINS_1], ids=["3deg-66", "1deg-198"])
def test_centres_span_and_round_trip(bins: Bins) -> None:
    centres = bin_centres(bins)
    assert centres.shape == (bins.count,)
    assert centres[0].item() == pytest.approx(-99.0 + bins.width / 2)
    assert centres[-1].item() == pytest.approx(99.0 - bins.width / 2)
    assert bins.high == pytest.approx(99.0)
    # every centre falls back into its own bin
    assert torch.equal(angle_to_bin(centres, bins), torch.arange(bins.count))


def test_bin_edges_and_clamping() -> None:
    angles = torch.tensor([-99.0, -96.0001, -96.0, 0.0, -0.001, 98.999, 99.0, 150.0, -500.0])
    expected = torch.tensor([0, 0, 1, 33, 32, 65, 65, 65, 0])
    assert torch.equal(angle_to_bin(angles, BINS_3), expected)
    assert angle_to_bin(torch.tensor([0.5, 200.0]), BINS_1).tolist() == [99, 197]


def test_nan_is_masked_with_ignore_index() -> None:
    out = angle_to_bin(torch.tensor([[10.0, float("nan")], [float("nan"), -10.0]]), BINS_3)
    assert out.dtype == torch.int64
    assert out.tolist() == [[36, IGNORE_INDEX], [IGNORE_INDEX, 29]]


def test_expectation_of_peaked_softmax_is_the_centre() -> None:
    logits = torch.full((2, 66), -1e4)
    logits[0, 10] = 0.0
    logits[1, 40] = 0.0
    mean, spread = expectation_and_spread(logits, BINS_3)
    assert mean.tolist() == pytest.approx([-99 + 3 * 10.5, -99 + 3 * 40.5])
    assert spread.tolist() == pytest.approx([0.0, 0.0], abs=1e-3)


def test_two_bin_distribution_mean_and_spread_by_hand() -> None:
    # p = (0.25, 0.75) on centres -97.5 and -94.5 -> mean -95.25, var = 0.25*0.75*3^2
    logits = torch.full((66,), -1e4)
    logits[0] = 0.0
    logits[1] = math.log(3.0)
    assert softmax_expectation(logits, BINS_3).item() == pytest.approx(-95.25, abs=1e-4)
    assert softmax_spread(logits, BINS_3).item() == pytest.approx(math.sqrt(0.1875 * 9), abs=1e-4)


def test_uniform_softmax_is_centred_with_uniform_spread() -> None:
    mean, spread = expectation_and_spread(torch.zeros(3, 2, 198), BINS_1)
    assert mean.shape == (3, 2)
    assert torch.allclose(mean, torch.zeros(3, 2), atol=1e-4)
    # variance of a discrete uniform over 198 unit-spaced centres: (198^2 - 1) / 12
    assert torch.allclose(spread, torch.full((3, 2), math.sqrt((198**2 - 1) / 12)), atol=1e-3)


def test_wrong_bin_count_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bin count 66"):
        softmax_expectation(torch.zeros(2, 65), BINS_3)
