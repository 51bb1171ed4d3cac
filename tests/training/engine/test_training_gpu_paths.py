"""The CUDA / multi-GPU code paths of the trainer, exercised on the CPU (no GPU here).

What a GPU would reject or do differently is emulated: collectives record the device of their
tensors, ``torch.cuda`` functions are monkeypatched, and autocast runs on the CPU in bf16/fp16.
"""

from __future__ import annotations

import types

import pytest
import torch
import torch.distributed as dist
from torch.utils._python_dispatch import TorchDispatchMode

from headpose.metadata import Bins
from headpose.training.bins import expectation_and_spread, softmax_expectation
from headpose.training.config import ConfigError
from headpose.training.engine import checkpoint as C
from headpose.training.engine import distributed as D
from headpose.training.engine.trainer import Trainer, amp_dtype, select_device
from headpose.training.losses import pose_loss, regression_loss

BINS = Bins(width=3.0, count=66, low=-99.0)


class _Recorded(Exception):
    pass


def _recording_all_reduce(seen: list[torch.device]):
    def all_reduce(tensor, op=None, group=None, async_op=False):
        seen.append(tensor.device)
        raise _Recorded  # the tensors live on "meta": nothing to reduce

    return all_reduce


# ---------------------------------------------------------------- 1. collectives on the device


def test_logged_values_are_reduced_on_the_process_device(monkeypatch) -> None:
    """NCCL takes only CUDA tensors: the log-step all-reduce must not build its tensor on the CPU.
    ("meta" stands in for the GPU: anything built on the CPU shows up as cpu.)"""
    seen: list[torch.device] = []
    monkeypatch.setattr(dist, "all_reduce", _recording_all_reduce(seen))
    device = torch.device("meta")
    info = D.DistInfo(rank=0, world_size=2, local_rank=0, device=device)
    fake_trainer = types.SimpleNamespace(dist=info, device=device)
    with pytest.raises(_Recorded):
        Trainer._reduce(fake_trainer, {"loss": 1.0, "pose/ce": 2.0})
    with pytest.raises(_Recorded):
        D.all_reduce_mean(torch.ones(3), info)  # a CPU tensor goes to the device first
    assert seen == [device, device]


def test_cuda_jobs_get_a_group_for_cpu_and_cuda_tensors() -> None:
    assert D.backend_for("cuda") == "cpu:gloo,cuda:nccl"
    assert D.backend_for("cpu") == "gloo"


# ---------------------------------------------------------------- 7. devices, bf16, RNG


def test_one_gpu_for_every_torchrun_process_is_refused(monkeypatch, tmp_path, crops_dir) -> None:
    with pytest.raises(ConfigError, match=r"cuda:1.*WORLD_SIZE.*CUDA_VISIBLE_DEVICES"):
        select_device("cuda:1", local_rank=0, world_size=2)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="WORLD_SIZE"):  # before joining any process group
        Trainer(_config(tmp_path, crops_dir, "runtime.device=cuda:1"))
    assert not dist.is_initialized()


