"""Exact resume: a run killed mid-epoch and resumed ends with the same weights as a straight run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from headpose.training.checkpoint_io import load_checkpoint
from headpose.training.config import load_config
from headpose.training.engine.trainer import Trainer, train

pytestmark = pytest.mark.slow


def hmtl_config(out_dir: Path, root: Path, *extra: str):
    return load_config(
        "cpu/hmtl_puzzle3_flag3_resnet18_128",
        [
            f"data.root={root}",
            f"runtime.out_dir={out_dir}",
            "model.backbone=mobilenetv3_small_100",
            "model.input_size=48",
            "optim.batch_size=4",
            "optim.epochs=2",
            "optim.step_size=1",  # the scheduler changes the lr between the epochs
            "data.low_data=12",  # 3 steps per epoch
            "data.augmentation=2",
            "data.split.val_fraction=0.005",
            "runtime.workers=0",
            "runtime.log_every=1",
            "runtime.checkpoint_every_steps=2",
            "runtime.progress=false",
            *extra,
        ],
    )


class Crash(RuntimeError):
    pass


def crash_at(step: int):
    def callback(trainer: Trainer) -> None:
        if trainer.step == step:
            raise Crash(f"simulated crash after step {step}")

    return callback


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(handle)]


def test_resume_mid_epoch_matches_straight_run(tmp_path: Path, crops_dir: Path) -> None:
    torch.set_num_threads(1)
    straight = tmp_path / "straight"
    train(hmtl_config(straight, crops_dir))

    crashed = tmp_path / "crashed"
    with pytest.raises(Crash):
        train(hmtl_config(crashed, crops_dir), callbacks=[crash_at(5)])
    saved = load_checkpoint(crashed / "last.pt")
    assert (saved["step"], saved["epoch"], saved["step_in_epoch"]) == (4, 1, 1)  # mid-epoch 2
    assert not list(crashed.glob(".*tmp*"))  # no temporary file left behind

    train(hmtl_config(crashed, crops_dir), resume=True)

    a = load_checkpoint(straight / "last.pt")
    b = load_checkpoint(crashed / "last.pt")
    assert a["step"] == b["step"] == 6
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    for group_a, group_b in zip(
        a["optimizer"]["param_groups"], b["optimizer"]["param_groups"], strict=True
    ):
        assert group_a["lr"] == group_b["lr"]
    # the resumed log has the same rows (no duplicates from the steps after the checkpoint)
    assert rows(straight / "log.csv") == rows(crashed / "log.csv")


def test_resume_after_max_steps_continues(tmp_path: Path, crops_dir: Path) -> None:
    torch.set_num_threads(1)
    out = tmp_path / "run"
    train(hmtl_config(out, crops_dir, "runtime.max_steps=2", "runtime.checkpoint_every_steps=0"))
    assert load_checkpoint(out / "last.pt")["step"] == 2
    train(
        hmtl_config(out, crops_dir, "runtime.max_steps=0", "runtime.checkpoint_every_steps=0"),
        resume=True,
    )
    state = load_checkpoint(out / "last.pt")
    assert (state["step"], state["epoch"]) == (6, 2)


def test_resume_without_checkpoint_is_a_clear_error(tmp_path: Path, crops_dir: Path) -> None:
    from headpose.training.config import ConfigError

    with pytest.raises(ConfigError, match=r"holds no checkpoint \(last.pt\) yet; run without"):
        Trainer(hmtl_config(tmp_path / "empty", crops_dir), resume=True)


def test_sigkill_mid_epoch_then_resume_matches_straight_run(
    tmp_path: Path, crops_dir: Path
) -> None:
    """The real thing: `headpose-train` in a subprocess, SIGKILLed once a mid-epoch checkpoint is
    on disk, then `headpose-train --resume`; final weights equal a straight run's."""
    import os
    import signal
    import subprocess
    import sys
    import time

    torch.set_num_threads(1)
    args = [
        f"data.root={crops_dir}",
        "model.backbone=mobilenetv3_small_100",
        "model.input_size=48",
        "optim.batch_size=4",
        "optim.epochs=12",
        "data.low_data=12",  # 3 steps per epoch, 36 in all
        "data.split.val_fraction=0.005",
        "runtime.workers=0",
        "runtime.checkpoint_every_steps=2",
        "runtime.progress=false",
    ]
    straight = tmp_path / "straight"
    train(
        load_config("cpu/hmtl_puzzle3_flag3_resnet18_128", [*args, f"runtime.out_dir={straight}"])
    )

    killed = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "headpose.training.cli.train",
        "--config",
        "cpu/hmtl_puzzle3_flag3_resnet18_128",
        *args,
        f"runtime.out_dir={killed}",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    step = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if (killed / "last.pt").is_file():
            # paused while the checkpoint is read, so it cannot save another one before the kill
            # (on a loaded machine it used to reach the epoch's end in between)
            proc.send_signal(signal.SIGSTOP)
            step = load_checkpoint(killed / "last.pt")["step"]
            if step >= 4 and step % 3 != 0:  # a mid-epoch checkpoint is on disk
                break
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = load_checkpoint(killed / "last.pt")
    assert saved["step"] < 36 and saved["step_in_epoch"] > 0  # killed mid-epoch, mid-run
    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    a = load_checkpoint(straight / "last.pt")
    b = load_checkpoint(killed / "last.pt")
    assert a["step"] == b["step"] == 36
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
