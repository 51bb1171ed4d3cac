"""``headpose-train``: train a head-pose model from a YAML config.

Examples::

    headpose-train --config cpu/sl_resnet18_128
    headpose-train --config cpu/hmtl_puzzle3_flag3_resnet18_128 optim.epochs=5 runtime.workers=0
    headpose-train --config my.yaml --resume          # continue runs/<name>/last.pt exactly
    torchrun --nproc_per_node 2 -m headpose.training.cli.train --config paper/sl_imagenet

``key=value`` overrides may stand anywhere on the line (``name=x --resume optim.epochs=1``).
Bad input (unknown key, wrong type, missing data folder, unreadable checkpoint) ends with exit
code 2 and a one-line message; nothing is half-written (every file is replaced atomically).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from headpose.cli.options import command, missing_extra, run, usage_error
from headpose.errors import HeadPoseError, first_line
from headpose.training.cli.options import overrides_argument, run_options
from headpose.training.plugins import describe_registries

PROG = "headpose-train"


@command(PROG)
@click.option(
    "--config",
    "config",
    metavar="CONFIG",
    help="YAML file, or a built-in name such as cpu/sl_resnet18_128",
)
@overrides_argument()
@click.option("--resume", is_flag=True, help="continue from <out_dir>/last.pt exactly")
@run_options(["trust_checkpoint"])
@click.option(
    "--check-data",
    is_flag=True,
    help="read every training/validation image first; stop naming each unreadable file",
)
@click.option("--print-config", is_flag=True, help="print the resolved config and exit")
@click.option("--list-configs", is_flag=True, help="list the built-in configs and exit")
@click.option(
    "--list-plugins",
    is_flag=True,
    help="list the registered methods, SSL tasks, dataset kinds, backbones, detectors and exit",
)
def cli(
    config: str | None,
    overrides: list[str],
    resume: bool,
    trust_checkpoint: bool,
    check_data: bool,
    print_config: bool,
    list_configs: bool,
    list_plugins: bool,
) -> int:
    """Train a head-pose model from a YAML config, with dotted KEY=VALUE overrides such as
    model.backbone=resnet18 optim.lr=0.01 runtime.device=cpu."""
    try:  # pyyaml, torch: optional, the [train] extra; the command names what is missing
        import yaml

        from headpose.training.config import list_builtin_configs, load_config
    except ImportError as exc:
        return missing_extra(PROG, exc, "train")
    if list_configs:
        print("\n".join(list_builtin_configs()))
        return 0
    if list_plugins:
        print(describe_registries())
        return 0
    try:
        cfg = load_config(config, overrides)
        if print_config:
            print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
            return 0
        if check_data:
            from headpose.training.engine.data_setup import check_data as scan  # torch

            total, problems = scan(cfg)
            for message in problems:
                print(f"{PROG}: bad data: {message}", file=sys.stderr)
            if problems:
                return usage_error(
                    PROG, f"{len(problems)} of {total} images cannot be used (listed above)"
                )
            print(f"{PROG}: checked {total} images: all readable")
        from headpose.training.engine.trainer import Trainer  # torch: optional, [train] extra

        trainer = Trainer(cfg, resume=resume, trust_checkpoint=trust_checkpoint)
    except ImportError as exc:
        return missing_extra(PROG, exc, "train")
    except (HeadPoseError, ValueError, OSError, FloatingPointError) as exc:
        return usage_error(PROG, first_line(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted before training started; nothing saved", file=sys.stderr)
        return 130
    return fit(trainer, resume)


def fit(trainer, resume: bool) -> int:
    """Train with ``trainer`` and say what was done: where a resumed run starts, what an
    interrupted run kept, and why a run stopped (its epochs, ``runtime.max_steps``, or nothing
    left to train)."""
    from headpose.training.engine import distributed as D  # torch: optional, [train] extra

    cfg, main_rank = trainer.cfg, trainer.dist.is_main
    last = trainer.out_dir / "last.pt"
    if resume and main_rank:
        print(f"{PROG}: resuming {last} from {_position(trainer, trainer.step)}")
    try:
        row = trainer.fit()
    except (HeadPoseError, ValueError, OSError, FloatingPointError) as exc:
        return usage_error(PROG, first_line(exc))
    except KeyboardInterrupt:
        if trainer.saved_step is None:
            print(
                f"{PROG}: interrupted at step {trainer.step}, before the first checkpoint: "
                "nothing saved yet; start again (the same command, without --resume)",
                file=sys.stderr,
            )
        else:
            print(
                f"{PROG}: interrupted at step {trainer.step}; {last} holds "
                f"{_position(trainer, trainer.saved_step)}: --resume continues from there",
                file=sys.stderr,
            )
        return 130
    finally:
        D.shutdown(trainer.dist)
    if not main_rank:
        return 0
    limit = cfg.runtime.max_steps
    trained = trainer.step - trainer.start_step
    if trained == 0:
        print(
            f"{PROG}: nothing to train: the run in {trainer.out_dir} has already reached "
            f"optim.epochs={cfg.optim.epochs}"
            f"{f' or runtime.max_steps={limit}' if limit else ''} (step {trainer.step}); "
            "raise it to train further"
        )
    elif row and trainer.epoch >= cfg.optim.epochs:
        shown = {
            k: round(v, 4) for k, v in row.items() if k.startswith("val/") and isinstance(v, float)
        }
        print(f"{PROG}: done at epoch {row['epoch']}, step {row['step']}: {shown}")
    else:  # runtime.max_steps stopped it before optim.epochs
        print(
            f"{PROG}: stopped at runtime.max_steps={limit} after {trained} step(s) of training: "
            f"{last} holds {_position(trainer, trainer.step)} of optim.epochs="
            f"{cfg.optim.epochs}; raise runtime.max_steps and pass --resume to continue"
        )
    return 0


def _position(trainer, step: int) -> str:
    """``step N`` and, when it is the trainer's current step, where in which epoch."""
    if step != trainer.step:
        return f"step {step}"
    if trainer.step_in_epoch == 0:
        return f"step {step} (start of epoch {trainer.epoch + 1})"
    return (
        f"step {step} (epoch {trainer.epoch + 1}, {trainer.step_in_epoch} of "
        f"{trainer.steps_per_epoch} steps into it)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    return run(cli, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
