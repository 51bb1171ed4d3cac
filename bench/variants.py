"""Export variants of the default model and measure each on the held-out split, in one run.

    python bench/variants.py --config default/hmtl_lite0_128_clean \\
        --checkpoints runs/default_hmtl_lite0_128_clean/last.pt \\
                      runs/default_hmtl_lite0_128_sslinit_clean/last.pt \\
        --zoom 0.9 [--out bench/results/variants.md]

Every variant is a real ``headpose-export`` (``--flip-average`` always) of each checkpoint alone
and of all of them averaged in one graph, with and without ``--input-zoom``; each ONNX file is
then scored by ``headpose-eval``'s own code on the validation split of ``--config`` (the
training pipeline's crops, resized whole, as the runtime does), plus the pose-network time per
face (batch 1, one thread). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from headpose.export.onnx_export import export_onnx
from headpose.pose_model import PoseModel
from headpose.training.config import load_config
from headpose.training.data.run_split import data_root, open_dataset, split_train_val
from headpose.training.engine import evaluate as E


def ms_per_face(model_path: Path, crops: list[np.ndarray]) -> float:
    """Median ms per face of the pose network (batch 1, one thread, preprocessing included)."""
    model = PoseModel(model_path, threads=1)
    times = []
    for crop in crops:
        t0 = time.perf_counter()
        model.predict_crops([crop])
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="training config whose val split to use")
    parser.add_argument("--checkpoints", nargs="+", type=Path, required=True)
    parser.add_argument("--zoom", type=float, default=0.9, help="the --input-zoom variant")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    cfg = load_config(args.config)
    full = open_dataset(cfg, cfg.data.kind, data_root(cfg, cfg.data.root, "data.root"))
    _, val_idx = split_train_val(cfg, full)
    val = full.view(val_idx, train=False)
    timing_crops = [  # RGB -> BGR, as headpose-eval does
        np.ascontiguousarray(np.asarray(val.load(i)[0])[:, :, ::-1])
        for i in range(min(50, len(val)))
    ]

    groups = [[c] for c in args.checkpoints]
    if len(args.checkpoints) > 1:
        groups.append(list(args.checkpoints))
    lines = [
        f"Command: `python bench/variants.py --config {args.config} --checkpoints "
        + " ".join(str(c) for c in args.checkpoints)
        + f" --zoom {args.zoom:g}`  ",
        f"Images: validation split of `{args.config}` ({len(val_idx)} crops, never trained on).",
        "",
        "| networks (all with --flip-average) | --input-zoom | n | yaw | pitch | roll | mean "
        "| ms / face |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for group in groups:
            for zoom in (1.0, args.zoom):
                out = Path(tmp) / f"variant_{len(lines)}.onnx"
                export_onnx(group, out, flip_average=True, input_zoom=zoom, verify_count=2)
                predict, _ = E.onnx_predictor(out)
                pred, target = E.predict_dataset(predict, val, batch_size=32)
                mae = E.score(pred, target).full
                names = " + ".join(c.parent.name for c in group)
                lines.append(
                    f"| {names} | {zoom:g} | {mae['n']} | {mae['yaw']:.2f} | "
                    f"{mae['pitch']:.2f} | {mae['roll']:.2f} | **{mae['mean']:.2f}** | "
                    f"{ms_per_face(out, timing_crops):.1f} |"
                )
                print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
