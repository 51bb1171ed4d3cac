"""Heads: pose classification heads and the self-supervised (SSL) branch.

* :class:`PoseHeads` - global average pool of the last feature map, then per angle
  ``Dropout(p) + Linear(C, bins)`` -> logits ``(N, A, B)``.
* :class:`SSLBranch` - one ResNet bottleneck block (1x1, 3x3, 1x1 convs with BatchNorm + ReLU and a
  projected 1x1 skip), global average pool, then per head (image region) ``Dropout(p) +
  Linear`` -> logits ``(N, heads, classes)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck


class PoseHeads(nn.Module):
    """One bin classifier per angle on globally pooled features.

    Args:
        in_channels: channels ``C`` of the last feature map.
        angles: angle names, e.g. ``("yaw", "pitch", "roll")`` (output order).
        num_bins: ``B``, the bin count.
        dropout: dropout probability before each linear layer.
    """

    def __init__(
        self, in_channels: int, angles: Sequence[str], num_bins: int, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if len(set(angles)) != len(angles) or not angles:
            raise ValueError(f"angles: expected distinct names, got {list(angles)}")
        self.angles = tuple(angles)
        self.num_bins = int(num_bins)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.heads = nn.ModuleDict(
            {
                name: nn.Sequential(nn.Dropout(dropout), nn.Linear(in_channels, num_bins))
                for name in self.angles
            }
        )

    def forward(self, features: Tensor) -> Tensor:
        """``(N, C, h, w)`` -> logits ``(N, A, B)``."""
        pooled = torch.flatten(self.pool(features), 1)
        return torch.stack([self.heads[name](pooled) for name in self.angles], dim=1)


def bottleneck_block(in_channels: int, width: int | None = None) -> nn.Module:
    """A torchvision ResNet bottleneck with a projected skip; output ``4 * width`` channels
    (``width`` defaults to ``max(in_channels // 4, 16)``)."""
    width = width or max(in_channels // 4, 16)
    out_channels = width * Bottleneck.expansion
    projection = nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        nn.BatchNorm2d(out_channels),
    )
    return Bottleneck(in_channels, width, downsample=projection)


class SSLBranch(nn.Module):
    """Self-supervised branch attached to one backbone feature map.

    Args:
        in_channels: channels of the tapped feature map.
        num_heads: number of classifiers (one per image region, 1 for whole-image tasks).
        num_classes: classes per head (e.g. 9 tile positions, 4 rotations).
        dropout: dropout probability before each head's linear layer.
        width: bottleneck width (default ``max(in_channels // 4, 16)``).
    """

    def __init__(
        self,
        in_channels: int,
        num_heads: int,
        num_classes: int,
        dropout: float = 0.2,
        width: int | None = None,
    ) -> None:
        super().__init__()
        if num_heads < 1 or num_classes < 2:
            raise ValueError(
                f"SSL branch: need num_heads >= 1 and num_classes >= 2, got {num_heads}, {num_classes}"
            )
        self.num_heads, self.num_classes = int(num_heads), int(num_classes)
        self.block = bottleneck_block(in_channels, width)
        out_channels = self.block.conv3.out_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Dropout(dropout), nn.Linear(out_channels, num_classes))
            for _ in range(num_heads)
        )

    def forward(self, features: Tensor) -> Tensor:
        """``(N, C, h, w)`` -> logits ``(N, num_heads, num_classes)``."""
        pooled = torch.flatten(self.pool(self.block(features)), 1)
        return torch.stack([head(pooled) for head in self.heads], dim=1)
