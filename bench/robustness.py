"""Robustness, side by side: a headpose ONNX model vs FSA-Net under the same perturbations.

    python bench/robustness.py [--model M.onnx] [--config default/hmtl_lite0_128_clean]
                               [--seed 0] [--limit N] [--out FILE.md]

Images: the validation split of ``--config`` (the 278 AFLW2000 crops ``bench/accuracy.py``
uses, loaded by the same code), never trained on. The config's data file must exist (for the
default configs ``runs/aflw2000-crops-yunet.csv``: step 1 of ``tools/reproduce_default_model.sh``). Rows (perturbations in ``bench/perturbations.py``):

* given crops: the whole loose crop is the input (resized);
* end to end with YuNet / BlazeFace: the runtime detector's box (the face nearest the centre),
  then each method's own crop rule (headpose: the rule in the model's metadata, as
  ``Estimator(detector=...)`` does; FSA-Net: 1.5x the box, as in ``bench/accuracy.py``);
* box jitter +-4% / +-8%: the YuNet box moved by up to that fraction of its longer side in x and
  y and scaled by up to 1 + that fraction either way (the training toolkit's ``BoxJitter``;
  4 seeded draws per face, the same boxes for both methods), then cropped;
* blur sigma 3 px, JPEG quality 15, dark (pixels x 0.35): applied to the given crops;
* small face: the given crop shrunk so the YuNet box is 48 px tall/wide (its longer side);
* in-plane rotation +-30 / +-45 deg: every given crop with all three labels turned both ways
  about its centre, label updated exactly (``R' = Rz(theta) R``, theta clockwise on screen);
* MAE by true |yaw| band on the given crops, and the mean |predicted yaw| in the 75-99 band.

Rows from the detector's box use only images where YuNet (or BlazeFace) finds a face (n says how
many). One onnxruntime thread per network; everything is seeded, so a rerun gives the same table.
Writes ``--out`` (Markdown, with the command and the model's sha256) and prints it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from accuracy import ANGLES, SHARED, fsanet_method
from fetch_clips import sha256_of
from perturbations import darken, gaussian_blur, jitter_box, jpeg, rotate, shrink_face

from headpose.detectors import get_detector
from headpose.metadata import CropRule
from headpose.pose_model import PoseModel
from headpose.preprocess import crop_face
from headpose.training.config import load_config
from headpose.training.data.detector_boxes import best_box
from headpose.training.engine.data_setup import sample_seed, split_images
from headpose.training.engine.metrics import YAW_BANDS, mae_per_angle

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "headpose/models/headpose_default.onnx"
BATCH = 16
JITTER_DRAWS = 4  # jittered boxes per face: averages out the luck of a single draw

BatchPredict = Callable[[list[np.ndarray]], np.ndarray]  # BGR crops -> (N, 3) yaw, pitch, roll


class Method:
    """A pose method: batched prediction, its crop rule and its crop size for box-based rows."""

    def __init__(self, name: str, predict: BatchPredict, rule: CropRule, size: tuple[int, int]):
        self.name, self.predict, self.rule, self.size = name, predict, rule, size


def headpose(model_path: Path) -> Method:
    model = PoseModel(model_path, threads=1)

    def predict(crops: list[np.ndarray]) -> np.ndarray:
        out = [
            model.to_yaw_pitch_roll(model.predict_crops(crops[i : i + BATCH])[0])
            for i in range(0, len(crops), BATCH)
        ]
        return np.concatenate(out) if out else np.zeros((0, 3))

    return Method(f"headpose ({model_path.name})", predict, model.meta.crop, model.input_size)


def fsanet() -> Method:
    one, rule = fsanet_method(SHARED / "peers")  # 64x64 BGR input, the bench/accuracy.py recipe

    def predict(crops: list[np.ndarray]) -> np.ndarray:
        return np.array([one(c) for c in crops], dtype=np.float64).reshape(-1, 3)

    return Method("FSA-Net (2-model average)", predict, rule, (64, 64))


# A row: (name, method -> crops, targets (N, 3)); crops made per method when they depend on its
# crop rule, else shared.
Row = tuple[str, Callable[[Method], tuple[list[np.ndarray], np.ndarray]]]


def build_rows(
    images: list[np.ndarray],
    target: np.ndarray,
    boxes: dict[str, list[tuple[float, ...] | None]],
    seed: int,
    draws: int = JITTER_DRAWS,
) -> list[Row]:
    """The benchmark's conditions, in table order (see the module docstring); ``draws`` jittered
    boxes per face in the jitter rows."""
    n = len(images)

    def given(transform: Callable[[np.ndarray], np.ndarray]) -> Callable[[Method], tuple]:
        cache: list = []

        def make(_: Method) -> tuple[list[np.ndarray], np.ndarray]:
            if not cache:
                cache.append(([transform(im) for im in images], target))
            return cache[0]

        return make

    def boxed(pairs: list[tuple[int, Sequence[float]]]) -> Callable[[Method], tuple]:
        """Crops of (image index, box) pairs under each method's own crop rule."""
        idx = [i for i, _ in pairs]

        def make(m: Method) -> tuple[list[np.ndarray], np.ndarray]:
            crops = [crop_face(images[i], box, m.rule, m.size) for i, box in pairs]
            return crops, target[idx]

        return make

    def found(name: str) -> list[tuple[int, Sequence[float]]]:
        return [(i, b) for i, b in enumerate(boxes[name]) if b is not None]

    def jittered(fraction: float, row: int) -> list[tuple[int, Sequence[float]]]:
        return [
            (i, jitter_box(box, fraction, sample_seed(seed, row, i, k)))
            for i, box in found("yunet")
            for k in range(draws)
        ]

    def small(_: Method) -> tuple[list[np.ndarray], np.ndarray]:
        idx = [i for i in range(n) if boxes["yunet"][i] is not None]
        side = [max(b[2] - b[0], b[3] - b[1]) for b in (boxes["yunet"][i] for i in idx)]
        crops = [shrink_face(images[i], s, 48.0) for i, s in zip(idx, side, strict=True)]
        return crops, target[idx]

    def rotated(theta: float) -> Callable[[Method], tuple]:
        cache: list = []

        def make(_: Method) -> tuple[list[np.ndarray], np.ndarray]:
            if not cache:
                crops, labels = [], []
                for i in np.flatnonzero(np.isfinite(target).all(axis=1)):
                    for t in (theta, -theta):
                        img, lab = rotate(images[i], target[i], t)
                        crops.append(img)
                        labels.append(lab)
                cache.append((crops, np.array(labels).reshape(-1, 3)))
            return cache[0]

        return make

    return [
        ("given crops", given(lambda im: im)),
        ("end to end, YuNet box + crop rule", boxed(found("yunet"))),
        ("end to end, BlazeFace box (default box_style) + crop rule", boxed(found("blazeface"))),
        ("YuNet box jittered ±4% (shift, scale)", boxed(jittered(0.04, 4))),
        ("YuNet box jittered ±8% (shift, scale)", boxed(jittered(0.08, 8))),
        ("blur σ 3 px", given(lambda im: gaussian_blur(im, 3.0))),
        ("JPEG quality 15", given(lambda im: jpeg(im, 15))),
        ("dark ×0.35", given(lambda im: darken(im, 0.35))),
        ("small face (48 px)", small),
        ("in-plane rotation ±30° (exact labels)", rotated(30.0)),
        ("in-plane rotation ±45° (exact labels)", rotated(45.0)),
    ]


