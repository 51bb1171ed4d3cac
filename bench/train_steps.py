"""Training steps per second of the real loop (``Trainer.fit``) on a tiny config.

    OMP_NUM_THREADS=1 python bench/train_steps.py [--steps 60] [--warmup 10] [--amp off] [--cached]
        [KEY=VALUE ...]

Runs ``headpose.training`` on the AFLW2000 crops in ../shared with a tiny network (MobileNetV3-Small
at 32 px, batch 16, HMTL puzzle 3x3, data loading in the main process) for ``warmup + steps``
optimizer steps, and prints steps/s over the last ``steps`` (timed by a callback at the end of
every step, so it includes data loading, forward, losses, backward, optimizer and logging;
``--cached`` reuses four loaded batches to time the loop without data loading; ``--loss-only``
times the pose loss alone). Extra
``KEY=VALUE`` arguments are config overrides. On a CPU this measures the cost of the loss code
and of host copies as CPU work only; the device->host waits they cause on a GPU do not exist here.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from headpose.training.config import load_config
from headpose.training.engine.trainer import Trainer

SHARED = Path(__file__).resolve().parents[2] / "shared"

TINY = [
    "model.backbone=mobilenetv3_small_100",
    "model.input_size=32",
    "optim.batch_size=16",
    "optim.epochs=1",
    "runtime.device=cpu",
    "runtime.workers=0",
    "runtime.log_every=20",
    "runtime.progress=false",
    "runtime.tensorboard=false",
    "data.split.val_fraction=0.01",
]


def run(steps: int, warmup: int, amp: str, overrides: list[str], cached: bool) -> list[float]:
    """Seconds between consecutive steps after ``warmup`` steps."""
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(
            "cpu/hmtl_puzzle3_flag3_resnet18_128",
            [
                f"data.root={SHARED / 'data' / 'aflw2000-crops'}",
                f"runtime.out_dir={tmp}/run",
                f"runtime.amp={amp}",
                f"runtime.max_steps={warmup + steps + 1}",
                *TINY,
                *overrides,
            ],
        )
        trainer = Trainer(cfg, callbacks=[lambda t: stamps.append(time.perf_counter())])
        if cached:  # the same 4 real batches again and again: the loop without data loading
            loader = trainer._loader
            first = loader(trainer.data.train, trainer.sampler, cfg.optim.batch_size, True)
            batches = [b for _, b in zip(range(4), first, strict=False)]
            total = warmup + steps + 1
            trainer._loader = lambda *a, **k: [batches[i % 4] for i in range(total)]
        trainer.fit()
    return [b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1 :], strict=False)]


def loss_only(repeats: int) -> float:
    """Microseconds per pose_loss forward + backward on logits (16, 3, 66), 1 label in 5 missing."""
    from headpose.metadata import Bins
    from headpose.training.losses import pose_loss

    bins = Bins(width=3.0, count=66, low=-99.0)
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(16, 3, 66, generator=g) * 3).requires_grad_()
    target = (torch.rand(16, 3, generator=g) - 0.5) * 190
    target[::5, 2] = float("nan")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pose_loss(logits, target, bins)["total"].backward()
        times.append(time.perf_counter() - t0)
    return 1e6 * statistics.median(times[repeats // 10 :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--amp", default="off", choices=["off", "bf16", "fp16"])
    parser.add_argument(
        "--cached", action="store_true", help="reuse 4 loaded batches (time the loop, not data)"
    )
    parser.add_argument(
        "--loss-only", action="store_true", help="time pose_loss forward+backward alone"
    )
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.loss_only:
        print(f"pose_loss fwd+bwd, logits (16, 3, 66): {loss_only(2000):.0f} us (median)")
        return
    gaps = run(args.steps, args.warmup, args.amp, args.overrides, args.cached)
    total = sum(gaps)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} thread(s), amp={args.amp}, cached={args.cached}"
    )
    print(
        f"{len(gaps)} steps: {len(gaps) / total:.2f} steps/s "
        f"(median {1000 * statistics.median(gaps):.1f} ms/step)"
    )


if __name__ == "__main__":
    main()
