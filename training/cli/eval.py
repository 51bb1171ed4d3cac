"""``headpose-eval``: mean absolute error (degrees) of a checkpoint or an exported model.

Examples::

    headpose-eval --checkpoint runs/sl/best.pt --data ../shared/data/aflw2000-crops
    headpose-eval --model model.onnx --data ../shared/data/aflw2000-crops --json
    headpose-eval --config cpu/sl_resnet18_128 --split val      # held-out split of that run

The images are the dataset's face crops, resized whole (no face detector runs). An ONNX model
(``--model``) on a dataset folder is evaluated without torch: the runtime install is enough. ``--json`` prints one JSON object: ``{"n", "yaw", "pitch", "roll",
"mean"}`` for the full set, plus ``"reduced"`` (the samples with every |angle| <= 99) when it
differs, plus ``"baseline"`` (MAE of predicting the training mean) with ``--split``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from headpose.cli.options import (
    COUNT,
    EXISTING_FILE,
    LiveChoice,
    command,
    missing_extra,
    usage_error,
)
from headpose.cli.options import (
    run as run_command,
)
from headpose.errors import HeadPoseError, first_line
from headpose.training.checkpoint_io import load_checkpoint
from headpose.training.cli.options import overrides_argument, run_options, run_options_from
from headpose.training.data import available_datasets, build_dataset
from headpose.training.engine import evaluate as E

PROG = "headpose-eval"


def labelled_kinds() -> list[str]:
    """Registered dataset kinds that carry pose labels (``--kind``)."""
    return [k for k in available_datasets() if k != "unlabeled"]


@command(PROG)
@click.option("--checkpoint", type=EXISTING_FILE, help="training checkpoint (.pt)")
@click.option("--model", type=EXISTING_FILE, help="exported model (.onnx); needs no torch")
@click.option("--data", help="labelled dataset folder (or file, for biwi)")
@click.option(
    "--kind",
    default="csv",
    show_default=True,
    type=LiveChoice(labelled_kinds),
    help="dataset format (a registered kind)",
)
@click.option("--config", help="training config (with --split): evaluate its held-out split")
@overrides_argument()
@click.option(
    "--split",
    type=click.Choice(["val", "tune"]),
    help="evaluate the validation (or tuning: data.split.tune_fraction) split of --config",
)
@click.option("--batch-size", type=COUNT, default=32, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="torch device for checkpoints")
@click.option("--json", "json_out", is_flag=True, help="print only a JSON object")
@run_options()
def cli(**options: Any) -> int:
    """MAE (degrees) of a head-pose checkpoint or exported ONNX model on a labelled dataset.
    The images are the dataset's face crops, resized whole (no face detector runs). --weights,
    --flip-average, --input-zoom and --trust-checkpoint apply to checkpoints, as in
    headpose-export (KEY=VALUE overrides: with --config or --checkpoint and --split)."""
    try:
        run_opts = run_options_from(options)
    except HeadPoseError as exc:
        return usage_error(PROG, first_line(exc))
    args = SimpleNamespace(**options, run=run_opts)
    if args.checkpoint is not None and args.model is not None:
        return usage_error(PROG, "give --checkpoint or --model, not both")
    args.checkpoint = None if args.checkpoint is None else str(args.checkpoint)
    args.model = None if args.model is None else str(args.model)
    try:
        return run(args)
    except ImportError as exc:
        return missing_extra(PROG, exc, "train")
    except (HeadPoseError, ValueError, FileNotFoundError) as exc:
        return usage_error(PROG, first_line(exc))


def _usage_error(message: str) -> int:
    return usage_error(PROG, message)


def run(args: SimpleNamespace) -> int:
    """Evaluate as the parsed options ``args`` say; returns the exit code."""
    train_targets = None
    if args.split:
        # pyyaml: optional, [train] extra (an ONNX model on a dataset folder needs none)
        from headpose.training.config import (
            apply_overrides,
            config_from_dict,
            expand_path,
            load_config,
            validate,
        )
        from headpose.training.data.run_split import (  # pyyaml, as above
            data_root,
            open_dataset,
            split_train_tune_val,
        )

        if args.config:
            cfg = load_config(args.config, args.overrides)
        elif args.checkpoint:  # the split the checkpoint was trained with
            cfg = config_from_dict(
                load_checkpoint(args.checkpoint, trusted=args.run.trust_checkpoint)["config"],
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
        train_idx, tune_idx, val_idx = split_train_tune_val(cfg, full)
        if args.split == "tune":
            if not tune_idx:
                return _usage_error(
                    f"config '{cfg.name}' has no tuning split "
                    "(data.split.tune_fraction and tune_folds are 0)"
                )
            dataset = full.view(tune_idx)
        elif cfg.data.val_root:
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
        part = "tuning" if args.split == "tune" else "validation"
        source = f"{cfg.name} {part} split ({len(dataset)} images)"
    else:
        if args.overrides:
            return _usage_error(
                f"unexpected arguments {args.overrides} (overrides need --config and --split)"
            )
        if not args.data:
            return _usage_error("give --data DIR (or --config CFG --split val)")
        if not Path(args.data).exists():
            return _usage_error(f"--data: not found: {args.data}")
        dataset = build_dataset(args.kind, args.data)
        source = f"{args.data} ({args.kind}, {len(dataset)} images)"
    if args.model is None and args.checkpoint is None:
        return _usage_error("give --checkpoint CKPT or --model MODEL.onnx")
    if args.model:
        predict, _meta = E.onnx_predictor(args.model)
        what = args.model
    else:
        predict, _meta = E.checkpoint_predictor(
            args.checkpoint,
            args.device,
            flip_average=args.run.flip_average,
            input_zoom=args.run.input_zoom,
            trusted=args.run.trust_checkpoint,
            weights=args.run.weights,
        )
        what = args.checkpoint
    result = E.evaluate(predict, dataset, args.batch_size, train_targets)
    if args.json_out:
        print(json.dumps(result.to_json()))
    else:
        print(f"{what} on {source}: MAE in degrees")
        print(result.table())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    return run_command(cli, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
