"""Choose a pooled model's members, weights and spread weight on training crops, out of fold.

    python bench/pool_select.py --faces bench/results/oof_lite0/fold0of3_faces.csv \\
        --faces bench/results/oof_lite0/fold1of3_faces.csv \\
        --faces bench/results/oof_lite0/fold2of3_faces.csv \\
        [--peers-dir ../shared/peers] [--out bench/results/pool_select.md]

``--faces``: a network's out-of-fold rows (``python -m headpose.export.calibrate --save-faces``
on each fold model's held-out fold, end to end; ``tools/calibrate_oof.sh`` writes them): every
training crop predicted by a model that never trained on it. The peers (:mod:`headpose.export.
peers`, trained on 300W-LP, never on these images) are run here on the same images, through
the same detector's box and each peer's own crop rule. Every candidate pool is scored by the
real pooling graph (:func:`headpose.export.pool.pool_graph`) on those rows; only faces with all
three angles labelled count. Validation is never read.

Chooses, in order: the members (equal weights; the lowest mean MAE), then whether a larger weight
for our network earns its place (5-fold cross-validation over the faces: the weight chosen on
4/5, scored on the rest, against equal weights), then the spread weight ``c`` (the largest mean
Spearman correlation between the pooled spread and the absolute error, per angle).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx

from headpose.detectors import get_detector
from headpose.export.calibrate import load_faces
from headpose.export.peers import PEERS, peer_graph
from headpose.export.pool import pool_graph
from headpose.pose_model import POOL_INPUTS, PoseModel
from headpose.runtime import import_onnxruntime
from headpose.training.data.detector_boxes import best_box
from headpose.training.engine.metrics import yaw_bands

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HEADPOSE_SHARED", REPO.parent / "shared"))
ANGLES = ("yaw", "pitch", "roll")
OURS = "ours"
WEIGHT_GRID = (1.0, 1.5, 2.0, 3.0)
SPREAD_GRID = (0.0, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
FOLDS = 5


def peer_rows(images: list[str], peers_dir: Path) -> dict[str, np.ndarray]:
    """Each peer's ``(N, 3)`` angles on ``images``, through the detector's box."""

    detector = get_detector("auto", threads=1)
    out: dict[str, list[np.ndarray]] = {name: [] for name in PEERS}
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for name in PEERS:
            path = Path(tmp) / f"{name}.onnx"
            onnx.save(peer_graph(name, peers_dir), str(path))
            models[name] = PoseModel(path, threads=1)
        for image_path in images:
            image = cv2.imread(image_path, cv2.IMREAD_COLOR)
            box = best_box(detector, image)
            if box is None:  # the rows came from the same detector: not expected
                raise SystemExit(f"{image_path}: the detector found no face")
            for name, model in models.items():
                out[name].append(model.predict_boxes(image, [box])[0][0])
    return {name: np.stack(rows) for name, rows in out.items()}


class Pooler:
    """Runs the pooling graph of :mod:`headpose.export.pool` on stacked member outputs."""

    def __init__(self) -> None:

        self.ort = import_onnxruntime()
        self.cache: dict[tuple[int, tuple[float, ...], float], object] = {}

    def __call__(
        self, angles: np.ndarray, spread: np.ndarray, weights: tuple[float, ...], c: float
    ) -> tuple[np.ndarray, np.ndarray]:

        key = (angles.shape[1], weights, c)
        if key not in self.cache:
            model = pool_graph(angles.shape[1], angles.shape[2], weights, c)
            self.cache[key] = self.ort.InferenceSession(
                model.SerializeToString(), providers=["CPUExecutionProvider"]
            )
        feeds = dict(
            zip(POOL_INPUTS, (angles.astype(np.float32), spread.astype(np.float32)), strict=True)
        )
        a, s = self.cache[key].run(None, feeds)  # type: ignore[attr-defined]
        return np.asarray(a, np.float64), np.asarray(s, np.float64)


def mae(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-angle MAE ``(3,)`` (rows have all three labels)."""
    return np.abs(pred - labels).mean(axis=0)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def band_table(preds: dict[str, np.ndarray], labels: np.ndarray) -> list[str]:

    bands = list(yaw_bands(labels[:, 0]))
    lines = [
        "| model | " + " | ".join(f"\\|yaw\\| {b} (n={int(m.sum())})" for b, m in bands) + " |",
        "| --- |" + " ---: |" * len(bands),
    ]
    for name, pred in preds.items():
        cells = [f"{mae(pred[m], labels[m]).mean():.2f}" for _, m in bands]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--faces", action="append", required=True, help="out-of-fold rows CSV")
    parser.add_argument("--peers-dir", type=Path, default=SHARED / "peers")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/pool_select.md")
    args = parser.parse_args(argv)

    faces = load_faces(args.faces, ANGLES)
    full = np.isfinite(faces.labels).all(axis=1)
    labels = faces.labels[full]
    images = [im for im, keep in zip(faces.images, full, strict=True) if keep]
    outputs = {OURS: (faces.pred[full], faces.spread[full])}
    for name, pred in peer_rows(images, args.peers_dir).items():
        outputs[name] = (pred, np.zeros_like(pred))
    names = list(outputs)
    pool = Pooler()

    def pooled(members: tuple[str, ...], weights: tuple[float, ...], c: float, rows=slice(None)):
        a = np.stack([outputs[m][0][rows] for m in members], axis=1)
        s = np.stack([outputs[m][1][rows] for m in members], axis=1)
        return pool(a, s, weights, c)

    lines = [
        "# Pool selection: members, weights and spread weight, out of fold on training crops",
        "",
        f"Command: `python bench/pool_select.py {' '.join('--faces ' + f for f in args.faces)}`",
        "",
        f"{len(labels)} training crops with all three angles (of {len(faces.labels)} rows), end to "
        "end (YuNet box; each member's own crop rule). `ours`: the out-of-fold predictions of our "
        "network (each crop by the fold model that never trained on it); peers: trained on "
        "300W-LP, never on these images. Validation is not read here.",
        "",
        "## Members (equal weights)",
        "",
        "| members | yaw | pitch | roll | mean |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    scores = {}
    for k in range(1, len(names) + 1):
        for members in itertools.combinations(names, k):
            pred = pooled(members, (1.0,) * k, 0.0)[0]
            scores[members] = mae(pred, labels)
    for members, m in sorted(scores.items(), key=lambda kv: kv[1].mean()):
        lines.append(
            f"| {' + '.join(members)} | "
            + " | ".join(f"{v:.2f}" for v in m)
            + f" | {m.mean():.2f} |"
        )
    best = min(scores, key=lambda key: scores[key].mean())
    lines += ["", f"Chosen members: **{' + '.join(best)}** ({scores[best].mean():.2f})."]

    weights = (1.0,) * len(best)
    if OURS in best and len(best) > 1:
        i = best.index(OURS)
        grid = [tuple(w if j == i else 1.0 for j in range(len(best))) for w in WEIGHT_GRID]
        folds = np.arange(len(labels)) % FOLDS
        rng = np.random.default_rng(0)
        rng.shuffle(folds)
        cv_chosen, cv_equal = [], []
        for f in range(FOLDS):
            train, test = folds != f, folds == f
            pick = min(
                grid, key=lambda w: mae(pooled(best, w, 0.0, train)[0], labels[train]).mean()
            )
            cv_chosen.append(np.abs(pooled(best, pick, 0.0, test)[0] - labels[test]).mean(axis=1))
            cv_equal.append(np.abs(pooled(best, grid[0], 0.0, test)[0] - labels[test]).mean(axis=1))
        diff = np.concatenate(cv_equal) - np.concatenate(cv_chosen)
        half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
        whole = {w: mae(pooled(best, w, 0.0)[0], labels).mean() for w in grid}
        earns = diff.mean() - half > 0
        if earns:
            weights = min(whole, key=whole.__getitem__)
        lines += [
            "",
            "## Our network's weight",
            "",
            "| weight of ours | mean MAE (all rows) |",
            "| ---: | ---: |",
            *(f"| {w[i]:g} | {v:.3f} |" for w, v in whole.items()),
            "",
            f"{FOLDS}-fold cross-validation over the faces (the weight chosen on 4/5, scored on the "
            f"rest): equal weights minus chosen = {diff.mean():+.3f}° [{diff.mean() - half:+.3f}, "
            f"{diff.mean() + half:+.3f}] per face. "
            + ("The larger weight earns its place." if earns else "Equal weights are kept."),
        ]

    pred, _ = pooled(best, weights, 0.0)
    err = np.abs(pred - labels)
    corr = {}
    for c in SPREAD_GRID:
        spread = pooled(best, weights, c)[1]
        corr[c] = [spearman(spread[:, j], err[:, j]) for j in range(3)]
    c_best = max(corr, key=lambda c: np.mean(corr[c]))
    lines += [
        "",
        "## Spread weight c (how much our network's own spread counts beside the disagreement)",
        "",
        "| c | Spearman(spread, \\|error\\|) yaw | pitch | roll | mean |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {c:g} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {np.mean(vals):.3f} |"
            for c, vals in corr.items()
        ),
        "",
        f"Chosen: c = **{c_best:g}**.",
        "",
        "## By true |yaw| (mean MAE of the three angles)",
        "",
        *band_table(
            {
                "pool (chosen)": pred,
                **{n: outputs[n][0] for n in names},
            },
            labels,
        ),
        "",
        "Build it: `python -m headpose.export.pool -o OUT.onnx "
        + " ".join("MEMBER" if m == OURS else f"peer:{m}" for m in best)
        + f" --weights {','.join(f'{w:g}' for w in weights)} --spread-weight {c_best:g} "
        "--peers-dir ../shared/peers`",
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
