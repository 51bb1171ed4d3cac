"""``headpose-train``: train a head-pose model from a YAML config.

Examples::

    headpose-train --config cpu/sl_resnet18_128
    headpose-train --config cpu/hmtl_puzzle3_flag3_resnet18_128 optim.epochs=5 runtime.workers=0
    headpose-train --config my.yaml --resume          # continue runs/<name>/last.pt exactly
    torchrun --nproc_per_node 2 -m headpose.training.cli.train --config paper/sl_imagenet

Bad input (unknown key, wrong type, missing data folder, unreadable checkpoint) ends with exit
code 2 and a one-line message; nothing is half-written (every file is replaced atomically).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import yaml

from headpose.errors import HeadPoseError

PROG = "headpose-train"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train a head-pose model (sl, sl-puzzled, hmtl, ssl-pretrain) from a YAML config.",
        epilog="Overrides are dotted keys, e.g. model.backbone=resnet18 optim.lr=0.01 runtime.device=cpu.",
    )
    parser.add_argument(
        "--config", help="YAML file, or a built-in name such as cpu/sl_resnet18_128"
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides")
    parser.add_argument(
        "--resume", action="store_true", help="continue from <out_dir>/last.pt exactly"
    )
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="model.init may hold pickled objects other than tensors (runs code from the file)",
    )
    parser.add_argument(
        "--check-data",
        action="store_true",
        help="read every training/validation image first; stop naming each unreadable file",
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config and exit"
    )
    parser.add_argument(
        "--list-configs", action="store_true", help="list the built-in configs and exit"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from headpose.training.config import list_builtin_configs, load_config

    if args.list_configs:
        print("\n".join(list_builtin_configs()))
        return 0
    try:
        cfg = load_config(args.config, args.overrides)
        if args.print_config:
            print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
            return 0
        if args.check_data:
            from headpose.training.engine.data_setup import check_data

            total, problems = check_data(cfg)
            for message in problems:
                print(f"{PROG}: bad data: {message}", file=sys.stderr)
            if problems:
                print(
                    f"{PROG}: error: {len(problems)} of {total} images cannot be used (listed above)",
                    file=sys.stderr,
                )
                return 2
            print(f"{PROG}: checked {total} images: all readable")
        from headpose.training.engine.trainer import train

        row = train(cfg, resume=args.resume, trust_checkpoint=args.trust_checkpoint)
    except (HeadPoseError, ValueError, OSError, FloatingPointError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; continue with --resume", file=sys.stderr)
        return 130
    if row:
        shown = {
            k: round(v, 4) for k, v in row.items() if k.startswith("val/") and isinstance(v, float)
        }
        print(f"{PROG}: done at epoch {row['epoch']}, step {row['step']}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
