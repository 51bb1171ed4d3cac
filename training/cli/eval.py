"""``headpose-eval``: mean absolute error (degrees) of a checkpoint or an exported model.

Examples::

    headpose-eval --checkpoint runs/sl/best.pt --data ../shared/data/aflw2000-crops
    headpose-eval --model model.onnx --data ../shared/data/aflw2000-crops --no-detect --json
    headpose-eval --config cpu/sl_resnet18_128 --split val      # held-out split of that run

The images are the dataset's face crops, resized whole (no face detector runs; ``--no-detect``
states this explicitly). ``--json`` prints one JSON object: ``{"n", "yaw", "pitch", "roll",
"mean"}`` for the full set, plus ``"reduced"`` (the samples with every |angle| <= 99) when it
differs, plus ``"baseline"`` (MAE of predicting the training mean) with ``--split``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from headpose.errors import HeadPoseError

PROG = "headpose-eval"
KINDS = ("csv", "300wlp", "aflw2000", "biwi", "eth_xgaze")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="MAE of a head-pose checkpoint or ONNX model."
    )
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", help="training checkpoint (.pt)")
    src.add_argument("--model", help="exported model (.onnx)")
    parser.add_argument("--data", help="labelled dataset folder (or file, for biwi)")
    parser.add_argument("--kind", default="csv", choices=KINDS, help="dataset format (default csv)")
    parser.add_argument(
        "--config", help="training config (with --split): evaluate its held-out split"
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="config overrides (with --config)"
    )
    parser.add_argument(
        "--split", choices=("val",), help="evaluate the validation split of --config"
    )
    parser.add_argument(
        "--no-detect", action="store_true", help="use the dataset crops as they are (default)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--device", default="cpu", help="torch device for checkpoints (default cpu)"
    )
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="checkpoints: average with the mirrored image, as headpose-export --flip-average does",
    )
    parser.add_argument(
        "--input-zoom",
        type=float,
        default=1.0,
        metavar="Z",
        help="checkpoints: look at the central Z of each crop, as headpose-export --input-zoom",
    )
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="the checkpoint may hold pickled objects other than tensors (runs code from the file)",
    )
    return parser


def _usage_error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from headpose.training.engine import evaluate as E

    if args.batch_size < 1:
        return _usage_error(f"--batch-size: expected >= 1, got {args.batch_size}")
    train_targets = None
    if args.split:
        from headpose.training.config import (
            apply_overrides,
            config_from_dict,
            expand_path,
            load_config,
            validate,
        )
        from headpose.training.engine.checkpoint import load_checkpoint
        from headpose.training.engine.data_setup import data_root, open_dataset, split_train_val

        if args.config:
            cfg = load_config(args.config, args.overrides)
        elif args.checkpoint:  # the split the checkpoint was trained with
            cfg = config_from_dict(
                load_checkpoint(args.checkpoint, trusted=args.trust_checkpoint)["config"],
                args.checkpoint,
            )
            apply_overrides(cfg, args.overrides)
            validate(cfg)
        else:
            return _usage_error(
                "--split needs --config CFG or --checkpoint CKPT (whose split to use)"
            )
        if args.model is None and args.checkpoint is None:
            args.checkpoint = str(Path(expand_path(cfg.runtime.out_dir, cfg)) / "best.pt")
        full = open_dataset(cfg, cfg.data.kind, data_root(cfg, cfg.data.root, "data.root"))
        train_idx, val_idx = split_train_val(cfg, full)
        if cfg.data.val_root:
            dataset = open_dataset(
                cfg,
                cfg.data.val_kind or cfg.data.kind,
                data_root(cfg, cfg.data.val_root, "data.val_root"),
            )
        elif not val_idx:
            return _usage_error(
                f"config '{args.config}' has no validation split (data.split.by=none)"
            )
        else:
            dataset = full.view(val_idx)
        train_targets = full.view(train_idx).targets()
        source = f"{cfg.name} validation split ({len(dataset)} images)"
    else:
        if args.overrides:
            return _usage_error(
                f"unexpected arguments {args.overrides} (overrides need --config and --split)"
            )
        if not args.data:
            return _usage_error("give --data DIR (or --config CFG --split val)")
        if not Path(args.data).exists():
            return _usage_error(f"--data: not found: {args.data}")
        from headpose.training.data import build_dataset

        dataset = build_dataset(args.kind, args.data)
        source = f"{args.data} ({args.kind}, {len(dataset)} images)"
    if args.model is None and args.checkpoint is None:
        return _usage_error("give --checkpoint CKPT or --model MODEL.onnx")
    if args.model:
        predict, _meta = E.onnx_predictor(args.model)
        what = args.model
    else:
        if not 0.0 < args.input_zoom <= 1.0:
            return _usage_error(f"--input-zoom: expected a number in (0, 1], got {args.input_zoom}")
        predict, _meta = E.checkpoint_predictor(
            args.checkpoint, args.device, args.flip_average, args.input_zoom, args.trust_checkpoint
        )
        what = args.checkpoint
    result = E.evaluate(predict, dataset, args.batch_size, train_targets)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"{what} on {source}: MAE in degrees")
        print(result.table())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (HeadPoseError, ValueError, FileNotFoundError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _usage_error(message)


if __name__ == "__main__":
    sys.exit(main())
