"""``headpose-export``: training checkpoint -> verified ONNX model (+ optional int8, TensorRT).

Exit codes: 0 success; 1 the export failed a check (parity, graph, quantization); 2 bad input
(arguments, files, checkpoint); 3 the TensorRT step failed or TensorRT is not installed (the
ONNX files are written before it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from headpose.cli.options import (
    COUNT,
    EXISTING_DIR,
    EXISTING_FILE,
    KEY_VALUE,
    command,
    missing_extra,
    print_problem,
)
from headpose.cli.options import run as run_command
from headpose.errors import HeadPoseError, InvalidImageError, InvalidInputError, InvalidModelError
from headpose.files import check_output
from headpose.tracking import VideoOptions
from headpose.training.cli.options import run_options, run_options_from

PROG = "headpose-export"
EXIT_FAILED, EXIT_BAD_INPUT, EXIT_TENSORRT = 1, 2, 3


@command(PROG)
@click.argument("checkpoint", nargs=-1, required=True, type=EXISTING_FILE)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="output ONNX file (default: CHECKPOINT with .onnx)",
)
@click.option("--opset", type=int, default=17, show_default=True, help="ONNX opset")
@click.option(
    "--verify-images",
    type=EXISTING_DIR,
    metavar="DIR",
    help="face crops for the parity check (default: the HEADPOSE_SHARED or ../shared AFLW2000 "
    "crops when present, else random input)",
)
@click.option(
    "--verify-count", type=COUNT, default=8, show_default=True, metavar="N", help="parity images"
)
@click.option(
    "--atol",
    type=click.FloatRange(0.0, min_open=True),
    default=1e-3,
    show_default=True,
    metavar="DEG",
    help="parity tolerance in degrees for angles and spread",
)
@click.option(
    "--int8",
    type=EXISTING_DIR,
    metavar="CALIB_DIR",
    help="also write MODEL.int8.onnx (static QDQ U8S8), calibrated on these face crops",
)
@click.option(
    "--calib-count",
    type=COUNT,
    default=64,
    show_default=True,
    metavar="N",
    help="calibration images",
)
@click.option(
    "--int8-eval",
    type=EXISTING_DIR,
    metavar="LABELLED_DIR",
    help="report MAE fp32 vs int8 on a folder with labels.csv (image,yaw,pitch,roll)",
)
@click.option(
    "--int8-eval-count", type=COUNT, metavar="N", help="at most N labelled images (default all)"
)
@click.option("--tensorrt", is_flag=True, help="also build MODEL.engine with TensorRT (NVIDIA GPU)")
@click.option(
    "--tensorrt-fp32",
    is_flag=True,
    help="build the TensorRT engine in fp32 (default fp16, which needs TensorRT 10.x)",
)
@click.option(
    "--describe",
    type=KEY_VALUE,
    metavar="FIELD=TEXT",
    multiple=True,
    help="set a descriptive metadata field (license, train_data, method); repeatable",
)
@click.option(
    "--video",
    type=KEY_VALUE,
    metavar="KEY=VALUE",
    multiple=True,
    help="a video-mode setting the runtime uses with this model unless told otherwise (a "
    "VideoOptions field, e.g. detect_every=4); repeatable",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="replace existing output files (the model, MODEL.int8.onnx, MODEL.engine); an input "
    "is never replaced",
)
@run_options()
def cli(**options: Any) -> int:
    """Export headpose training checkpoints (.pt) to an ONNX model for the runtime (pose network
    only, SSL branches stripped), verified against PyTorch on face crops; several checkpoints
    export one model averaging their predictions.

    Exit codes: 0 success; 1 the export failed a check (parity, graph, quantization); 2 bad
    input (arguments, files, checkpoint); 3 the TensorRT step failed or TensorRT is not installed
    (the ONNX files are written before it)."""
    try:
        run_opts = run_options_from(options)  # the RunOptions fields leave ``options``
        args = SimpleNamespace(**options, run=run_opts)
        args.checkpoint = list(args.checkpoint)
        return run(args)
    except ImportError as exc:
        return missing_extra(PROG, exc, "export")
    except (InvalidInputError, InvalidModelError, InvalidImageError) as exc:
        print_problem(PROG, exc)
        return EXIT_BAD_INPUT
    except HeadPoseError as exc:
        print_problem(PROG, f"export failed: {exc}")
        return EXIT_FAILED
    except OSError as exc:  # unwritable output folder, disk full, ...
        print_problem(PROG, exc)
        return EXIT_BAD_INPUT


def _check_args(args: SimpleNamespace) -> None:
    if args.int8_eval is not None and args.int8 is None:
        raise InvalidInputError("--int8-eval needs --int8 CALIB_DIR")


def check_outputs(args: SimpleNamespace, output: Path) -> None:
    """Check every file this export would write before any work: the model, ``--int8``'s
    ``MODEL.int8.onnx`` and ``--tensorrt``'s engine and its ``.json`` (none an input, none an
    existing file unless ``--overwrite``)."""
    read = [*args.checkpoint]
    read += [d for d in (args.verify_images, args.int8, args.int8_eval) if d is not None]
    targets = [output]
    if args.int8 is not None:
        from headpose.export.quantize import int8_path_for  # onnx: optional, [export] extra

        targets.append(int8_path_for(output))
    if args.tensorrt:
        from headpose.export.tensorrt import engine_path_for  # onnx: optional, as above

        engine = engine_path_for(output)
        targets += [engine, Path(f"{engine}.json")]
    for target in targets:
        check_output(target, args.overwrite, read)


def describe(meta) -> str:
    """One line about the model's metadata."""
    b = meta.bins
    return (
        f"{meta.backbone}, method {meta.method}, input {meta.input_size[0]}x{meta.input_size[1]} "
        f"{meta.color_order}, angles {','.join(meta.angles)}, {b.count} bins x {b.width:g} deg "
        f"from {b.low:g}, crop x{meta.crop.scale:g}, trained on {meta.train_data}, "
        f"licence {meta.license}"
    )


