"""Self-supervised tasks as transforms: ``task(image, generator) -> (image', labels)``.

``image`` is a ``(C, H, W)`` tensor of any dtype (uint8 pixels or normalised floats); the
``torch.Generator`` makes the result deterministic. ``labels`` maps each SSL branch name to an
int64 tensor ``(num_heads,)``; ``task.heads`` maps the same names to ``(num_heads, num_classes)``
(the ``ssl_heads`` of ``build_model``). ``task.invert(image', labels)`` restores the input exactly.

Tasks (``grid`` n gives n*n regions, row-major; see :mod:`headpose.training.ssl.tiles`):

* :class:`PuzzleTask` - shuffle the tiles; ``labels["puzzle"][r]`` = original index of the tile now
  at region ``r`` (a permutation of ``0..n*n-1``).
* :class:`TileRotationTask` - rotate every tile by ``k * 90`` degrees (counter-clockwise);
  ``labels["rotation"][r] = k`` in 0..3.
* :class:`PuzzleRotationTask` - shuffle, then rotate at most two tiles (two random regions, each
  ``k`` in 0..3; every other region has label 0); labels ``"puzzle"`` and ``"rotation"``.
* :class:`ImageRotationTask` - rotate the whole (square) image by ``k * 90`` degrees (Gidaris
  et al.); ``labels["rotation"] = [k]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from headpose.errors import InvalidInputError
from headpose.training.ssl.tiles import (
    check_image,
    merge_tiles,
    rotate_tiles,
    split_tiles,
    tile_side,
)

ROTATIONS = 4  # multiples of 90 degrees


def _check_grid(grid: int, who: str) -> int:
    if not isinstance(grid, int) or isinstance(grid, bool) or grid < 1:
        raise InvalidInputError(f"{who}: grid must be a positive integer, got {grid!r}")
    return grid


def _label(labels: dict[str, Tensor], name: str, size: int, classes: int, who: str) -> Tensor:
    if name not in labels:
        raise InvalidInputError(f"{who}.invert: labels have no '{name}' entry: {sorted(labels)}")
    value = torch.as_tensor(labels[name]).to("cpu", torch.int64).reshape(-1)
    if value.numel() != size or bool(((value < 0) | (value >= classes)).any()):
        raise InvalidInputError(
            f"{who}.invert: labels['{name}'] must be {size} values in 0..{classes - 1}, "
            f"got {value.tolist()}"
        )
    return value


class PuzzleTask:
    """Jigsaw puzzle: shuffle an ``grid x grid`` cut of the image."""

    name = "puzzle"

    def __init__(self, grid: int = 3) -> None:
        self.grid = _check_grid(grid, self.name)
        self.regions = self.grid * self.grid

    @property
    def heads(self) -> dict[str, tuple[int, int]]:
        return {"puzzle": (self.regions, self.regions)}

    def __call__(
        self, image: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        side = tile_side(image, self.grid, self.name)
        perm = torch.randperm(self.regions, generator=generator)
        tiles = split_tiles(image, self.grid, side)
        return merge_tiles(image, tiles[perm.to(image.device)], self.grid), {"puzzle": perm}

    def invert(self, image: Tensor, labels: dict[str, Tensor]) -> Tensor:
        side = tile_side(image, self.grid, self.name)
        perm = _label(labels, "puzzle", self.regions, self.regions, self.name)
        if not torch.equal(torch.sort(perm).values, torch.arange(self.regions)):
            raise InvalidInputError(f"{self.name}.invert: labels['puzzle'] is not a permutation")
        shuffled = split_tiles(image, self.grid, side)
        tiles = torch.empty_like(shuffled)
        tiles[perm.to(image.device)] = shuffled
        return merge_tiles(image, tiles, self.grid)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(grid={self.grid})"


class TileRotationTask(PuzzleTask):
    """Rotate every tile of a ``grid x grid`` cut independently by a multiple of 90 degrees."""

    name = "rotation"

    @property
    def heads(self) -> dict[str, tuple[int, int]]:
        return {"rotation": (self.regions, ROTATIONS)}

    def __call__(
        self, image: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        side = tile_side(image, self.grid, self.name)
        turns = torch.randint(0, ROTATIONS, (self.regions,), generator=generator)
        tiles = rotate_tiles(split_tiles(image, self.grid, side), turns)
        return merge_tiles(image, tiles, self.grid), {"rotation": turns}

    def invert(self, image: Tensor, labels: dict[str, Tensor]) -> Tensor:
        side = tile_side(image, self.grid, self.name)
        turns = _label(labels, "rotation", self.regions, ROTATIONS, self.name)
        tiles = rotate_tiles(split_tiles(image, self.grid, side), -turns)
        return merge_tiles(image, tiles, self.grid)


class PuzzleRotationTask(PuzzleTask):
    """Shuffle the tiles, then rotate (at most) two of them; two SSL branches."""

    name = "puzzle_rotation"
    rotated_tiles = 2

    @property
    def heads(self) -> dict[str, tuple[int, int]]:
        return {"puzzle": (self.regions, self.regions), "rotation": (self.regions, ROTATIONS)}

    def __call__(
        self, image: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        shuffled, labels = PuzzleTask.__call__(self, image, generator)
        picked = torch.randperm(self.regions, generator=generator)[: self.rotated_tiles]
        turns = torch.zeros(self.regions, dtype=torch.int64)
        turns[picked] = torch.randint(0, ROTATIONS, (len(picked),), generator=generator)
        side = tile_side(image, self.grid, self.name)
        tiles = rotate_tiles(split_tiles(shuffled, self.grid, side), turns)
        return merge_tiles(shuffled, tiles, self.grid), {
            "puzzle": labels["puzzle"],
            "rotation": turns,
        }

    def invert(self, image: Tensor, labels: dict[str, Tensor]) -> Tensor:
        side = tile_side(image, self.grid, self.name)
        turns = _label(labels, "rotation", self.regions, ROTATIONS, self.name)
        tiles = rotate_tiles(split_tiles(image, self.grid, side), -turns)
        return PuzzleTask.invert(self, merge_tiles(image, tiles, self.grid), labels)


class ImageRotationTask:
    """Rotate the whole image by ``k * 90`` degrees counter-clockwise (square images only, so
    every sample keeps its shape). ``grid`` is accepted for a uniform interface and ignored."""

    name = "image_rotation"

    def __init__(self, grid: int = 1) -> None:
        self.grid = grid

    @property
    def heads(self) -> dict[str, tuple[int, int]]:
        return {"rotation": (1, ROTATIONS)}

    def _check(self, image: Tensor) -> None:
        check_image(image, self.name)
        if image.shape[-1] != image.shape[-2]:
            raise InvalidInputError(
                f"{self.name}: needs a square image, got {tuple(image.shape[-2:])} (H, W)"
            )

    def __call__(
        self, image: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        self._check(image)
        turns = torch.randint(0, ROTATIONS, (1,), generator=generator)
        return torch.rot90(image, int(turns[0]), dims=(-2, -1)).clone(), {"rotation": turns}

    def invert(self, image: Tensor, labels: dict[str, Tensor]) -> Tensor:
        self._check(image)
        turns = _label(labels, "rotation", 1, ROTATIONS, self.name)
        return torch.rot90(image, -int(turns[0]), dims=(-2, -1)).clone()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
