"""runtime.amp on the CPU: bf16 and fp16 autocast (fp16 with an enabled GradScaler('cpu')),
exact resume in fp16, and resuming a run under another AMP mode."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from headpose.training.checkpoint_io import load_checkpoint
from headpose.training.config import load_config
from headpose.training.engine.trainer import Trainer, train

pytestmark = [
    pytest.mark.slow,
    # fp16: the GradScaler skips the first steps (scale too high), so a 3-step epoch may end
    # before any optimizer step; PyTorch warns about the scheduler then
    pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`"),
]


def amp_config(out_dir: Path, root: Path, amp: str, *extra: str):
    return load_config(
        "cpu/sl_resnet18_128",
        [
            f"data.root={root}",
            f"runtime.out_dir={out_dir}",
            f"runtime.amp={amp}",
            "model.backbone=mobilenetv3_small_100",
            "model.input_size=32",
            "runtime.device=cpu",
            "optim.batch_size=4",
            "optim.epochs=1",
            "data.low_data=12",  # 3 steps
            "data.split.val_fraction=0.005",
            "runtime.workers=0",
            "runtime.log_every=1",
            "runtime.checkpoint_every_steps=1",
            "runtime.progress=false",
            "runtime.tensorboard=false",
            "runtime.overwrite=true",
            *extra,
        ],
    )


class Crash(RuntimeError):
    pass


def crash_at(step: int):
    def callback(trainer: Trainer) -> None:
        if trainer.step == step:
            raise Crash

    return callback


def test_fp16_trains_on_cpu_and_resumes_exactly(tmp_path: Path, crops_dir: Path) -> None:
    torch.set_num_threads(1)
    amp = "fp16"
    straight = tmp_path / "straight"
    row = train(amp_config(straight, crops_dir, amp))
    assert math.isfinite(row["train/loss"]) and math.isfinite(row["val/mae_mean"])
    state = load_checkpoint(straight / "last.pt")
    assert state["amp"] == amp
    # an enabled GradScaler('cpu'); its first steps overflow and halve the scale
    assert 0 < state["scaler"]["scale"] < 2.0**16

    crashed = tmp_path / "crashed"
    with pytest.raises(Crash):
        train(amp_config(crashed, crops_dir, amp), callbacks=[crash_at(2)])
    train(amp_config(crashed, crops_dir, amp), resume=True)
    resumed = load_checkpoint(crashed / "last.pt")
    assert resumed["step"] == state["step"] == 3
    assert resumed["scaler"] == state["scaler"]  # the loss scale continued, not restarted
    for key, value in state["model"].items():
        assert torch.equal(value, resumed["model"][key]), key


@pytest.mark.parametrize(("first", "then"), [("bf16", "fp16"), ("off", "fp16"), ("fp16", "off")])
def test_resume_under_another_amp_mode(
    tmp_path: Path, crops_dir: Path, capsys, first: str, then: str
) -> None:
    """A disabled scaler saves {}: an fp16 resume starts a fresh loss scale instead of raising
    (bf16/off -> fp16 raised before). bf16 autocast trains on the CPU here."""
    torch.set_num_threads(1)
    out = tmp_path / "run"
    with pytest.raises(Crash):
        train(amp_config(out, crops_dir, first), callbacks=[crash_at(1)])
    saved = load_checkpoint(out / "last.pt")
    assert saved["amp"] == first and (saved["scaler"] == {}) == (first != "fp16")
    row = train(amp_config(out, crops_dir, then), resume=True)
    assert math.isfinite(row["train/loss"])
    state = load_checkpoint(out / "last.pt")
    assert state["step"] == 3 and state["amp"] == then
    assert f"trained with runtime.amp={first}, resuming with {then}" in capsys.readouterr().err
