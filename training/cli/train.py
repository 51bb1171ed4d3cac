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

from headpose.cli.options import (
    command,
    missing_extra,
    overrides_argument,
    run,
    trust_checkpoint_option,
    usage_error,
)
from headpose.errors import HeadPoseError, first_line

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
@trust_checkpoint_option("model.init")
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
    try:
        import yaml

        from headpose.training.config import list_builtin_configs, load_config
    except ImportError as exc:
        return missing_extra(PROG, exc, "train")
    if list_configs:
        print("\n".join(list_builtin_configs()))
        return 0
    if list_plugins:
        from headpose.training.plugins import describe_registries

        print(describe_registries())
        return 0
    try:
        cfg = load_config(config, overrides)
        if print_config:
            print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
            return 0
        if check_data:
            from headpose.training.engine.data_setup import check_data as scan

            total, problems = scan(cfg)
            for message in problems:
                print(f"{PROG}: bad data: {message}", file=sys.stderr)
            if problems:
                return usage_error(
                    PROG, f"{len(problems)} of {total} images cannot be used (listed above)"
                )
            print(f"{PROG}: checked {total} images: all readable")
        from headpose.training.engine.trainer import train

        row = train(cfg, resume=resume, trust_checkpoint=trust_checkpoint)
    except ImportError as exc:
        return missing_extra(PROG, exc, "train")
    except (HeadPoseError, ValueError, OSError, FloatingPointError) as exc:
        return usage_error(PROG, first_line(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; continue with --resume", file=sys.stderr)
        return 130
    if row:
        shown = {
            k: round(v, 4) for k, v in row.items() if k.startswith("val/") and isinstance(v, float)
        }
        print(f"{PROG}: done at epoch {row['epoch']}, step {row['step']}: {shown}")
    else:
        from headpose.training.config import expand_path

        print(
            f"{PROG}: nothing to train: the run in {expand_path(cfg.runtime.out_dir, cfg)} has "
            f"already reached optim.epochs={cfg.optim.epochs}"
            f"{f' or runtime.max_steps={cfg.runtime.max_steps}' if cfg.runtime.max_steps else ''}"
            "; raise it to train further"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    return run(cli, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
