"""The training loop (plain PyTorch): exact resume, atomic checkpoints, AMP, DDP, logs.

Resume is exact: the order of every epoch comes from ``seed + epoch`` (:class:`EpochSampler`),
each sample's randomness from ``(seed, epoch, index)``, and the checkpoint stores the position in
the epoch plus the model, optimizer, scheduler, AMP mode and scaler and generator states of every
process (on CUDA: the generator of each process's own GPU). Bit-exact on CPU; on CUDA the
kernels themselves are not deterministic unless ``torch.use_deterministic_algorithms`` is set, so
a resumed run follows the same data and random draws but not the same rounding.

One training step does not wait for the GPU: the loss parts stay on the device, summed there,
and are copied to the host once per logging step, checkpoint or epoch end (where a non-finite
loss is also detected). Losses and angle decoding run in float32 outside autocast.
Files in ``out_dir`` (rank 0 only): ``last.pt``, ``best.pt``, ``log.csv``,
``learning_curve.png``, ``config.yaml`` and ``tensorboard/`` when tensorboard is installed.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from timm.optim import AdaBelief
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from headpose.files import atomic_write, remove_stale_temp_files
from headpose.training.checkpoint_io import FORMAT, FORMAT_VERSION, load_checkpoint
from headpose.training.config import Config, ConfigError, expand_path
from headpose.training.engine import distributed as D
from headpose.training.engine.checkpoint import rng_state, save_checkpoint, set_rng_state
from headpose.training.engine.data_setup import RunData, build_run_data, iterate_loader
from headpose.training.engine.ema import build_ema
from headpose.training.engine.methods import Method, build_method, describe
from headpose.training.engine.metrics import mae_per_angle
from headpose.training.engine.run_log import RunLog
from headpose.training.engine.sampler import EpochSampler
from headpose.training.engine.schedulers import build_scheduler
from headpose.training.models import WEIGHT_SOURCES, DecodedPoseNetwork, build_model
from headpose.training.models.backbones import read_weights_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

log = logging.getLogger(__name__)

Callback = Callable[["Trainer"], None]


def select_device(name: str, local_rank: int = 0, world_size: int = 1) -> torch.device:
    """``auto`` -> CUDA (this process's GPU, ``cuda:LOCAL_RANK``) when available, else CPU.

    ``cuda:N`` names one GPU, so it is refused when several processes run (torchrun with
    ``WORLD_SIZE > 1``): they would all train on GPU N. Use ``cuda`` or ``auto`` there and pick
    the GPUs with ``CUDA_VISIBLE_DEVICES``.
    """
    if name.startswith("cuda:") and world_size > 1:
        raise ConfigError(
            f"config key 'runtime.device': {name!r} puts all {world_size} processes of this "
            "torchrun job (WORLD_SIZE) on one GPU; use runtime.device=cuda (each process takes "
            "cuda:LOCAL_RANK) and choose the GPUs with CUDA_VISIBLE_DEVICES"
        )
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"config key 'runtime.device': {name!r} but CUDA is not available (use auto or cpu)"
            )
        if name == "cuda":
            return torch.device("cuda", local_rank)
    return torch.device(name)


AMP_MODES = {"fp16": torch.float16, "bf16": torch.bfloat16, "off": None}


def amp_mode(mode: str, device: torch.device) -> str:
    """The AMP mode ``runtime.amp`` means on ``device``: ``fp16``, ``bf16`` or ``off``.

    ``auto`` is fp16 on CUDA and off on CPU. bf16 on a GPU without bf16 support (before Ampere)
    is a :class:`ConfigError` at start-up rather than a slow emulation or a crash later.
    """
    if mode == "auto":
        mode = "fp16" if device.type == "cuda" else "off"
    if mode not in AMP_MODES:
        raise ConfigError(
            f"config key 'runtime.amp': expected auto, fp16, bf16 or off, got {mode!r}"
        )
    if mode == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            f"config key 'runtime.amp': bf16, but {device} does not support bfloat16 "
            "(needs compute capability 8.0+, e.g. A100/RTX 30xx); use runtime.amp=fp16"
        )
    return mode


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype of :func:`amp_mode`; None means full precision."""
    return AMP_MODES[amp_mode(mode, device)]


def build_metadata(
    cfg: Config, train_data: str, init_metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The :class:`headpose.metadata.ModelMetadata` fields the exporter takes from a checkpoint.

    ``init_metadata``: the metadata of the checkpoint this run was initialised from (e.g. an SSL
    pre-training); its data and licence are carried over, since the weights inherit both.
    """
    license_, method = cfg.data.license, describe(cfg)
    if init_metadata:
        train_data = f"{train_data}; initialised from: {init_metadata.get('train_data', '?')}"
        license_ = f"{license_}; initialisation: {init_metadata.get('license', '?')}"
        method = f"{method}, initialised from {init_metadata.get('method', '?')}"
    return {
        "input_size": [cfg.model.input_size, cfg.model.input_size],
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "angles": list(cfg.model.angles),
        "bins": {
            "width": cfg.model.bin_width,
            "count": cfg.model.bin_count,
            "low": cfg.model.bin_low,
        },
        "crop": {"scale": cfg.data.crop_scale, "shift_y": cfg.data.crop_shift_y},
        "backbone": cfg.model.backbone,
        "method": method,
        "train_data": train_data,
        "license": license_,
    }


def init_checkpoint_metadata(path: str, trusted: bool = False) -> dict[str, Any] | None:
    """The metadata of a headpose checkpoint at ``path``; None for other weight files."""
    state = read_weights_file(path, trusted=trusted)
    if isinstance(state, dict) and state.get("format") == "headpose-checkpoint":
        return dict(state.get("metadata") or {})
    return None


def build_optimizer(cfg: Config, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """AdaBelief (the paper's) or AdamW, from ``cfg.optim``."""
    o = cfg.optim
    if o.name == "adabelief":
        return AdaBelief(
            params,
            lr=o.lr,
            betas=tuple(o.betas),
            eps=o.eps,
            weight_decay=o.weight_decay,
            rectify=o.rectify,
        )
    return torch.optim.AdamW(
        params, lr=o.lr, betas=tuple(o.betas), eps=max(o.eps, 1e-8), weight_decay=o.weight_decay
    )


class StopTraining(Exception):
    """Raised by a callback to end the run early (tests use it to simulate a crash)."""


class Trainer:
    """One training run of ``cfg``; :meth:`fit` trains and returns the final summary."""

    def __init__(
        self,
        cfg: Config,
        resume: bool = False,
        callbacks: Iterable[Callback] = (),
        trust_checkpoint: bool = False,
    ) -> None:
        self.cfg = cfg
        self.trust_checkpoint = trust_checkpoint  # model.init may unpickle objects (warns)
        self.callbacks = list(callbacks)
        r = cfg.runtime
        probe = select_device(r.device, world_size=D.world_size_from_env())
        self.amp_mode = amp_mode(r.amp, probe)  # checked before any process group or data
        self.dist = D.init_distributed(probe.type, timeout_min=r.dist_timeout_min)
        self.device = select_device(r.device, self.dist.local_rank, self.dist.world_size)
        self.amp = AMP_MODES[self.amp_mode]
        self.out_dir = Path(expand_path(r.out_dir, cfg))
        if not resume and not r.overwrite and (self.out_dir / "last.pt").exists():
            raise ConfigError(
                f"runtime.out_dir {self.out_dir} already holds a run (last.pt): pass --resume to "
                "continue it, runtime.overwrite=true to start over, or another runtime.out_dir"
            )
        if resume and not (self.out_dir / "last.pt").is_file():
            raise ConfigError(
                f"--resume: runtime.out_dir {self.out_dir} holds no checkpoint (last.pt) yet; "
                "run without --resume to start this run"
            )
        if self.dist.is_main:
            for stale in remove_stale_temp_files(self.out_dir):
                log.warning("removed %s, left by a run killed while saving", stale)
        self.method: Method = build_method(cfg)
        self.data: RunData = build_run_data(cfg, self.method)

        torch.manual_seed(r.seed)  # identical initial weights on every rank
        self.model = self._build_model().to(self.device)
        self.ema = build_ema(self.model, cfg.optim.ema_decay) if cfg.optim.ema_decay > 0 else None
        self.optimizer = build_optimizer(cfg, self.model.parameters())
        self.scheduler = build_scheduler(cfg, self.optimizer)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp is torch.float16)
        self.sampler = EpochSampler(
            len(self.data.train), seed=r.seed, rank=self.dist.rank, world_size=self.dist.world_size
        )
        bs = cfg.optim.batch_size
        self.drop_last = self.sampler.per_rank >= bs
        self.steps_per_epoch = self.sampler.per_rank // bs if self.drop_last else 1

        self.epoch = 0  # completed epochs
        self.step = 0  # optimizer steps so far
        self.step_in_epoch = 0
        self.best_metric: float | None = None
        self.history: list[dict[str, Any]] = []
        self.epoch_sums: dict[str, float] = {}
        self.epoch_count = 0
        self._pending: torch.Tensor | None = None  # loss parts summed on the device, not yet copied
        self._pending_keys: list[str] = []
        self._pending_from = 0  # first step in _pending
        self.started = time.time()  # moved back by the time a resumed run had already taken
        self.resumed_seconds = 0.0  # that time: the checkpoint's "elapsed" (0 for a new run)
        torch.manual_seed(r.seed + 1 + self.dist.rank)  # dropout differs across ranks
        if resume:
            self._resume()
        self.start_step = self.step  # where this process began (0, or the resumed step)
        #: the step ``last.pt`` holds for this run (``None``: nothing saved yet)
        self.saved_step: int | None = self.step if resume else None
        self.net: nn.Module = self.model
        if self.dist.enabled:
            self.net = nn.parallel.DistributedDataParallel(
                self.model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=not self.method.uses_pose_loss,
            )
        self.log = RunLog(self.out_dir, r.tensorboard, self.history) if self.dist.is_main else None
        if self.dist.is_main:
            atomic_write(
                self.out_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False)
            )

    # ------------------------------------------------------------------ set-up

    init_metadata: dict[str, Any] | None = None  # of the checkpoint model.init names, if any

    def _build_model(self) -> nn.Module:
        m = self.cfg.model
        init = m.init
        pretrained: str | None
        if init == "random":
            pretrained = None
        elif init == "imagenet" or init in WEIGHT_SOURCES:
            pretrained = init
        else:
            pretrained = expand_path(init, self.cfg)
            self.init_metadata = init_checkpoint_metadata(pretrained, self.trust_checkpoint)
        return build_model(
            backbone=m.backbone,
            angles=tuple(m.angles),
            bin_width=m.bin_width,
            bin_low=m.bin_low,
            bin_count=m.bin_count,
            ssl_heads=self.method.ssl_heads,
            flag_point=m.flag_point,
            pretrained=pretrained,
            dropout=m.dropout,
            ssl_dropout=m.ssl_dropout,
            trusted=self.trust_checkpoint,
        )

    def _resume(self) -> None:
        path = self.out_dir / "last.pt"
        state = load_checkpoint(path, map_location="cpu")
        self.model.load_state_dict(state["model"])
        if self.ema is not None:
            if not state.get("ema"):
                raise ConfigError(
                    f"{path}: trained without optim.ema_decay, cannot resume with "
                    f"optim.ema_decay={self.cfg.optim.ema_decay}"
                )
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self._resume_scaler(path, state)
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.step_in_epoch = int(state["step_in_epoch"])
        self.best_metric = state["best_metric"]
        self.history = list(state["history"])
        self.epoch_sums = dict(state["epoch_sums"])
        self.epoch_count = int(state["epoch_count"])
        self.resumed_seconds = float(state.get("elapsed", 0.0))  # absent in older checkpoints
        self.started -= self.resumed_seconds
        states = state["rng"]
        if len(states) != self.dist.world_size:
            raise ConfigError(
                f"{path}: saved by {len(states)} process(es), cannot resume exactly with "
                f"{self.dist.world_size}"
            )
        set_rng_state(states[self.dist.rank], self._cuda_device())

    def _cuda_device(self) -> torch.device | None:
        return self.device if self.device.type == "cuda" else None

    def _resume_scaler(self, path: Path, state: dict[str, Any]) -> None:
        """Load the GradScaler state when there is one to load and this run scales (fp16).

        A scaler saved disabled (bf16, off, CPU) is ``{}``; an enabled fp16 scaler starts afresh
        from it. Resuming under another AMP mode works but is not exact: say so.
        """
        saved_mode = state.get("amp")  # None: written before the mode was stored
        scaler = state.get("scaler") or {}
        if self.scaler.is_enabled() and scaler:
            self.scaler.load_state_dict(scaler)
        if saved_mode is not None and saved_mode != self.amp_mode and self.dist.is_main:
            print(
                f"note: {path} was trained with runtime.amp={saved_mode}, resuming with "
                f"{self.amp_mode}: training continues, but not exactly as it would have"
                + (" (fresh fp16 loss scale)" if self.scaler.is_enabled() and not scaler else ""),
                file=sys.stderr,
            )

    # ------------------------------------------------------------------ state

    def state_dict(self, rng: list[Any]) -> dict[str, Any]:
        """Everything a checkpoint holds (see docs/ARCHITECTURE.md)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": self.cfg.to_dict(),
            "model_config": dict(self.model.model_config),
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else {},
            "metadata": build_metadata(self.cfg, self.data.train_name, self.init_metadata),
            "epoch": self.epoch,
            "step": self.step,
            "step_in_epoch": self.step_in_epoch,
            "best_metric": self.best_metric,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "amp": self.amp_mode,
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "history": self.history,
            "epoch_sums": self.epoch_sums,
            "epoch_count": self.epoch_count,
            "elapsed": round(time.time() - self.started, 2),  # seconds of training so far
        }

    def save(self, names: Iterable[str] = ("last.pt",)) -> None:
        """Checkpoint (collective: every rank calls it; rank 0 writes)."""
        self._flush()
        rng = D.all_gather_objects(rng_state(self._cuda_device()), self.dist)
        if self.dist.is_main:
            state = self.state_dict(rng)
            for name in names:
                save_checkpoint(self.out_dir / name, state)
        if "last.pt" in names:
            self.saved_step = self.step

    # ------------------------------------------------------------------ loop

    def _loader(self, dataset: Any, sampler: Any, batch_size: int, drop_last: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=self.cfg.runtime.workers,
            drop_last=drop_last,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(self.cfg.runtime.seed),
        )

    def _autocast(self) -> Any:
        if self.amp is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp)

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """One optimizer step on ``batch``; returns the loss parts (this process) as detached
        float32 scalars on the device: nothing here waits for the GPU (the fp16 GradScaler's own
        inf check aside)."""
        images = batch["image"].to(self.device, non_blocking=True)
        target = (
            batch["target"].to(self.device, non_blocking=True)
            if self.method.uses_pose_loss
            else None
        )
        labels = {k: v.to(self.device, non_blocking=True) for k, v in batch["ssl"].items()}
        ssl_images = batch.get("ssl_image")
        if ssl_images is not None:
            ssl_images = ssl_images.to(self.device, non_blocking=True)
        weight = batch.get("weight")
        if weight is not None:
            weight = weight.to(self.device, non_blocking=True)
        with self._autocast():
            outputs = self.method.forward(self.net, images, ssl_images)
        # float32, outside autocast
        scale = self.method.ssl_scale(self.epoch + self.step_in_epoch / self.steps_per_epoch)
        parts = self.method.losses(outputs, target, labels, weight=weight, ssl_scale=scale)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(parts["loss"]).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return {k: v.detach().float() for k, v in parts.items()}

    def _accumulate(self, parts: dict[str, torch.Tensor]) -> None:
        """Add one step's loss parts to the device-side sums (no host copy)."""
        vec = torch.stack(list(parts.values()))
        if self._pending is None:
            self._pending, self._pending_keys = vec, list(parts)
            self._pending_from = self.step
        else:
            self._pending = self._pending + vec

    def _flush(self, last: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """Copy the pending sums (and ``last``, one step's parts) to the host in one transfer,
        add the sums to the epoch's, and return ``last`` as floats.

        Raises FloatingPointError when a step since the previous flush had a non-finite loss
        part (checked here rather than at every step, which would wait for the GPU each time).
        """
        if self._pending is None:
            return {}
        keys = self._pending_keys
        payload = self._pending
        if last is not None:
            payload = torch.cat([payload, torch.stack([last[k] for k in keys])])
        host = payload.cpu().tolist()
        sums, last_values = host[: len(keys)], host[len(keys) :]
        if not all(math.isfinite(v) for v in sums):
            bad = [k for k, v in zip(keys, sums, strict=True) if not math.isfinite(v)]
            raise FloatingPointError(
                f"non-finite loss ({', '.join(bad)}) in steps {self._pending_from}-{self.step}; "
                "lower optim.lr?"
            )
        for key, value in zip(keys, sums, strict=True):
            self.epoch_sums[key] = self.epoch_sums.get(key, 0.0) + value
        self._pending = None
        return dict(zip(keys, last_values, strict=False))

    def _reduce(self, values: dict[str, float]) -> dict[str, float]:
        """Mean over processes (the all-reduce runs on this process's device: NCCL needs CUDA)."""
        return D.mean_of_floats(values, self.dist)

    def _row(self, kind: str, values: dict[str, float]) -> dict[str, Any]:
        return {
            "kind": kind,
            "epoch": self.epoch + (1 if kind == "step" else 0),
            "step": self.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "seconds": round(time.time() - self.started, 2),
            **values,
        }

    def _record(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        if self.log is not None:
            self.log.log(row)

    def fit(self) -> dict[str, Any]:
        """Train until ``optim.epochs`` (or ``runtime.max_steps``); return the last epoch row."""
        cfg, r = self.cfg, self.cfg.runtime
        bs = cfg.optim.batch_size
        last_row: dict[str, Any] = {}
        stop = bool(r.max_steps and self.step >= r.max_steps)
        try:
            while self.epoch < cfg.optim.epochs and not stop:
                self.sampler.set_epoch(self.epoch, start=self.step_in_epoch * bs)
                self.data.train.set_epoch(self.epoch)
                loader = self._loader(self.data.train, self.sampler, bs, self.drop_last)
                self.model.train()
                bar = self._progress(len(loader))
                for batch in iterate_loader(loader):
                    parts = self.train_step(batch)
                    self.step += 1
                    self.step_in_epoch += 1
                    self.epoch_count += 1
                    self._accumulate(parts)
                    if self.step % r.log_every == 0:
                        values = self._flush(parts)  # the one host copy of this interval
                        reduced = self._reduce(values)
                        self._record(
                            self._row("step", {f"train/{k}": v for k, v in reduced.items()})
                        )
                        if bar is not None:
                            bar.set_postfix(self._postfix(values), refresh=False)
                    if bar is not None:
                        bar.update(1)
                    if r.checkpoint_every_steps and self.step % r.checkpoint_every_steps == 0:
                        self.save()
                    for callback in self.callbacks:
                        callback(self)
                    if r.max_steps and self.step >= r.max_steps:
                        stop = True
                        break
                if bar is not None:
                    bar.close()
                if self.step_in_epoch >= self.steps_per_epoch:
                    last_row = self._end_epoch()
                elif stop:
                    self._sync_buffers()
                    self.save()  # mid-epoch: resume continues from here
        finally:
            if self.log is not None:
                self.log.close()
        D.barrier(self.dist)
        return last_row

    def _end_epoch(self) -> dict[str, Any]:
        self._flush()
        train = {f"train/{k}": v / max(self.epoch_count, 1) for k, v in self.epoch_sums.items()}
        train = self._reduce(train)
        self._sync_buffers()
        with warnings.catch_warnings():  # fp16: the GradScaler skips steps with inf gradients
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
            self.scheduler.step()
        self.epoch += 1
        self.step_in_epoch = 0
        self.epoch_sums, self.epoch_count = {}, 0
        val = self.validate() if self.dist.is_main else {}
        row = self._row("epoch", {**train, **val})
        self._record(row)
        metric = val.get("val/mae_mean", val.get("val/loss", train.get("train/loss", math.nan)))
        improved = not math.isnan(metric) and (
            self.best_metric is None or metric < self.best_metric
        )
        if improved:
            self.best_metric = float(metric)
        self.best_metric = D.broadcast_object(self.best_metric, self.dist)
        improved = D.broadcast_object(improved, self.dist)
        self.save(("last.pt", "best.pt") if improved else ("last.pt",))
        if self.log is not None:
            self.log.plot(f"{self.cfg.name}: {describe(self.cfg)}")
        return row

    def _sync_buffers(self) -> None:
        """Average BatchNorm running statistics over processes (DDP only syncs parameters)."""
        if not self.dist.enabled:
            return
        for buffer in self.model.buffers():
            if buffer.is_floating_point():
                buffer.copy_(D.all_reduce_mean(buffer, self.dist))

    # ------------------------------------------------------------------ validation

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Validation metrics: MAE per angle (degrees) for pose methods, SSL loss/accuracy otherwise.

        ``val/...`` come from the set that picks best.pt; with a tuning split
        (``data.split.tune_fraction``) the held-out set is reported as ``test/...`` too. With a
        moving average of the weights (``optim.ema_decay``) these are the average's numbers, and
        the trained weights' are reported as ``val_raw/...`` (and ``test_raw/...``).
        """
        out: dict[str, float] = {}
        models: list[tuple[str, nn.Module]] = [("", self.model)]
        if self.ema is not None:
            models = [("", self.ema.module), ("_raw", self.model)]
        for suffix, model in models:
            for prefix, dataset in (("val", self.data.val), ("test", self.data.test)):
                if dataset is not None:
                    values = self._evaluate(dataset, model)
                    out.update(
                        {f"{prefix}{suffix}/" + k.split("/", 1)[1]: v for k, v in values.items()}
                    )
        return out

    def _evaluate(self, dataset: Any, model: nn.Module) -> dict[str, float]:
        model.eval()
        bs = self.cfg.runtime.val_batch_size or self.cfg.optim.batch_size
        loader = self._loader(dataset, None, bs, drop_last=False)
        try:
            if self.method.uses_pose_loss:
                return self._validate_pose(loader, model)
            return self._validate_ssl(loader, model)
        finally:
            self.model.train()

    def _validate_pose(self, loader: DataLoader, model: nn.Module) -> dict[str, float]:
        pose = model.pose_network()  # type: ignore[operator]
        decoded = DecodedPoseNetwork(pose, self.method.bins).to(self.device)
        preds, targets = [], []
        for batch in iterate_loader(loader):
            with self._autocast():
                angles, _ = decoded(batch["image"].to(self.device))
            preds.append(angles.float().cpu().numpy())
            targets.append(batch["target"].numpy())
        mae = mae_per_angle(np.concatenate(preds), np.concatenate(targets), self.method.angles)
        return {f"val/mae_{k}": float(v) for k, v in mae.items() if k != "n"}

    def _validate_ssl(self, loader: DataLoader, model: nn.Module) -> dict[str, float]:
        sums: dict[str, torch.Tensor] = {}  # on the device; one host copy at the end
        n = 0
        for batch in iterate_loader(loader):
            labels = {k: v.to(self.device) for k, v in batch["ssl"].items()}
            with self._autocast():
                outputs = model(batch["image"].to(self.device))
            parts = self.method.losses(outputs, None, labels)  # float32, outside autocast
            size = len(batch["image"])
            n += size
            values = {f"val/{k}": v.detach().float() * size for k, v in parts.items()}
            for branch, logits in outputs["ssl"].items():
                correct = (logits.argmax(-1) == labels[branch]).float().mean(dim=1).sum()
                values[f"val/acc_{branch}"] = correct
            for k, v in values.items():
                sums[k] = sums[k] + v if k in sums else v
        if not sums:
            return {}
        keys = list(sums)
        host = torch.stack([sums[k] for k in keys]).cpu().tolist()
        return {k: v / max(n, 1) for k, v in zip(keys, host, strict=True)}

    # ------------------------------------------------------------------ display

    def _progress(self, total: int) -> Any:
        if not (self.cfg.runtime.progress and self.dist.is_main):
            return None
        return tqdm(
            total=total,
            desc=f"epoch {self.epoch + 1}/{self.cfg.optim.epochs}",
            leave=False,
            dynamic_ncols=True,
        )

    @staticmethod
    def _postfix(parts: dict[str, float]) -> dict[str, str]:
        keys = ["loss", "pose/ce", "pose/rmse", "ssl/sum"]
        return {k.split("/")[-1]: f"{parts[k]:.3g}" for k in keys if k in parts}


def train(
    cfg: Config,
    resume: bool = False,
    callbacks: Iterable[Callback] = (),
    trust_checkpoint: bool = False,
) -> dict[str, Any]:
    """Build a :class:`Trainer` for ``cfg`` and run it; returns the last epoch row."""
    trainer = Trainer(cfg, resume=resume, callbacks=callbacks, trust_checkpoint=trust_checkpoint)
    try:
        return trainer.fit()
    finally:
        D.shutdown(trainer.dist)
