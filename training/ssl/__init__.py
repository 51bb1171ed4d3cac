"""Self-supervised tasks as transforms and their registry.

``build_task(name, grid)`` with names ``puzzle``, ``rotation`` (per tile), ``puzzle_rotation`` and
``image_rotation``; :func:`register_task` adds new ones. A task is called as
``task(image (C, H, W), generator) -> (image', {branch: LongTensor (num_heads,)})`` and has
``task.heads`` (``{branch: (num_heads, num_classes)}``) and ``task.invert(image', labels)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headpose.errors import InvalidInputError
from headpose.training.ssl.tasks import (
    ImageRotationTask,
    PuzzleRotationTask,
    PuzzleTask,
    TileRotationTask,
)

__all__ = [
    "TASKS",
    "ImageRotationTask",
    "PuzzleRotationTask",
    "PuzzleTask",
    "TileRotationTask",
    "build_task",
    "register_task",
]

#: name -> factory taking ``grid`` and returning a task object.
TASKS: dict[str, Callable[[int], Any]] = {
    "puzzle": PuzzleTask,
    "rotation": TileRotationTask,
    "puzzle_rotation": PuzzleRotationTask,
    "image_rotation": ImageRotationTask,
}


def register_task(name: str, factory: Callable[[int], Any]) -> None:
    """Make ``build_task(name, grid)`` return ``factory(grid)``."""
    TASKS[name] = factory


def build_task(name: str, grid: int = 3) -> Any:
    """The SSL task ``name`` on a ``grid x grid`` cut of the image."""
    if name not in TASKS:
        raise InvalidInputError(f"ssl task '{name}': unknown; expected one of {sorted(TASKS)}")
    return TASKS[name](grid)