def run(args: SimpleNamespace) -> int:
    """Export as the parsed options ``args`` say; returns the exit code."""
    # torch, onnx: optional, the [export] extra; the command names what is missing
    from headpose.export.onnx_export import export_onnx

    _check_args(args)
    if len(args.checkpoint) > 1 and args.output is None:
        raise InvalidInputError("several checkpoints (an ensemble) need -o/--output")
    output = args.output or args.checkpoint[0].with_suffix(".onnx")
    check_outputs(args, output)
    result = export_onnx(
        args.checkpoint,
        output,
        opset=args.opset,
        verify_images=args.verify_images,
        atol_angles=args.atol,
        atol_spread=args.atol,
        verify_count=args.verify_count,
        trusted=args.run.trust_checkpoint,
        flip_average=args.run.flip_average,
        weights=args.run.weights,
        describe=dict(args.describe),
        input_zoom=args.run.input_zoom,
        video=VideoOptions.parse(args.video, "--video"),
        overwrite=args.overwrite,
    )
    print(f"wrote {result.path} ({result.size_mb:.2f} MB, opset {result.opset})")
    print(f"  {result.parity.summary()}")
    print(
        f"  SSL branches stripped: {result.exported_values:,} numbers in the graph vs "
        f"{result.full_values:,} in the checkpoint's model"
    )
    print(f"  model: {describe(result.metadata)}")
    if args.int8 is not None:
        from headpose.export.quantize import compare_int8, quantize_int8  # onnx, as above

        int8_path = quantize_int8(
            result.path, args.int8, calib_limit=args.calib_count, overwrite=args.overwrite
        )
        report = compare_int8(
            result.path,
            int8_path,
            eval_dir=args.int8_eval,
            eval_limit=args.int8_eval_count,
            sample_dir=args.int8,
        )
        print(report.summary())
    if args.tensorrt:
        from headpose.export.tensorrt import build_and_check  # onnx, as above

        try:
            engine_report = build_and_check(
                result.path,
                fp16=not args.tensorrt_fp32,
                verify_images=args.verify_images,
                verify_count=args.verify_count,
                overwrite=args.overwrite,
            )
        except HeadPoseError as exc:
            print_problem(PROG, f"tensorrt: {exc}")
            return EXIT_TENSORRT
        print(f"tensorrt: wrote {engine_report.path} (+ {engine_report.path.name}.json metadata)")
        print(f"  {engine_report.summary()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    return run_command(cli, argv, PROG)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
