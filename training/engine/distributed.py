"""Multi-process training (torchrun / DDP): process group set-up and small collective helpers.

Launch with ``torchrun --nproc_per_node N -m headpose.training.cli.train ...``; torchrun sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. On CUDA the group
is ``cpu:gloo,cuda:nccl`` (CUDA tensors go through NCCL, CPU tensors and pickled objects through
gloo), on CPU it is gloo. NCCL takes only CUDA tensors, so the tensor helpers here run their
collective on the process's device (:attr:`DistInfo.device`) whatever device they are given.
Only rank 0 writes files and logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def world_size_from_env() -> int:
    """``WORLD_SIZE`` of the torchrun environment (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def backend_for(device_type: str) -> str:
    """Process-group backend for a job on ``device_type`` (``cuda`` or ``cpu``)."""
    return "cpu:gloo,cuda:nccl" if device_type == "cuda" else "gloo"


def init_distributed(device_type: str, timeout_min: float = 60.0) -> DistInfo:
    """Join the process group described by the torchrun environment (no-op for one process).

    ``timeout_min``: how long a collective may wait for the other processes (minutes), e.g.
    ranks > 0 while rank 0 validates at the end of an epoch (NCCL's own default is 10 minutes).
    """
    world = world_size_from_env()
    if world <= 1:
        return DistInfo()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    device = torch.device("cuda", local) if device_type == "cuda" else torch.device("cpu")
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(
            backend=backend_for(device_type),
            rank=rank,
            world_size=world,
            timeout=timedelta(minutes=float(timeout_min)),
            device_id=device if device_type == "cuda" else None,
        )
    return DistInfo(
        rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local, device=device
    )


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def _all_reduce(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum over processes, run on ``info.device``; the result is on ``values``'s device."""
    out = values.detach().to(info.device, copy=True)
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(values.device)


def all_reduce_mean(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of ``values`` over processes (a copy; unchanged for one process)."""
    if not info.enabled:
        return values
    return _all_reduce(values, info) / info.world_size


def mean_of_floats(values: dict[str, float], info: DistInfo) -> dict[str, float]:
    """Per-key mean over processes of a dict of numbers (one all-reduce on ``info.device``)."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    vec = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=info.device)
    dist.all_reduce(vec, op=dist.ReduceOp.SUM)
    return dict(zip(keys, (vec / info.world_size).tolist(), strict=True))


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` (``[obj]`` for one process)."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every process."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shutdown(info: DistInfo) -> None:
    """Leave the process group (if this module joined one)."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
