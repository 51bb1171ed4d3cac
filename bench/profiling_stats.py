"""What a face-profiling dataset holds: counts by origin and box source, the label distribution
(yaw in bands, pitch and roll), the turns and the self-occlusion share, as Markdown; with
``--models``, the MAE by |yaw| band of the shipped models and FSA-Net on a seeded sample of it.

    python bench/profiling_stats.py OUT [--models 1000] [--write bench/results/profiling_pilot.md]

``OUT``: a folder written by ``python -m headpose.training.data.profile``. Each model crops the
row's box (x1..y2) with its own crop rule, as in ``bench/accuracy.py``. FSA-Net was trained on
300W-LP, made by 3DDFA's face profiling: its error at large yaw says whether these renders and
labels look like that data (a check of the sign, the geometry and the render, not of realism).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

BANDS = (0, 10, 20, 30, 40, 50, 60, 70, 80, 91)


def summarise(out: Path) -> str:
    """The Markdown summary of the dataset in ``out``."""
    with open(out / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return f"{out}: no rows\n"
    ypr = np.array([[float(r[a]) for a in ("yaw", "pitch", "roll")] for r in rows])
    delta = np.degrees(
        np.linalg.norm(np.radians([[float(r[f"delta_{a}"]) for a in "xyz"] for r in rows]), axis=1)
    )
    hidden = np.array([float(r["hidden"]) for r in rows])
    settings = json.loads((out / "profile.json").read_text(encoding="utf-8"))
    sources = {r["source"] for r in rows}
    lines = [
        f"# Face-profiling dataset `{out.name}`",
        "",
        f"{len(rows)} renders of {len(sources)} source faces; settings: "
        + ", ".join(f"{k}={v}" for k, v in settings.items() if k not in ("faces",)),
        "",
        "| origin | renders | sources | mirrored | box from YuNet |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for origin in sorted({r["origin"] for r in rows}):
        sel = [r for r in rows if r["origin"] == origin]
        lines.append(
            f"| {origin} | {len(sel)} | {len({r['source'] for r in sel})} | "
            f"{np.mean([r['mirrored'] == '1' for r in sel]):.0%} | "
            f"{np.mean([r['box_source'] == 'yunet' for r in sel]):.0%} |"
        )
    lines += ["", "Label |yaw| in bands (degrees):", "", "| band | renders | share |"]
    lines.append("| --- | ---: | ---: |")
    ay = np.abs(ypr[:, 0])
    for lo, hi in zip(BANDS[:-1], BANDS[1:], strict=True):
        n = int(((ay >= lo) & (ay < hi)).sum())
        lines.append(f"| {lo}-{min(hi, 90)} | {n} | {n / len(rows):.1%} |")
    pct = (5, 50, 95)
    lines += [
        "",
        f"yaw > 0: {np.mean(ypr[:, 0] > 0):.1%}; pitch percentiles {pct}: "
        f"{np.percentile(ypr[:, 1], pct).round(1).tolist()}; roll: "
        f"{np.percentile(ypr[:, 2], pct).round(1).tolist()}",
        f"turn angle |delta| percentiles {pct}: {np.percentile(delta, pct).round(1).tolist()}; "
        f"hidden share: {np.percentile(hidden, pct).round(3).tolist()}",
        "",
    ]
    return "\n".join(lines)


MODEL_BANDS = ((0, 30), (30, 60), (60, 75), (75, 91))


def model_errors(out: Path, count: int, seed: int = 0) -> str:
    """Markdown: MAE by |yaw| band of the shipped models and FSA-Net on ``count`` rows of ``out``
    drawn with ``seed``."""
    from accuracy import SHARED, fsanet_method, headpose_method

    from headpose.estimator import BUNDLED_MODELS, default_model_path
    from headpose.preprocess import crop_box, cut_region
    from headpose.training.engine.metrics import mae_per_angle

    with open(out / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    pick = np.sort(np.random.default_rng(seed).permutation(len(rows))[:count])
    rows = [rows[i] for i in pick]
    target = np.array([[float(r[a]) for a in ("yaw", "pitch", "roll")] for r in rows])
    models_dir = default_model_path().parent
    methods = {
        f"headpose {name}": headpose_method(models_dir / BUNDLED_MODELS[name])
        for name in ("default", "fast")
    }
    methods["FSA-Net (2-model average)"] = fsanet_method(SHARED / "peers")
    preds = {}
    for name, (predict, rule) in methods.items():
        out_rows = []
        for r in rows:
            image = cv2.imread(str(out / r["image"]))
            box = [float(r[c]) for c in ("x1", "y1", "x2", "y2")]
            out_rows.append(predict(cut_region(image, crop_box(box, rule))))
        preds[name] = np.array(out_rows, dtype=np.float64)
    ay = np.abs(target[:, 0])
    sels = [(ay >= lo) & (ay < hi) for lo, hi in MODEL_BANDS]
    angles = ("yaw", "pitch", "roll")
    lines = [
        f"MAE in degrees, mean of yaw, pitch, roll (yaw alone in brackets), by label |yaw|, on "
        f"{len(rows)} renders drawn with seed {seed}; each model crops the row's box with its "
        "own crop rule:",
        "",
        "| model | "
        + " | ".join(
            f"{lo}-{min(hi, 90)} (n={int(sel.sum())})"
            for (lo, hi), sel in zip(MODEL_BANDS, sels, strict=True)
        )
        + " | all |",
        "| --- |" + " ---: |" * (len(MODEL_BANDS) + 1),
    ]
    for name, p in preds.items():
        cells = []
        for sel in [*sels, np.ones(len(rows), dtype=bool)]:
            m = mae_per_angle(p[sel], target[sel], angles)
            cells.append(f"{m['mean']:.1f} ({m['yaw']:.1f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a profiling output folder")
    parser.add_argument("--models", type=int, default=0, help="rows for the models' MAE (0: none)")
    parser.add_argument("--write", type=Path, help="also write the Markdown here (new file only)")
    args = parser.parse_args(argv)
    text = summarise(args.out)
    if args.models:
        text += "\n" + model_errors(args.out, args.models)
    print(text)
    if args.write:
        if args.write.exists():
            print(f"error: {args.write} exists", file=sys.stderr)
            return 2
        args.write.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
