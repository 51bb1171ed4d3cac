"""``headpose-export``: training checkpoint -> verified ONNX model (+ optional int8, TensorRT).

Exit codes: 0 success; 1 the export failed a check (parity, graph, quantization); 2 bad input
(arguments, files, checkpoint); 3 the TensorRT step failed or TensorRT is not installed (the
ONNX files are written before it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from headpose.errors import HeadPoseError, InvalidImageError, InvalidInputError, InvalidModelError

PROG = "headpose-export"
EXIT_FAILED, EXIT_BAD_INPUT, EXIT_TENSORRT = 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Export a headpose training checkpoint to an ONNX model for the runtime "
        "(pose network only, SSL branches stripped), verified against PyTorch on face crops.",
    )
    parser.add_argument(
        "checkpoint",
        type=Path,
        nargs="+",
        help="training checkpoint (.pt); several export one model averaging their predictions",
    )
    parser.add_argument(
        "-o", "--output", type=Path, help="output ONNX file (default: CHECKPOINT with .onnx)"
    )
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument(
        "--verify-images",
        type=Path,
        metavar="DIR",
        help="face crops for the parity check (default: ../shared AFLW2000 crops when present, "
        "else random input)",
    )
    parser.add_argument(
        "--verify-count", type=int, default=8, metavar="N", help="parity images (default 8)"
    )
    parser.add_argument(
        "--atol",
        type=float,
        default=1e-3,
        metavar="DEG",
        help="parity tolerance in degrees for angles and spread (default 1e-3)",
    )
    parser.add_argument(
        "--int8",
        type=Path,
        metavar="CALIB_DIR",
        help="also write MODEL.int8.onnx (static QDQ U8S8), calibrated on these face crops",
    )
    parser.add_argument(
        "--calib-count", type=int, default=64, metavar="N", help="calibration images (default 64)"
    )
    parser.add_argument(
        "--int8-eval",
        type=Path,
        metavar="LABELLED_DIR",
        help="report MAE fp32 vs int8 on a folder with labels.csv (image,yaw,pitch,roll)",
    )
    parser.add_argument(
        "--int8-eval-count", type=int, metavar="N", help="at most N labelled images (default all)"
    )
    parser.add_argument(
        "--tensorrt", action="store_true", help="also build MODEL.engine with TensorRT (NVIDIA GPU)"
    )
    parser.add_argument(
        "--tensorrt-fp32",
        action="store_true",
        help="build the TensorRT engine in fp32 (default fp16, which needs TensorRT 10.x)",
    )
    parser.add_argument(
        "--describe",
        metavar="FIELD=TEXT",
        type=_field_value,
        action="append",
        default=[],
        help="set a descriptive metadata field (license, train_data, method); repeatable",
    )
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="average each prediction with the mirrored image's (twice the compute, lower error)",
    )
    parser.add_argument(
        "--input-zoom",
        type=float,
        default=1.0,
        metavar="Z",
        help="the network sees the central Z (0 < Z <= 1) of each crop, resized back: set it to "
        "the mean zoom of the training augmentation (level 1 zooms in 0.8-1.0: 0.9); default 1",
    )
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow arbitrary pickled objects in the checkpoint (runs code from the file)",
    )
    return parser


def _check_args(args: argparse.Namespace) -> None:
    for flag, folder in (
        ("--verify-images", args.verify_images),
        ("--int8", args.int8),
        ("--int8-eval", args.int8_eval),
    ):
        if folder is not None and not folder.is_dir():
            raise InvalidInputError(f"{flag}: folder not found: {folder}")
    if args.int8_eval is not None and args.int8 is None:
        raise InvalidInputError("--int8-eval needs --int8 CALIB_DIR")
    for flag, value in (
        ("--verify-count", args.verify_count),
        ("--calib-count", args.calib_count),
        ("--int8-eval-count", args.int8_eval_count),
    ):
        if value is not None and value < 1:
            raise InvalidInputError(f"{flag}: expected a positive count, got {value}")
    if not args.atol > 0:
        raise InvalidInputError(f"--atol: expected > 0 degrees, got {args.atol}")


def describe(meta) -> str:
    """One line about the model's metadata."""
    b = meta.bins
    return (
        f"{meta.backbone}, method {meta.method}, input {meta.input_size[0]}x{meta.input_size[1]} "
        f"{meta.color_order}, angles {','.join(meta.angles)}, {b.count} bins x {b.width:g} deg "
        f"from {b.low:g}, crop x{meta.crop.scale:g}, trained on {meta.train_data}, "
        f"licence {meta.license}"
    )


def _field_value(text: str) -> tuple[str, str]:
    field, sep, value = text.partition("=")
    if not sep or not field:
        raise argparse.ArgumentTypeError(f"expected FIELD=TEXT, got {text!r}")
    return field.strip(), value


def run(args: argparse.Namespace) -> int:
    from headpose.export.onnx_export import export_onnx

    _check_args(args)
    if len(args.checkpoint) > 1 and args.output is None:
        raise InvalidInputError("several checkpoints (an ensemble) need -o/--output")
    output = args.output or args.checkpoint[0].with_suffix(".onnx")
    result = export_onnx(
        args.checkpoint,
        output,
        opset=args.opset,
        verify_images=args.verify_images,
        atol_angles=args.atol,
        atol_spread=args.atol,
        verify_count=args.verify_count,
        trusted=args.trust_checkpoint,
        flip_average=args.flip_average,
        describe=dict(args.describe),
        input_zoom=args.input_zoom,
    )
    print(f"wrote {result.path} ({result.size_mb:.2f} MB, opset {result.opset})")
    print(f"  {result.parity.summary()}")
    print(
        f"  SSL branches stripped: {result.exported_values:,} numbers in the graph vs "
        f"{result.full_values:,} in the checkpoint's model"
    )
    print(f"  model: {describe(result.metadata)}")
    if args.int8 is not None:
        from headpose.export.quantize import compare_int8, quantize_int8

        int8_path = quantize_int8(result.path, args.int8, calib_limit=args.calib_count)
        report = compare_int8(
            result.path,
            int8_path,
            eval_dir=args.int8_eval,
            eval_limit=args.int8_eval_count,
            sample_dir=args.int8,
        )
        print(report.summary())
    if args.tensorrt:
        from headpose.export.tensorrt import build_and_check

        try:
            engine_report = build_and_check(
                result.path,
                fp16=not args.tensorrt_fp32,
                verify_images=args.verify_images,
                verify_count=args.verify_count,
            )
        except HeadPoseError as exc:
            print(f"{PROG}: tensorrt: {exc}", file=sys.stderr)
            return EXIT_TENSORRT
        print(f"tensorrt: wrote {engine_report.path} (+ {engine_report.path.name}.json metadata)")
        print(f"  {engine_report.summary()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (InvalidInputError, InvalidModelError, InvalidImageError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except HeadPoseError as exc:
        print(f"{PROG}: export failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # unwritable output folder, disk full, ...
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