def fmt(mae: dict[str, float]) -> str:
    return " | ".join(f"{mae[a]:.2f}" for a in ANGLES) + f" | **{mae['mean']:.2f}**"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="headpose ONNX pose model")
    parser.add_argument("--config", default="default/hmtl_lite0_128_clean", help="whose val split")
    parser.add_argument("--seed", type=int, default=0, help="seed of the box jitter")
    parser.add_argument("--limit", type=int, default=0, help="first N validation images only")
    parser.add_argument("--out", default=str(REPO / "bench/results/robustness.md"))
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    model_path = Path(args.model)

    paths, target = split_images(load_config(args.config), "val")
    if args.limit:
        paths, target = paths[: args.limit], target[: args.limit]
    images = [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths]
    unreadable = [p for p, im in zip(paths, images, strict=True) if im is None]
    if unreadable:
        raise SystemExit(f"error: unreadable image(s): {unreadable[:3]}")
    boxes = {}
    for name in ("yunet", "blazeface"):
        detector = get_detector(name, threads=1)
        boxes[name] = [best_box(detector, im) for im in images]

    methods = [headpose(model_path), fsanet()]
    rows = build_rows(images, target, boxes, args.seed)
    results: list[tuple[str, list[dict[str, float]]]] = []
    given_preds: dict[str, np.ndarray] = {}
    for name, make in rows:
        maes = []
        for m in methods:
            crops, tgt = make(m)
            pred = m.predict(crops)
            maes.append(mae_per_angle(pred, tgt, ANGLES))
            if name == "given crops":
                given_preds[m.name] = pred
        results.append((name, maes))
        print(f"{name}: " + "; ".join(f"{r['mean']:.2f}" for r in maes), file=sys.stderr)

    cmd = "python bench/robustness.py" + "".join(
        f" {flag} {value}"
        for flag, value, default in (
            ("--model", args.model, str(DEFAULT_MODEL)),
            ("--config", args.config, "default/hmtl_lite0_128_clean"),
            ("--seed", args.seed, 0),
            ("--limit", args.limit, 0),
        )
        if value != default
    )
    found = {k: sum(b is not None for b in v) for k, v in boxes.items()}
    h_name, f_name = methods[0].name, methods[1].name
    lines = [
        "# Robustness, side by side",
        "",
        f"Command: `{cmd}`  ",
        f"Model: `{model_path.name}`, sha256 `{sha256_of(model_path)}`  ",
        f"Run: {dt.datetime.now().isoformat(timespec='minutes')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, one onnxruntime "
        f"thread per network, seed {args.seed}, {time.perf_counter() - t_start:.0f} s.  ",
        f"Images: validation split of `{args.config}` ({len(paths)} AFLW2000 crops from "
        f"../shared, never trained on; {int(np.isnan(target[:, 1]).sum())} have yaw only). "
        f"YuNet found a face in {found['yunet']}, BlazeFace in {found['blazeface']}; rows built "
        f"on a detector box use those; jitter rows: {JITTER_DRAWS} jittered boxes per face. "
        "Rotation rows: each crop with all three labels, turned both ways. Conditions and their "
        "code: `bench/robustness.py`, `bench/perturbations.py`.",
        "",
        f"MAE in degrees. Left: {h_name}; right: {f_name}. Δ: mean minus the given-crops mean.",
        "",
        "| condition | n | yaw | pitch | roll | mean | Δ | FSA yaw | FSA pitch | FSA roll | "
        "FSA mean | FSA Δ |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = results[0][1]
    for name, (h, f) in results:
        lines.append(
            f"| {name} | {h['n']} | {fmt(h)} | {h['mean'] - base[0]['mean']:+.2f} | {fmt(f)} | "
            f"{f['mean'] - base[1]['mean']:+.2f} |"
        )

    true_yaw = np.abs(target[:, 0])
    lines += [
        "",
        "By true |yaw| (given crops; bands in degrees, lower bound included):",
        "",
        "| true \\|yaw\\| | n | yaw | pitch | roll | mean | FSA yaw | FSA pitch | FSA roll | FSA mean |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for lo, hi in YAW_BANDS:
        sel = (true_yaw >= lo) & (true_yaw < hi)
        if not sel.any():
            continue
        h = mae_per_angle(given_preds[h_name][sel], target[sel], ANGLES)
        f = mae_per_angle(given_preds[f_name][sel], target[sel], ANGLES)
        lines.append(f"| {lo:.0f}–{hi:.0f} | {h['n']} | {fmt(h)} | {fmt(f)} |")
    outside = int((true_yaw >= YAW_BANDS[-1][1]).sum())
    lo, hi = YAW_BANDS[-1]
    profile = (true_yaw >= lo) & (true_yaw < hi)
    if profile.any():
        lines += [
            "",
            f"True |yaw| in {lo:.0f}–{hi:.0f}° ({int(profile.sum())} faces, mean true |yaw| "
            f"{true_yaw[profile].mean():.1f}°): mean |predicted yaw| "
            f"{np.abs(given_preds[h_name][profile, 0]).mean():.1f}° (headpose), "
            f"{np.abs(given_preds[f_name][profile, 0]).mean():.1f}° (FSA-Net).",
        ]
    if outside:
        lines.append(f"{outside} image(s) with true |yaw| ≥ 99° are in no band.")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
