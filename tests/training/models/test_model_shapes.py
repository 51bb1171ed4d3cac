"""Output shapes of backbones, heads and PoseNet on 64-px inputs."""

from __future__ import annotations

import pytest
import torch

from headpose.errors import InvalidInputError
from headpose.training.models import (
    Backbone,
    PoseHeads,
    PoseNet,
    SSLBranch,
    build_model,
    register_backbone,
)
from headpose.training.models.backbones import BACKBONES

torch.set_num_threads(1)
X64 = torch.randn(2, 3, 64, 64)


@pytest.mark.parametrize(
    ("name", "channels"),
    [
        ("resnet18", (64, 128, 256, 512)),
        ("mobilenetv3_large_100", (24, 40, 112, 960)),
        ("mobilenetv3_small_100", (16, 24, 48, 576)),
        ("efficientnet_lite0", (24, 40, 112, 320)),
    ],
)
def test_backbone_returns_four_stage_maps(name: str, channels: tuple[int, ...]) -> None:
    backbone = Backbone(name).eval()
    assert backbone.channels == channels
    with torch.no_grad():
        maps = backbone(X64)
    assert len(maps) == 4
    for fmap, ch, stride in zip(maps, channels, (4, 8, 16, 32), strict=True):
        assert fmap.shape == (2, ch, 64 // stride, 64 // stride)


def test_resnet50_shape_at_64px() -> None:
    model = build_model("resnet50", ssl_heads={"puzzle": (9, 9)}, flag_point=3).eval()
    assert model.backbone.channels == (256, 512, 1024, 2048)
    with torch.no_grad():
        out = model(X64[:1])
    assert out["pose"].shape == (1, 3, 66)
    assert out["ssl"]["puzzle"].shape == (1, 9, 9)


@pytest.mark.parametrize("backbone", ["resnet18", "mobilenetv3_large_100"])
@pytest.mark.parametrize("flag_point", [1, 2, 3, 4])
def test_posenet_puzzle_rotation_shapes(backbone: str, flag_point: int) -> None:
    model = build_model(
        backbone, ssl_heads={"puzzle": (9, 9), "rotation": (9, 4)}, flag_point=flag_point
    )
    out = model(X64)
    assert out["pose"].shape == (2, 3, 66)
    assert set(out["ssl"]) == {"puzzle", "rotation"}
    assert out["ssl"]["puzzle"].shape == (2, 9, 9)
    assert out["ssl"]["rotation"].shape == (2, 9, 4)
    # the branch is attached to the requested stage
    tap = model.backbone.channels[flag_point - 1]
    assert model.ssl["puzzle"].block.conv1.in_channels == tap
    # both outputs reach the backbone's first layer
    (out["pose"].sum() + out["ssl"]["puzzle"].sum()).backward()
    first = next(model.backbone.parameters())
    assert first.grad is not None and first.grad.abs().sum() > 0


def test_no_ssl_heads_and_ssl_switch() -> None:
    model = build_model(
        "mobilenetv3_small_100", angles=("yaw", "pitch"), bin_width=1.0, bin_count=198
    )
    out = model(X64)
    assert out["ssl"] == {} and out["pose"].shape == (2, 2, 198)
    with_ssl = build_model("mobilenetv3_small_100", ssl_heads={"rotation": (1, 4)}).eval()
    assert with_ssl(X64, ssl=False)["ssl"] == {}
    assert with_ssl(X64)["ssl"]["rotation"].shape == (2, 1, 4)


def test_pose_heads_and_ssl_branch_modules() -> None:
    heads = PoseHeads(32, ("yaw", "pitch", "roll"), 66)
    assert heads(torch.randn(4, 32, 2, 2)).shape == (4, 3, 66)
    assert isinstance(heads.heads["yaw"][0], torch.nn.Dropout) and heads.heads["yaw"][0].p == 0.5
    branch = SSLBranch(48, num_heads=9, num_classes=9)
    assert branch(torch.randn(3, 48, 4, 4)).shape == (3, 9, 9)
    assert branch.heads[0][0].p == 0.2
    # bottleneck: 1x1 -> 3x3 -> 1x1 with BatchNorm and a projected skip
    block = branch.block
    assert [block.conv1.kernel_size, block.conv2.kernel_size, block.conv3.kernel_size] == [
        (1, 1),
        (3, 3),
        (1, 1),
    ]
    assert isinstance(block.downsample[0], torch.nn.Conv2d)


def test_model_config_rebuilds_same_architecture() -> None:
    model = build_model("resnet18", ssl_heads={"puzzle": [4, 4]}, flag_point=2)
    config = model.model_config
    assert config["pretrained"] is None and config["ssl_heads"] == {"puzzle": [4, 4]}
    again = build_model(**config)
    assert again.load_state_dict(model.state_dict(), strict=True)
    assert isinstance(again, PoseNet)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(InvalidInputError, match="flag_point"):
        build_model("mobilenetv3_small_100", flag_point=5)
    with pytest.raises(InvalidInputError, match="backbone 'not_a_net'"):
        build_model("not_a_net")
    with pytest.raises(InvalidInputError, match="ssl_heads\\['puzzle'\\]"):
        build_model("mobilenetv3_small_100", ssl_heads={"puzzle": (9,)})
    with pytest.raises(InvalidInputError, match="angles"):
        build_model("mobilenetv3_small_100", angles=("yaw", "tilt"))


def test_register_backbone_plugs_in_a_new_name() -> None:
    register_backbone("tiny_test_resnet", "resnet18")
    try:
        backbone = Backbone("tiny_test_resnet")
        assert backbone.channels == (64, 128, 256, 512)
    finally:
        del BACKBONES["tiny_test_resnet"]


def test_channels_last_works() -> None:
    model = build_model("resnet18", ssl_heads={"puzzle": (9, 9)}).eval()
    model = model.to(memory_format=torch.channels_last)
    with torch.no_grad():
        a = model(X64.contiguous(memory_format=torch.channels_last))
        b = model.to(memory_format=torch.contiguous_format)(X64)
    assert torch.allclose(a["pose"], b["pose"], atol=1e-4)
