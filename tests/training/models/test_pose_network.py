"""pose_network(), DecodedPoseNetwork and ONNX traceability."""

from __future__ import annotations

import io

import onnx
import pytest
import torch

from headpose.metadata import Bins
from headpose.training.bins import expectation_and_spread
from headpose.training.models import DecodedPoseNetwork, build_model

torch.set_num_threads(1)


def test_pose_network_has_no_ssl_parameters_and_shares_weights() -> None:
    model = build_model("resnet18", ssl_heads={"puzzle": (9, 9), "rotation": (9, 4)}).eval()
    pose = model.pose_network()
    keys = set(pose.state_dict())
    assert keys and not any(k.startswith("ssl") for k in keys)
    assert all(k.startswith(("backbone.", "pose_head.")) for k in keys)
    # the keys are those of the full model minus the SSL branches: loadable from a checkpoint
    full = model.state_dict()
    assert keys == {k for k in full if not k.startswith("ssl.")}
    n_ssl = sum(p.numel() for p in model.ssl.parameters())
    assert n_ssl > 0
    assert (
        sum(p.numel() for p in pose.parameters())
        == sum(p.numel() for p in model.parameters()) - n_ssl
    )
    # shares weights: changing the model changes the pose network
    with torch.no_grad():
        model.pose_head.heads["yaw"][1].bias.add_(1.0)
    assert pose.pose_head.heads["yaw"][1].bias is model.pose_head.heads["yaw"][1].bias
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(pose(x), model(x)["pose"])


def test_decoded_network_matches_manual_expectation() -> None:
    bins = Bins(width=1.0, count=198, low=-99.0)
    model = build_model("mobilenetv3_small_100", bin_width=1.0, bin_count=198).eval()
    decoded = DecodedPoseNetwork(model.pose_network(), bins).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        angles, spread = decoded(x)
        logits = model(x)["pose"]
    probs = torch.softmax(logits.double(), dim=-1)
    centres = -99.0 + torch.arange(198, dtype=torch.float64) + 0.5
    mean = (probs * centres).sum(-1)
    std = torch.sqrt((probs * (centres - mean[..., None]) ** 2).sum(-1))
    assert angles.shape == spread.shape == (3, 3)
    assert torch.allclose(angles.double(), mean, atol=1e-4)
    assert torch.allclose(spread.double(), std, atol=1e-4)
    ref_mean, ref_spread = expectation_and_spread(logits, bins)
    assert torch.allclose(angles, ref_mean) and torch.allclose(spread, ref_spread)
    # no buffer or parameter beyond the pose network's
    assert set(decoded.state_dict()) == {f"network.{k}" for k in model.pose_network().state_dict()}


def test_decoded_network_rejects_wrong_bins() -> None:
    model = build_model("mobilenetv3_small_100")
    with pytest.raises(ValueError, match="66 bins"):
        DecodedPoseNetwork(model.pose_network(), Bins(width=1.0, count=198, low=-99.0))


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript")
def test_decoded_network_exports_to_onnx() -> None:
    model = build_model("mobilenetv3_small_100", ssl_heads={"puzzle": (9, 9)}).eval()
    decoded = DecodedPoseNetwork(model, Bins()).eval()
    buffer = io.BytesIO()
    torch.onnx.export(
        decoded,
        (torch.randn(1, 3, 64, 64),),
        buffer,
        input_names=["image"],
        output_names=["angles", "spread"],
        dynamic_axes={"image": {0: "n"}, "angles": {0: "n"}, "spread": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    graph = onnx.load_from_string(buffer.getvalue()).graph
    assert [o.name for o in graph.output] == ["angles", "spread"]
    assert not any(n.op_type in ("If", "Loop") for n in graph.node)
