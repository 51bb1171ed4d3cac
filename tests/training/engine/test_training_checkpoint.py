"""Atomic checkpoint writes and checkpoint validation; sampler and metrics basics."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from headpose.training import checkpoint_io as IO
from headpose.training.data.records import within_limit
from headpose.training.engine import checkpoint as C
from headpose.training.engine.metrics import mae_per_angle, training_mean_baseline
from headpose.training.engine.sampler import EpochSampler


def minimal_state(value: float) -> dict:
    return {
        "format": IO.FORMAT,
        "format_version": IO.FORMAT_VERSION,
        "config": {},
        "model_config": {},
        "model": {"w": torch.full((3,), value)},
        "metadata": {},
        "rng": [C.rng_state()],
    }


def test_failed_save_leaves_the_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.pt"
    C.save_checkpoint(path, minimal_state(1.0))
    before = path.read_bytes()

    real_save = torch.save

    def half_then_fail(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        C.save_checkpoint(path, minimal_state(2.0))
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left
    assert torch.equal(IO.load_checkpoint(path)["model"]["w"], torch.ones(3))


def test_load_checkpoint_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(IO.CheckpointError, match="checkpoint not found"):
        IO.load_checkpoint(tmp_path / "missing.pt")
    truncated = tmp_path / "truncated.pt"
    C.save_checkpoint(truncated, minimal_state(1.0))
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(IO.CheckpointError, match="truncated.pt: not a readable torch checkpoint"):
        IO.load_checkpoint(truncated)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(
        IO.CheckpointError, match=r"other.pt: not a headpose checkpoint: missing key\(s\)"
    ):
        IO.load_checkpoint(other)


def test_rng_state_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "rng.pt"
    C.save_checkpoint(path, minimal_state(0.0))
    expected = (random.random(), float(np.random.rand()), float(torch.rand(())))
    C.set_rng_state(IO.load_checkpoint(path)["rng"][0])
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == expected


def test_sampler_is_deterministic_sharded_and_resumable() -> None:
    full = EpochSampler(10, seed=3)
    full.set_epoch(2)
    order = list(full)
    assert sorted(order) == list(range(10))
    again = EpochSampler(10, seed=3)
    again.set_epoch(2, start=4)
    assert list(again) == order[4:]
    full.set_epoch(3)
    assert list(full) != order  # a new order every epoch
    shards = [EpochSampler(10, seed=3, rank=r, world_size=3) for r in range(3)]
    for s in shards:
        s.set_epoch(2)
    seen = [i for s in shards for i in s]
    assert len(seen) == 12 and set(seen) == set(range(10))  # padded to a multiple of 3


def test_mae_masks_missing_labels_and_baseline() -> None:
    target = np.array([[10.0, np.nan, 0.0], [-20.0, 5.0, np.nan]])
    pred = np.array([[12.0, 0.0, 1.0], [-20.0, 2.0, 50.0]])
    mae = mae_per_angle(pred, target, ("yaw", "pitch", "roll"))
    assert mae == {"n": 2, "yaw": 1.0, "pitch": 3.0, "roll": 1.0, "mean": pytest.approx(5 / 3)}
    assert within_limit(np.array([[100.0, 0, 0], [99.0, np.nan, -99.0]])).tolist() == [False, True]
    base = training_mean_baseline(
        np.array([[0.0, 0, 0], [10.0, 2, np.nan]]), target, ("yaw", "pitch", "roll")
    )
    assert base["yaw"] == pytest.approx((5 + 25) / 2) and base["pitch"] == pytest.approx(4.0)


def test_one_loader_refuses_pickled_code_and_runs_nothing(tmp_path: Path, pickle_payload) -> None:
    marker = tmp_path / "payload-ran"
    bad = pickle_payload(tmp_path / "bad.pt", marker)
    with pytest.raises(
        IO.CheckpointError, match=r"bad\.pt: holds pickled objects.*--trust-checkpoint"
    ):
        IO.read_torch_file(bad)
    assert not marker.exists()
    with pytest.warns(UserWarning, match="full unpickling"):
        IO.read_torch_file(bad, trusted=True)
    assert marker.exists()  # trusted: it really is unpickled (so the switch must stay explicit)


def test_model_init_never_falls_back_to_full_unpickling(tmp_path: Path, pickle_payload) -> None:
    """build_model(pretrained=FILE) used to retry torch.load(weights_only=False) silently."""
    from headpose.training.models import build_model

    marker = tmp_path / "payload-ran"
    bad = pickle_payload(tmp_path / "init.pt", marker)
    with pytest.raises(IO.CheckpointError, match="--trust-checkpoint"):
        build_model("mobilenetv3_small_100", pretrained=bad)
    assert not marker.exists()


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(done.stdout)  # a process that has exited
    stale = tmp_path / f".last.pt.tmp-{dead_pid}"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".best.pt.tmp-{__import__('os').getpid()}"  # this process: in use
    live.write_bytes(b"being written")
    keep = tmp_path / "last.pt"
    keep.write_bytes(b"x")
    from headpose.files import remove_stale_temp_files

    assert remove_stale_temp_files(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "last.pt"])
