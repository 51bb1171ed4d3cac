"""DDP on CPU: two gloo processes train in lock-step; only rank 0 writes files. The same two
processes then run ssl-pretrain, stop mid-epoch and resume it. Every tensor handed to a
collective is recorded: it must be on the process's device (NCCL takes only CUDA tensors)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, root: str, tmp: str) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    import torch.distributed as dist

    from headpose.training.config import load_config
    from headpose.training.engine import distributed as D
    from headpose.training.engine.trainer import Trainer

    devices: list[str] = []
    for name in ("all_reduce", "broadcast", "all_gather", "reduce"):
        original = getattr(dist, name)

        def recorder(tensor, *args, _original=original, **kwargs):
            devices.append(str(tensor.device))
            return _original(tensor, *args, **kwargs)

        setattr(dist, name, recorder)

    # rank 1 gets its own out_dir: it must stay empty (only rank 0 writes)
    cfg = load_config(
        "cpu/hmtl_puzzle3_flag3_resnet18_128",
        [
            f"data.root={root}",
            f"runtime.out_dir={tmp}/out_rank{rank}",
            "model.backbone=mobilenetv3_small_100",
            "model.input_size=48",
            "runtime.device=cpu",
            "optim.batch_size=2",
            "optim.epochs=1",
            "data.low_data=8",  # 4 samples per rank: 2 steps
            "data.split.val_fraction=0.005",
            "runtime.workers=0",
            "runtime.log_every=1",
            "runtime.progress=false",
        ],
    )
    trainer = Trainer(cfg)
    trainer.fit()
    torch.save(trainer.model.state_dict(), f"{tmp}/weights_rank{rank}.pt")
    torch.save(trainer.sampler.epoch_indices(0), f"{tmp}/indices_rank{rank}.pt")
    expected_device = str(trainer.device)

    # ssl-pretrain (no labels, SSL branch only), stopped after 1 of 2 steps, then resumed
    ssl = [
        f"data.root={root}",
        "data.kind=unlabeled",
        f"runtime.out_dir={tmp}/ssl_rank{rank}",
        "model.backbone=mobilenetv3_small_100",
        "model.input_size=32",
        "runtime.device=cpu",
        "optim.batch_size=2",
        "optim.epochs=1",
        "data.low_data=8",
        "data.split.val_fraction=0.25",
        "runtime.workers=0",
        "runtime.log_every=1",
        "runtime.progress=false",
        "runtime.tensorboard=false",
    ]
    first = Trainer(load_config("cpu/ssl_pretrain_rotation_utkface", [*ssl, "runtime.max_steps=1"]))
    first.fit()
    out0 = f"{tmp}/ssl_rank0"
    if rank != 0:  # resume reads rank 0's checkpoint (one shared out_dir in a real job)
        ssl[2] = f"runtime.out_dir={out0}"
    resumed = Trainer(load_config("cpu/ssl_pretrain_rotation_utkface", ssl), resume=True)
    assert resumed.step == 1
    resumed.fit()
    torch.save(resumed.model.state_dict(), f"{tmp}/ssl_weights_rank{rank}.pt")
    torch.save(sorted(set(devices)), f"{tmp}/devices_rank{rank}.pt")
    assert set(devices) == {expected_device}, devices
    D.shutdown(trainer.dist)


def test_two_gloo_processes(tmp_path: Path, crops_dir: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(crops_dir), str(tmp_path)), nprocs=2, join=True)
    w0 = torch.load(tmp_path / "weights_rank0.pt")
    w1 = torch.load(tmp_path / "weights_rank1.pt")
    assert w0.keys() == w1.keys()
    for key in w0:
        assert torch.equal(w0[key], w1[key]), key
    i0 = torch.load(tmp_path / "indices_rank0.pt")
    i1 = torch.load(tmp_path / "indices_rank1.pt")
    assert len(i0) == len(i1) == 4 and not set(i0) & set(i1)  # disjoint shards
    out0 = tmp_path / "out_rank0"
    assert (out0 / "last.pt").is_file() and (out0 / "log.csv").is_file()
    assert not (tmp_path / "out_rank1").exists() or not any((tmp_path / "out_rank1").iterdir())
    from headpose.training.checkpoint_io import load_checkpoint

    state = load_checkpoint(out0 / "last.pt")
    assert state["step"] == 2 and len(state["rng"]) == 2  # every rank's generators are saved

    s0 = torch.load(tmp_path / "ssl_weights_rank0.pt")
    s1 = torch.load(tmp_path / "ssl_weights_rank1.pt")
    for key in s0:
        assert torch.equal(s0[key], s1[key]), key
    ssl = load_checkpoint(tmp_path / "ssl_rank0" / "last.pt")
    assert ssl["step"] == 2 and ssl["epoch"] == 1 and ssl["metadata"]["method"].startswith("ssl")
    assert "val/loss" in ssl["history"][-1]
    for rank in (0, 1):  # every collective ran on the process's device (cpu here)
        assert torch.load(tmp_path / f"devices_rank{rank}.pt") == ["cpu"]
