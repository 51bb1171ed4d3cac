"""Flip averaging in DecodedPoseNetwork: the mean of the image's and its mirror's prediction."""

from __future__ import annotations

import torch

from headpose.metadata import Bins
from headpose.training.models import DecodedPoseNetwork, build_model


def _network(angles=("yaw", "pitch", "roll")):
    torch.manual_seed(0)
    model = build_model("mobilenetv3_small_100", angles=angles).eval()
    with torch.no_grad():  # sharpen the heads so that predictions vary with the image
        for param in model.pose_head.parameters():
            param.mul_(30)
    return model.pose_network().eval()


def test_flip_average_is_the_mean_with_the_mirror_negated() -> None:
    net = _network()
    plain = DecodedPoseNetwork(net, Bins())
    averaged = DecodedPoseNetwork(net, Bins(), flip_average=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, s = plain(x)
        m, ms = plain(torch.flip(x, dims=[3]))
        got, got_s = averaged(x)
    want = (a + m * torch.tensor([-1.0, 1.0, -1.0])) / 2
    assert torch.allclose(got, want, atol=1e-5) and torch.allclose(got_s, (s + ms) / 2, atol=1e-5)


def test_flip_averaged_model_is_exactly_mirror_equivariant() -> None:
    averaged = DecodedPoseNetwork(_network(("yaw", "pitch")), Bins(), flip_average=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, _ = averaged(x)
        b, _ = averaged(torch.flip(x, dims=[3]))
    # a mirrored face: yaw negated, pitch unchanged (a yaw+pitch model has no roll column)
    assert torch.allclose(b, a * torch.tensor([-1.0, 1.0]), atol=1e-4)
