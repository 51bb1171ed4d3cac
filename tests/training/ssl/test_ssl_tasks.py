"""SSL tasks on real face images: invertibility, label validity, determinism."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from headpose.errors import InvalidInputError
from headpose.training.ssl import TASKS as TASK_REGISTRY
from headpose.training.ssl import (
    ImageRotationTask,
    PuzzleRotationTask,
    PuzzleTask,
    TileRotationTask,
    build_task,
    register_task,
)

TASK_NAMES = ("puzzle", "rotation", "puzzle_rotation", "image_rotation")


@pytest.fixture(scope="module")
def faces(shared_dir: Path) -> list[np.ndarray]:
    """Three UTKFace crops (200x200) as RGB uint8 HWC."""
    paths = sorted((shared_dir / "data" / "utkface").glob("*.jpg"))[:3]
    if len(paths) < 3:
        pytest.skip("UTKFace images not found")
    images = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]
    assert all(img is not None for img in images)
    return [cv2.cvtColor(img, cv2.COLOR_BGR2RGB) for img in images]


def _chw(image: np.ndarray, size: tuple[int, int], dtype=torch.uint8) -> torch.Tensor:
    h, w = size
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    tensor = torch.from_numpy(resized).permute(2, 0, 1).contiguous()
    return tensor if dtype == torch.uint8 else tensor.to(dtype) / 255.0


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# 96: divisible by 3; 64 and 100: not; (80, 70): not square
SIZES = [(96, 96), (64, 64), (100, 100), (80, 70)]


CASES = [
    pytest.param(name, size, id=f"{name}-{size[0]}x{size[1]}")
    for name in TASK_NAMES
    for size in SIZES
    if name != "image_rotation" or size[0] == size[1]  # non-square: see test_image_rotation
]


@pytest.mark.parametrize(("name", "size"), CASES)
def test_apply_then_invert_restores_pixels(faces, name: str, size: tuple[int, int]) -> None:
    task = build_task(name, 3)
    for i, face in enumerate(faces):
        image = _chw(face, size)
        out, labels = task(image, _gen(i))
        assert out.shape == image.shape and out.dtype == image.dtype
        assert set(labels) == set(task.heads)
        assert torch.equal(task.invert(out, labels), image)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_float_images_round_trip_too(faces, name: str) -> None:
    task = build_task(name, 2)
    image = (_chw(faces[0], (64, 64), torch.float32) - 0.45) / 0.22
    out, labels = task(image, _gen(3))
    assert torch.equal(task.invert(out, labels), image)


def test_puzzle_moves_tiles_and_leaves_remainder_untouched(faces) -> None:
    image = _chw(faces[0], (100, 100))  # tiles of 33 px, a 1-px strip right and bottom
    out, labels = PuzzleTask(3)(image, _gen(0))
    perm = labels["puzzle"]
    assert perm.dtype == torch.int64 and perm.shape == (9,)
    assert sorted(perm.tolist()) == list(range(9))
    assert torch.equal(out[:, 99:, :], image[:, 99:, :])
    assert torch.equal(out[:, :, 99:], image[:, :, 99:])
    for region, source in enumerate(perm.tolist()):
        r, c = divmod(region, 3)
        sr, sc = divmod(source, 3)
        assert torch.equal(
            out[:, r * 33 : (r + 1) * 33, c * 33 : (c + 1) * 33],
            image[:, sr * 33 : (sr + 1) * 33, sc * 33 : (sc + 1) * 33],
        )


def test_tile_rotation_labels_and_content(faces) -> None:
    image = _chw(faces[1], (96, 96))
    out, labels = TileRotationTask(3)(image, _gen(5))
    turns = labels["rotation"]
    assert turns.shape == (9,) and turns.dtype == torch.int64
    assert ((turns >= 0) & (turns < 4)).all()
    for region, k in enumerate(turns.tolist()):
        r, c = divmod(region, 3)
        tile = image[:, r * 32 : (r + 1) * 32, c * 32 : (c + 1) * 32]
        assert torch.equal(
            out[:, r * 32 : (r + 1) * 32, c * 32 : (c + 1) * 32], torch.rot90(tile, k, (1, 2))
        )


def test_puzzle_rotation_rotates_at_most_two_tiles() -> None:
    task = PuzzleRotationTask(3)
    image = torch.arange(3 * 90 * 90, dtype=torch.float32).reshape(3, 90, 90)
    seen_rotated = 0
    for seed in range(20):
        out, labels = task(image, _gen(seed))
        assert sorted(labels["puzzle"].tolist()) == list(range(9))
        turns = labels["rotation"]
        assert turns.shape == (9,) and ((turns >= 0) & (turns < 4)).all()
        assert int((turns > 0).sum()) <= 2
        seen_rotated += int((turns > 0).sum())
        assert torch.equal(task.invert(out, labels), image)
    assert seen_rotated > 10  # rotations do happen
    assert task.heads == {"puzzle": (9, 9), "rotation": (9, 4)}


def test_image_rotation(faces) -> None:
    task = ImageRotationTask()
    image = _chw(faces[2], (64, 64))
    ks = set()
    for seed in range(12):
        out, labels = task(image, _gen(seed))
        k = int(labels["rotation"][0])
        assert labels["rotation"].shape == (1,)
        assert torch.equal(out, torch.rot90(image, k, (1, 2)))
        ks.add(k)
    assert ks == {0, 1, 2, 3}
    with pytest.raises(InvalidInputError, match="square"):
        task(_chw(faces[2], (64, 48)), _gen(0))


@pytest.mark.parametrize("name", TASK_NAMES)
def test_same_seed_same_output_different_seeds_differ(faces, name: str) -> None:
    task = build_task(name, 3)
    image = _chw(faces[0], (96, 96))
    a, la = task(image, _gen(11))
    b, lb = task(image, _gen(11))
    assert torch.equal(a, b) and all(torch.equal(la[k], lb[k]) for k in la)
    results = [task(image, _gen(seed)) for seed in range(20)]
    distinct_labels = {
        tuple(torch.cat([v for _, v in sorted(labels.items())]).tolist()) for _, labels in results
    }
    distinct_images = {out.numpy().tobytes() for out, _ in results}
    expected = 3 if name == "image_rotation" else 15  # a whole-image turn has 4 outcomes only
    assert len(distinct_labels) >= expected
    assert len(distinct_images) == len(distinct_labels)


def test_heads_match_labels_and_model_contract() -> None:
    assert build_task("puzzle", 3).heads == {"puzzle": (9, 9)}
    assert build_task("rotation", 2).heads == {"rotation": (4, 4)}
    assert build_task("puzzle_rotation", 4).heads == {"puzzle": (16, 16), "rotation": (16, 4)}
    assert build_task("image_rotation", 3).heads == {"rotation": (1, 4)}
    image = torch.zeros(3, 64, 64)
    for name in TASK_NAMES:
        task = build_task(name, 4)
        _, labels = task(image, _gen(0))
        for branch, (heads, classes) in task.heads.items():
            assert labels[branch].shape == (heads,)
            assert int(labels[branch].max()) < classes


def test_registry_and_errors() -> None:
    with pytest.raises(InvalidInputError, match="ssl task 'colour'"):
        build_task("colour", 3)
    with pytest.raises(InvalidInputError, match="grid"):
        build_task("puzzle", 0)
    with pytest.raises(InvalidInputError, match="too small"):
        PuzzleTask(3)(torch.zeros(3, 2, 2), _gen(0))
    with pytest.raises(InvalidInputError, match=r"\(C, H, W\)"):
        PuzzleTask(3)(torch.zeros(1, 3, 64, 64), _gen(0))
    with pytest.raises(InvalidInputError, match="not a permutation"):
        PuzzleTask(2).invert(torch.zeros(3, 8, 8), {"puzzle": torch.tensor([0, 0, 1, 2])})
    register_task("puzzle2", lambda grid: PuzzleTask(2))
    try:
        assert build_task("puzzle2", 7).heads == {"puzzle": (4, 4)}
    finally:
        del TASK_REGISTRY["puzzle2"]
