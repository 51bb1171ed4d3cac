"""Robustness, side by side: headpose models vs the three public peers under the same perturbations.

    python bench/robustness.py [--model default --model fast] [--config default/hmtl_lite0_128_clean]
                               [--split val] [--seed 0] [--limit N] [--out FILE.md]

Images: the validation split of ``--config`` (the 278 AFLW2000 crops ``bench/accuracy.py``
uses, loaded by the same code), never trained on (``--split tune``: its tuning split, for
choices). The config's data file must exist (for the default configs
``runs/aflw2000-crops-yunet.csv``: step 1 of ``tools/reproduce_default_model.sh``). Methods:
each ``--model`` (a shipped name or an ``.onnx`` file; a pooled model runs each member on its own
crop) and the peers FSA-Net, Shaw b66 and 3DDFA_V2 (``headpose.export.peers``: each with its own
input and crop rule, run through the same :class:`~headpose.pose_model.PoseModel` code). Rows
(perturbations in ``bench/perturbations.py``):

* given crops: the whole loose crop is the input (resized);
* end to end with YuNet / BlazeFace: the runtime detector's box (the face nearest the centre),
  then each method's own crop rule (``PoseModel.predict_boxes``, as ``Estimator`` does);
* box jitter +-4% / +-8% / +-15%: the YuNet box moved by up to that fraction of its longer side
  in x and y and scaled by up to 1 + that fraction either way (the training toolkit's
  ``BoxJitter``; 4 seeded draws per face, the same boxes for every method), then cropped;
* blur sigma 3 px, JPEG quality 15, dark (pixels x 0.35): applied to the given crops;
* small face: the given crop shrunk so the YuNet box is 48 px tall/wide (its longer side);
* in-plane rotation +-30 / +-45 deg: every given crop with all three labels turned both ways
  about its centre, label updated exactly (``R' = Rz(theta) R``, theta clockwise on screen);
* MAE by true |yaw| band, end to end (YuNet box), and the mean |predicted yaw| in the 75-99 band.

Rows from the detector's box use only images where YuNet (or BlazeFace) finds a face (n says how
many). One onnxruntime thread per network; everything is seeded, so a rerun gives the same table.
Writes ``--out`` (Markdown, with the command and the models' sha256) and prints it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from accuracy import ANGLES, SHARED
from fetch_clips import sha256_of
from perturbations import darken, gaussian_blur, jitter_box, jpeg, rotate, shrink_face

from headpose.detectors import get_detector
from headpose.estimator import resolve_model_path
from headpose.pose_model import PoseModel
from headpose.training.config import load_config
from headpose.training.data.detector_boxes import best_box
from headpose.training.data.run_split import split_images
from headpose.training.engine.data_setup import sample_seed
from headpose.training.engine.metrics import YAW_BANDS, mae_per_angle

REPO = Path(__file__).resolve().parents[1]
BATCH = 16
JITTER_DRAWS = 4  # jittered boxes per face: averages out the luck of a single draw
PEER_NAMES = {"fsanet": "FSA-Net", "shaw-b66": "Shaw b66", "3ddfa-v2-mb05": "3DDFA_V2"}

#: a model's input: a BGR crop (used whole), or (BGR image, face box) cropped by the model's rule
Sample = np.ndarray | tuple[np.ndarray, Sequence[float]]


class Method:
    """A pose method: a name and a model with ``predict_crops``, ``predict_boxes`` and
    ``to_yaw_pitch_roll`` (:class:`PoseModel`)."""

    def __init__(self, name: str, model: Any):
        self.name, self.model = name, model

    def predict(self, samples: Sequence[Sample]) -> np.ndarray:
        """``(N, 3)`` yaw, pitch, roll for crops (batched) or (image, box) pairs."""
        out = []
        crops = [x for x in samples if not isinstance(x, tuple)]
        if crops and len(crops) == len(samples):
            for i in range(0, len(crops), BATCH):
                out.append(self.model.predict_crops(crops[i : i + BATCH])[0])
        else:
            for image, box in samples:  # type: ignore[misc]
                out.append(self.model.predict_boxes(image, [box])[0])
        angles = np.concatenate(out) if out else np.zeros((0, 3))
        return self.model.to_yaw_pitch_roll(angles)


def peer_methods(folder: Path) -> list[Method]:
    """The three peers as models (written into ``folder``)."""
    import onnx

    from headpose.export.peers import peer_graph

    methods = []
    for key, name in PEER_NAMES.items():
        path = folder / f"{key}.onnx"
        onnx.save(peer_graph(key, SHARED / "peers"), str(path))
        methods.append(Method(name, PoseModel(path, threads=1)))
    return methods


# A row: (name, method -> samples, targets (N, 3))
Row = tuple[str, Callable[[Method], tuple[list[Sample], np.ndarray]]]


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
        """(image, box) pairs: each method crops them by its own rule."""
        idx = [i for i, _ in pairs]

        def make(_: Method) -> tuple[list[Sample], np.ndarray]:
            return [(images[i], box) for i, box in pairs], target[idx]

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
        ("YuNet box jittered ±15% (shift, scale)", boxed(jittered(0.15, 15))),
        ("blur σ 3 px", given(lambda im: gaussian_blur(im, 3.0))),
        ("JPEG quality 15", given(lambda im: jpeg(im, 15))),
        ("dark ×0.35", given(lambda im: darken(im, 0.35))),
        ("small face (48 px)", small),
        ("in-plane rotation ±30° (exact labels)", rotated(30.0)),
        ("in-plane rotation ±45° (exact labels)", rotated(45.0)),
    ]


E2E = "end to end, YuNet box + crop rule"


def fmt(mae: dict[str, float]) -> str:
    return " | ".join(f"{mae[a]:.2f}" for a in ANGLES) + f" | **{mae['mean']:.2f}**"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        help="headpose model: a shipped name or an .onnx file; repeatable (default: default, fast)",
    )
    parser.add_argument("--config", default="default/hmtl_lite0_128_clean", help="whose split")
    parser.add_argument("--split", choices=("val", "tune"), default="val")
    parser.add_argument("--seed", type=int, default=0, help="seed of the box jitter")
    parser.add_argument("--limit", type=int, default=0, help="first N images only")
    parser.add_argument("--out", default=str(REPO / "bench/results/robustness.md"))
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    models = args.model or ["default", "fast"]

    paths, target = split_images(load_config(args.config), args.split)
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

    tmp = tempfile.TemporaryDirectory()
    model_paths = [resolve_model_path(m) for m in models]
    methods = [
        Method(f"{m} ({p.name})" if m != p.name else m, PoseModel(p, threads=1))
        for m, p in zip(models, model_paths, strict=True)
    ] + peer_methods(Path(tmp.name))
    rows = build_rows(images, target, boxes, args.seed)
    results: list[tuple[str, list[dict[str, float]]]] = []
    e2e_preds: dict[str, np.ndarray] = {}
    e2e_target = target
    for name, make in rows:
        maes = []
        for m in methods:
            samples, tgt = make(m)
            pred = m.predict(samples)
            maes.append(mae_per_angle(pred, tgt, ANGLES))
            if name == E2E:
                e2e_preds[m.name], e2e_target = pred, tgt
        results.append((name, maes))
        print(f"{name}: " + "; ".join(f"{r['mean']:.2f}" for r in maes), file=sys.stderr)
    tmp.cleanup()

    cmd = (
        "python bench/robustness.py"
        + "".join(f" --model {m}" for m in args.model or [])
        + "".join(
            f" {flag} {value}"
            for flag, value, default in (
                ("--config", args.config, "default/hmtl_lite0_128_clean"),
                ("--split", args.split, "val"),
                ("--seed", args.seed, 0),
                ("--limit", args.limit, 0),
            )
            if value != default
        )
    )
    found = {k: sum(b is not None for b in v) for k, v in boxes.items()}
    names = [m.name for m in methods]
    full = np.isfinite(target).all(axis=1)
    lines = [
        "# Robustness, side by side",
        "",
        f"Command: `{cmd}`  ",
        *(f"Model `{p.name}`: sha256 `{sha256_of(p)}`  " for p in model_paths),
        f"Run: {dt.datetime.now().isoformat(timespec='minutes')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, one onnxruntime "
        f"thread per network, seed {args.seed}, {time.perf_counter() - t_start:.0f} s.  ",
        f"Images: {args.split} split of `{args.config}` ({len(paths)} AFLW2000 crops from "
        f"../shared; {int(full.sum())} with all three angles, the rest yaw only). "
        f"YuNet found a face in {found['yunet']}, BlazeFace in {found['blazeface']}; rows built "
        f"on a detector box use those; jitter rows: {JITTER_DRAWS} jittered boxes per face. "
        "Rotation rows: each crop with all three labels, turned both ways. Conditions and their "
        "code: `bench/robustness.py`, `bench/perturbations.py`. Peers: MIT, trained on 300W-LP, "
        "each with its own input and crop rule (`headpose/export/peers.py`).",
        "",
        "Mean MAE in degrees (of yaw, pitch, roll); Δ: minus the end-to-end (YuNet) mean.",
        "",
        "| condition | n | " + " | ".join(names) + " |",
        "| --- | ---: |" + " ---: |" * len(names),
    ]
    base = dict(results)[E2E]
    for name, maes in results:
        cells = [
            f"{r['mean']:.2f}" + ("" if name == E2E else f" ({r['mean'] - b['mean']:+.2f})")
            for r, b in zip(maes, base, strict=True)
        ]
        lines.append(f"| {name} | {maes[0]['n']} | " + " | ".join(cells) + " |")

    lines += [
        "",
        "End to end (YuNet box), per angle, all rows and the rows with all three angles:",
        "",
        "| method | n | yaw | pitch | roll | mean | mean, all three labelled |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    e2e_full = np.isfinite(e2e_target).all(axis=1)
    for m in names:
        r = mae_per_angle(e2e_preds[m], e2e_target, ANGLES)
        f = mae_per_angle(e2e_preds[m][e2e_full], e2e_target[e2e_full], ANGLES)
        lines.append(f"| {m} | {r['n']} | {fmt(r)} | {f['mean']:.2f} (n={f['n']}) |")

    true_yaw = np.abs(e2e_target[:, 0])
    lines += [
        "",
        "By true |yaw|, end to end (YuNet box), mean MAE; bands in degrees, lower bound included:",
        "",
        "| true \\|yaw\\| | n | " + " | ".join(names) + " |",
        "| --- | ---: |" + " ---: |" * len(names),
    ]
    for lo, hi in YAW_BANDS:
        sel = (true_yaw >= lo) & (true_yaw < hi)
        if not sel.any():
            continue
        cells = [
            f"{mae_per_angle(e2e_preds[m][sel], e2e_target[sel], ANGLES)['mean']:.2f}"
            for m in names
        ]
        lines.append(f"| {lo:.0f}–{hi:.0f} | {int(sel.sum())} | " + " | ".join(cells) + " |")
    lo, hi = YAW_BANDS[-1]
    profile = (true_yaw >= lo) & (true_yaw < hi)
    if profile.any():
        shown = ", ".join(f"{m} {np.abs(e2e_preds[m][profile, 0]).mean():.1f}°" for m in names)
        lines += [
            "",
            f"True |yaw| in {lo:.0f}–{hi:.0f}° ({int(profile.sum())} faces, mean true |yaw| "
            f"{true_yaw[profile].mean():.1f}°): mean |predicted yaw| {shown}.",
        ]
    outside = int((true_yaw >= YAW_BANDS[-1][1]).sum())
    if outside:
        lines.append(f"{outside} image(s) with true |yaw| ≥ 99° are in no band.")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
