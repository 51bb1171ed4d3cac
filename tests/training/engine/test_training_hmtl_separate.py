"""HMTL with ``ssl.input=separate``: pose heads see the clean image, the SSL branch a puzzled copy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from headpose.training.config import ConfigError, load_config
from headpose.training.engine.data_setup import build_run_data
from headpose.training.engine.methods import build_method
from headpose.training.engine.trainer import train
from headpose.training.ssl import build_task


def test_sample_keeps_the_clean_image_and_adds_the_puzzled_copy(
    tiny_hmtl_config: Callable[..., Any], tmp_path: Path
) -> None:
    cfg = tiny_hmtl_config(tmp_path, "ssl.input=separate", "data.augmentation=0", "data.flip=false")
    method = build_method(cfg)
    sample = build_run_data(cfg, method).train[0]
    shared = tiny_hmtl_config(
        tmp_path, "ssl.input=shared", "data.augmentation=0", "data.flip=false"
    )
    plain = build_run_data(shared, build_method(shared)).train[0]
    # the shared sample's image is the puzzled one; the separate sample keeps the clean image
    assert torch.equal(sample["ssl_image"], plain["image"])
    assert torch.equal(sample["ssl"]["puzzle"], plain["ssl"]["puzzle"])
    task = build_task("puzzle", 3)
    assert torch.equal(task.invert(sample["ssl_image"], sample["ssl"]), sample["image"])


def test_forward_takes_pose_from_clean_and_ssl_from_puzzled(pass_recorder) -> None:
    method = build_method(
        load_config("cpu/hmtl_puzzle3_flag3_resnet18_128", ["ssl.input=separate"])
    )
    clean, puzzled = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    out = method.forward(pass_recorder, clean, puzzled)
    assert pass_recorder.batches == [4]  # one pass of 2N
    assert torch.all(out["pose"] == 0) and torch.all(out["ssl"]["puzzle"] == 1)


@pytest.mark.slow
def test_separate_input_trains(tiny_hmtl_config: Callable[..., Any], tmp_path: Path) -> None:
    row = train(tiny_hmtl_config(tmp_path / "run", "ssl.input=separate"))
    assert row["train/ssl/puzzle"] > 0 and row["val/mae_mean"] > 0


def test_unknown_input_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ssl.input"):
        load_config("cpu/hmtl_puzzle3_flag3_resnet18_128", ["ssl.input=both"])
