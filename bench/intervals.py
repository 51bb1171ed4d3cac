"""Calibrated 90% intervals end to end: coverage and width, and for a pooled model by how much
its members agree.

    python bench/intervals.py [--model default] [--config default/hmtl_lite0_128_clean]
                              [--split val] [--out bench/results/intervals.md]

Each face of the split (AFLW2000 crops from ../shared) goes through the runtime detector's box
and the model's crop rule(s). For every angle: the share of labelled faces whose true angle lies
inside ``prediction +- interval90`` and the mean half-width. A pooled model's faces are also split
at the median of the members' disagreement (the standard deviation of their predictions, mean
over the angles): where they agree the intervals should be tighter and still hold.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from headpose.detectors import get_detector
from headpose.estimator import resolve_model_path
from headpose.pose_model import PoseModel
from headpose.training.config import load_config
from headpose.training.data.detector_boxes import best_box
from headpose.training.data.run_split import split_images

REPO = Path(__file__).resolve().parents[1]
ANGLES = ("yaw", "pitch", "roll")


def rows(
    label: str, pred: np.ndarray, half: np.ndarray, target: np.ndarray, sel: np.ndarray
) -> list[str]:
    out = []
    for j, name in enumerate(ANGLES):
        known = sel & np.isfinite(target[:, j])
        inside = np.abs(pred[known, j] - target[known, j]) <= half[known, j]
        out.append(
            f"| {label} | {name} | {int(known.sum())} | {100 * inside.mean():.1f}% | "
            f"{half[known, j].mean():.2f} | {np.abs(pred[known, j] - target[known, j]).mean():.2f} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--config", default="default/hmtl_lite0_128_clean")
    parser.add_argument("--split", choices=("val", "tune"), default="val")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/intervals.md")
    args = parser.parse_args(argv)

    model = PoseModel(resolve_model_path(args.model), threads=1)
    if not model.calibrated:
        raise SystemExit(f"error: {model.path}: not calibrated (no interval90)")
    paths, target = split_images(load_config(args.config), args.split)
    detector = get_detector("auto", threads=1)
    preds, halves, spread_of_members, kept = [], [], [], []
    for i, path in enumerate(paths):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        box = best_box(detector, image)
        if box is None:
            continue
        if model.members:  # each member once: its answer, then the pool's from them
            answers = [m.predict_boxes(image, [box]) for m in model.members]
            angles, spread = model.pool_answers(answers)
            each = np.stack([a[0][0] for a in answers])
            spread_of_members.append(float(each.std(axis=0).mean()))
        else:
            angles, spread = model.predict_boxes(image, [box])
        calibrated = model.calibrate(spread)
        assert calibrated is not None
        preds.append(model.to_yaw_pitch_roll(angles)[0])
        halves.append(model.to_yaw_pitch_roll(calibrated[1])[0])
        kept.append(i)
    pred, half, tgt = np.array(preds), np.array(halves), target[kept]
    everyone = np.ones(len(kept), dtype=bool)
    lines = [
        "# Calibrated 90% intervals, end to end",
        "",
        f"Command: `python bench/intervals.py --model {args.model} --config {args.config} "
        f"--split {args.split}`  ",
        f"Model: `{model.path.name}`; {len(kept)} of {len(paths)} faces found by the detector.",
        "",
        "| faces | angle | n | inside the 90% interval | mean half-width (deg) | MAE |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        *rows("all", pred, half, tgt, everyone),
    ]
    if spread_of_members:
        agree = np.array(spread_of_members)
        low = agree <= np.median(agree)
        lines += [
            *rows("members agree (lower half)", pred, half, tgt, low),
            *rows("members disagree (upper half)", pred, half, tgt, ~low),
            "",
            f"Members' disagreement (std of their predictions, mean over angles): median "
            f"{np.median(agree):.2f} deg.",
        ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