def test_bf16_on_a_gpu_without_bf16_is_a_config_error(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(ConfigError, match="runtime.amp.*bf16.*fp16"):
        amp_dtype("bf16", torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert amp_dtype("bf16", torch.device("cuda", 0)) is torch.bfloat16
    assert amp_dtype("bf16", torch.device("cpu")) is torch.bfloat16
    assert amp_dtype("auto", torch.device("cuda", 0)) is torch.float16
    assert amp_dtype("auto", torch.device("cpu")) is None


class _FakeGPUs:
    """``torch.cuda`` RNG functions of a machine with ``count`` GPUs."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.states = {i: torch.full((16,), i, dtype=torch.uint8) for i in range(count)}

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: self.count)
        monkeypatch.setattr(torch.cuda, "get_rng_state", self.get)
        monkeypatch.setattr(torch.cuda, "set_rng_state", self.set)
        monkeypatch.setattr(
            torch.cuda, "get_rng_state_all", lambda: [self.get(i) for i in range(self.count)]
        )
        monkeypatch.setattr(
            torch.cuda,
            "set_rng_state_all",
            lambda states: [self.set(s, i) for i, s in enumerate(states)],
        )

    def _index(self, device) -> int:
        index = torch.device(device).index if not isinstance(device, int) else device
        if index is None or index >= self.count:
            raise RuntimeError(f"invalid device ordinal {device} (only {self.count} GPUs)")
        return index

    def get(self, device="cuda"):
        return self.states[self._index(device)].clone()

    def set(self, state, device="cuda") -> None:
        self.states[self._index(device)] = state.clone()


def test_cuda_rng_state_is_this_process_gpu_only(monkeypatch) -> None:
    """Saved by rank 1 on a 2-GPU machine, resumed on a machine with one visible GPU."""
    two = _FakeGPUs(2)
    two.install(monkeypatch)
    state = C.rng_state(torch.device("cuda", 1))
    assert torch.equal(state["cuda_device"], torch.full((16,), 1, dtype=torch.uint8))
    assert "cuda" not in state  # not every visible GPU's
    one = _FakeGPUs(1)
    one.install(monkeypatch)
    C.set_rng_state(state, torch.device("cuda", 0))
    assert torch.equal(one.states[0], torch.full((16,), 1, dtype=torch.uint8))


# ---------------------------------------------------------------- 5. fp32 decoding and losses


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_decoding_and_losses_are_fp32_under_autocast(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 3, 66, generator=g) * 3
    target = (torch.rand(64, 3, generator=g) - 0.5) * 190
    target[::5, 2] = float("nan")
    ref_mean, ref_spread = expectation_and_spread(logits, BINS)
    ref_loss = pose_loss(logits, target, BINS)
    with torch.autocast("cpu", dtype=dtype):
        mean, spread = expectation_and_spread(logits, BINS)
        expected = softmax_expectation(logits, BINS)
        loss = pose_loss(logits, target, BINS)
    assert mean.dtype == spread.dtype == expected.dtype == torch.float32
    assert (mean - ref_mean).abs().max() < 1e-4  # bf16 matmul: 0.35 deg; fp16: 0.05 deg
    assert (expected - ref_mean).abs().max() < 1e-4
    assert (spread - ref_spread).abs().max() < 1e-4
    for key, value in ref_loss.items():
        assert loss[key].dtype == torch.float32
        assert torch.allclose(loss[key], value, atol=1e-5), key


# ---------------------------------------------------------------- 6. no per-step host syncs


def test_losses_have_no_data_dependent_step() -> None:
    """On "meta" tensors (no data) anything that reads a value back or gathers with a boolean mask
    fails; on a GPU each of those is a device->host wait."""
    logits = torch.empty(8, 3, 66, device="meta", requires_grad=True)
    target = torch.empty(8, 3, device="meta")
    parts = pose_loss(logits, target, BINS)
    parts["total"].backward()
    assert parts["total"].device.type == "meta" and logits.grad is not None
    regression_loss(logits, target, BINS)
    pose_loss(logits, target, BINS, weight=torch.empty(8, 3, device="meta"))  # pseudo-labels


class _HostReads(TorchDispatchMode):
    """Counts ops that need a value on the host: .item()/float()/bool() and boolean indexing."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket.__name__)
        if name in ("_local_scalar_dense", "nonzero", "masked_select", "item"):
            self.ops.append(name)
        return func(*args, **(kwargs or {}))


@pytest.mark.slow
def test_train_step_reads_nothing_back(tmp_path, crops_dir) -> None:
    torch.set_num_threads(1)
    trainer = Trainer(_config(tmp_path, crops_dir))
    loader = trainer._loader(trainer.data.train, trainer.sampler, 4, True)
    batch = next(iter(loader))
    # AdamW (torch's) reads its step counter with .item(); it lives on the CPU on CUDA too.
    trainer.optimizer.step = lambda *a, **k: None
    with _HostReads() as reads:
        parts = trainer.train_step(batch)
        trainer.step += 1
        trainer._accumulate(parts)
    assert reads.ops == []
    assert all(v.device == trainer.device and v.dim() == 0 for v in parts.values())
    assert trainer._flush() == {} and trainer.epoch_sums["loss"] > 0  # one copy, later


def _config(tmp_path, root, *extra: str):
    from headpose.training.config import load_config

    return load_config(
        "cpu/hmtl_puzzle3_flag3_resnet18_128",
        [
            f"data.root={root}",
            f"runtime.out_dir={tmp_path}/run",
            "model.backbone=mobilenetv3_small_100",
            "model.input_size=48",
            "runtime.device=cpu",
            "optim.batch_size=4",
            "optim.epochs=2",
            "optim.step_size=1",
            "data.low_data=12",
            "data.split.val_fraction=0.005",
            "runtime.workers=0",
            "runtime.log_every=1",
            "runtime.checkpoint_every_steps=2",
            "runtime.progress=false",
            "runtime.tensorboard=false",
            *extra,
        ],
    )
