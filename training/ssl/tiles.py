"""Square-tile geometry shared by the SSL tasks.

An image ``(C, H, W)`` is cut into an ``n x n`` grid of equal square tiles of side
``s = min(H, W) // n`` starting at the top-left corner; tile ``i`` is row ``i // n``, column
``i % n``. Pixels right of / below the ``n*s`` square (when H or W is not a multiple of ``n``, or
the image is not square) are never moved.
"""

from __future__ import annotations

import torch
from torch import Tensor

from headpose.errors import InvalidInputError


def check_image(image: Tensor, who: str) -> None:
    """Raise :class:`InvalidInputError` unless ``image`` is a ``(C, H, W)`` tensor."""
    if not isinstance(image, Tensor) or image.dim() != 3:
        got = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise InvalidInputError(f"{who}: expected an image tensor (C, H, W), got {got}")


def tile_side(image: Tensor, grid: int, who: str) -> int:
    """Side in pixels of the square tiles of an ``grid x grid`` cut of ``image`` (C, H, W)."""
    check_image(image, who)
    side = min(image.shape[-2], image.shape[-1]) // grid
    if side < 1:
        raise InvalidInputError(
            f"{who}: image {tuple(image.shape[-2:])} is too small for a {grid}x{grid} grid"
        )
    return side


def split_tiles(image: Tensor, grid: int, side: int) -> Tensor:
    """``(C, H, W)`` -> tiles ``(grid*grid, C, side, side)`` in row-major order (a copy)."""
    c = image.shape[0]
    square = image[:, : grid * side, : grid * side]
    tiles = square.reshape(c, grid, side, grid, side).permute(1, 3, 0, 2, 4)
    return tiles.reshape(grid * grid, c, side, side).clone()


def merge_tiles(image: Tensor, tiles: Tensor, grid: int) -> Tensor:
    """Copy of ``image`` with its top-left ``grid*side`` square replaced by ``tiles``."""
    n, c, side, _ = tiles.shape
    square = tiles.reshape(grid, grid, c, side, side).permute(2, 0, 3, 1, 4)
    out = image.clone()
    out[:, : grid * side, : grid * side] = square.reshape(c, grid * side, grid * side)
    return out


def rotate_tiles(tiles: Tensor, turns: Tensor) -> Tensor:
    """Rotate tile ``i`` by ``turns[i] * 90`` degrees counter-clockwise (``turns`` in 0..3)."""
    return torch.stack(
        [torch.rot90(tile, int(k), dims=(-2, -1)) for tile, k in zip(tiles, turns, strict=True)]
    )
