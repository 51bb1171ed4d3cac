"""DDP on CPU: two gloo processes train in lock-step; only rank 0 writes files."""

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
    from headpose.training.config import load_config
    from headpose.training.engine import distributed as D
    from headpose.training.engine.trainer import Trainer

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
    from headpose.training.engine.checkpoint import load_checkpoint

    state = load_checkpoint(out0 / "last.pt")
    assert state["step"] == 2 and len(state["rng"]) == 2  # every rank's generators are saved
