"""Fixtures shared by the training tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from headpose.training.config import load_config


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Run the test with one torch thread (small models on a shared 2-core CI machine), then
    restore the previous count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_hmtl_config(crops_dir: Path) -> Callable[..., Any]:
    """``make(out_dir, *overrides)``: the small HMTL config on the shared crops, shrunk to a
    48 px MobileNet, 8 images, one epoch of batch 4 (seconds on a CPU)."""

    def make(out: Path, *extra: str) -> Any:
        return load_config(
            "cpu/hmtl_puzzle3_flag3_resnet18_128",
            [
                f"data.root={crops_dir}",
                f"runtime.out_dir={out}",
                "model.backbone=mobilenetv3_small_100",
                "model.input_size=48",
                "optim.batch_size=4",
                "optim.epochs=1",
                "data.low_data=8",
                "data.split.val_fraction=0.005",
                "runtime.workers=0",
                "runtime.progress=false",
                *extra,
            ],
        )

    return make


class PassRecorder:
    """A stand-in network for :meth:`Method.forward` tests: pose = each image's channel means
    ``(N, 1, C)``, SSL ``puzzle`` = two pixels of its first channel; ``batches`` records the
    batch size of every pass."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, x: torch.Tensor) -> dict[str, Any]:
        self.batches.append(x.shape[0])
        return {"pose": x.mean(dim=(2, 3))[:, None, :], "ssl": {"puzzle": x[:, :1, 0, :2]}}


@pytest.fixture
def pass_recorder() -> PassRecorder:
    """A fresh :class:`PassRecorder`."""
    return PassRecorder()
