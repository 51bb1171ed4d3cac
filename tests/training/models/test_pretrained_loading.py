"""Pretrained weights from local files: timm state dicts and headpose checkpoints (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from headpose.errors import InvalidModelError
from headpose.training.models import build_model, load_pretrained_checkpoint

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def timm_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A fresh timm resnet18 classifier's state dict saved to a local file."""
    torch.manual_seed(7)
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(state, path)
    return path, state


def test_local_timm_file_loads_backbone(timm_weights: tuple[Path, dict]) -> None:
    path, state = timm_weights
    model = build_model("resnet18", pretrained=str(path))
    body = model.backbone.body.state_dict()
    assert torch.equal(body["conv1.weight"], state["conv1.weight"])
    assert torch.equal(body["layer4.1.bn2.running_var"], state["layer4.1.bn2.running_var"])
    report = model.backbone.load_report
    assert report is not None and sorted(report["skipped"]) == ["fc.bias", "fc.weight"]
    assert len(report["loaded"]) == len(body)
    # rebuilding from model_config does not try to load the file again
    assert model.model_config["pretrained"] is None


def test_wrapped_and_prefixed_state_dict_loads(tmp_path: Path, timm_weights) -> None:
    _, state = timm_weights
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    model = build_model("resnet18", pretrained=path)
    assert torch.equal(model.backbone.body.state_dict()["conv1.weight"], state["conv1.weight"])


def test_wrong_architecture_file_is_reported_clearly(tmp_path: Path, timm_weights) -> None:
    path, _ = timm_weights
    with pytest.raises(InvalidModelError, match=r"resnet18\.pth.*mobilenetv3_small_100.*missing"):
        build_model("mobilenetv3_small_100", pretrained=path)
    _, state = timm_weights
    broken = dict(state)
    del broken["layer1.0.conv1.weight"]
    broken["layer1.0.extra"] = torch.zeros(1)
    bad = tmp_path / "broken.pth"
    torch.save(broken, bad)
    with pytest.raises(InvalidModelError) as info:
        build_model("resnet18", pretrained=bad)
    message = str(info.value)
    assert "missing key(s): layer1.0.conv1.weight" in message
    assert "unexpected key(s): layer1.0.extra" in message
    with pytest.raises(InvalidModelError, match="not found"):
        build_model("resnet18", pretrained=tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(InvalidModelError, match="junk.pth"):
        build_model("resnet18", pretrained=junk)


def _checkpoint(model, tmp_path: Path) -> Path:
    path = tmp_path / "ckpt.pt"
    torch.save(
        {
            "format": "headpose-checkpoint",
            "format_version": 1,
            "model_config": model.model_config,
            "model": model.state_dict(),
            "epoch": 3,
            "rng": {"numpy": ("MT19937", [1, 2, 3])},
        },
        path,
    )
    return path


def test_checkpoint_init_ssl_pretrain_to_hmtl(tmp_path: Path) -> None:
    # ssl-pretrain with whole-image rotation, then HMTL with puzzle on the same backbone
    torch.manual_seed(0)
    pre = build_model("mobilenetv3_small_100", ssl_heads={"rotation": (1, 4)})
    path = _checkpoint(pre, tmp_path)
    torch.manual_seed(1)
    model = build_model("mobilenetv3_small_100", ssl_heads={"puzzle": (9, 9), "rotation": (1, 4)})
    report = load_pretrained_checkpoint(model, path)
    assert report["backbone"] == len(model.backbone.state_dict())
    assert report["pose_heads"] == ["yaw", "pitch", "roll"]
    assert report["ssl_branches"] == ["rotation"]
    assert report["skipped"] == ["ssl branch 'puzzle' (absent)"]
    for key, value in pre.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_checkpoint_heads_skipped_when_shapes_differ(tmp_path: Path) -> None:
    pre = build_model("mobilenetv3_small_100", angles=("yaw", "pitch"))
    path = _checkpoint(pre, tmp_path)
    model = build_model("mobilenetv3_small_100", bin_width=1.0, bin_count=198, pretrained=path)
    report = model.load_report
    assert report["source"] == str(path) and report["pose_heads"] == []
    assert "pose head 'yaw' (shape differs)" in report["skipped"]
    assert "pose head 'roll' (absent)" in report["skipped"]
    assert torch.equal(
        model.backbone.state_dict()["body.conv_stem.weight"],
        pre.backbone.state_dict()["body.conv_stem.weight"],
    )


def test_checkpoint_with_other_backbone_is_an_error(tmp_path: Path) -> None:
    path = _checkpoint(build_model("mobilenetv3_small_100"), tmp_path)
    with pytest.raises(InvalidModelError, match="backbone 'mobilenetv3_small_100'.*'resnet18'"):
        build_model("resnet18", pretrained=path)
    with pytest.raises(InvalidModelError, match="not a headpose checkpoint"):
        load_pretrained_checkpoint(build_model("resnet18"), {"model": {}})
