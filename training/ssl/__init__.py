"""Self-supervised tasks as transforms and their registry.

``build_task(name, grid)`` with names ``puzzle``, ``rotation`` (per tile), ``puzzle_rotation`` and
``image_rotation``; :func:`register_task` (:mod:`headpose.training.plugins`, the registry the
config reads) adds new ones. A task is called as
``task(image (C, H, W), generator) -> (image', {branch: LongTensor (num_heads,)})`` and has
``task.heads`` (``{branch: (num_heads, num_classes)}``) and ``task.invert(image', labels)``.
"""

from __future__ import annotations

from typing import Any

from headpose.errors import InvalidInputError
from headpose.training.plugins import TASKS, TaskSpec, register_task
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
    "TaskSpec",
    "TileRotationTask",
    "build_task",
    "register_task",
]


def build_task(name: str, grid: int = 3) -> Any:
    """The SSL task ``name`` (from :data:`TASKS`) on a ``grid x grid`` cut of the image."""
    if name not in TASKS:
        raise InvalidInputError(f"ssl task '{name}': unknown; expected one of {sorted(TASKS)}")
    return TASKS[name].build(grid)
