"""Calibrate a model's uncertainty: spread (degrees of the bin distribution) -> error in degrees.

Fit on labelled faces the model was NOT trained on (e.g. the config's tuning split, the
faces training leaves out for choices and calibration), write a new model file::

    python -m headpose.export.calibrate MODEL.onnx --data LABELLED_DIR -o OUT.onnx
    python -m headpose.export.calibrate MODEL.onnx --config CFG --split tune -o OUT.onnx

Check a calibrated model on other labelled faces (e.g. the validation split)::

    python -m headpose.export.calibrate --check OUT.onnx --config CFG --split val

The fit, per angle (see :class:`headpose.metadata.Calibration`): sort the faces by spread, cut
them into ``--bins`` groups of equal size, and fit a line through the groups' (mean spread,
mean |error|) points weighted by group size: expected |error| = intercept + slope * spread. A
negative slope becomes a constant (the mean |error|), a negative intercept a line through 0, so
the map is monotone and positive. The 90% interval half-width is ``q * expected error`` with
``q`` the 90% quantile of ``|error| / expected error`` over the fitted faces. Both are stored in
the ONNX metadata; the runtime then reports ``Face.uncertainty`` as the expected |error|.

Out-of-fold fitting (the model never saw the faces it is calibrated on): run each k-fold model
on its own held-out fold with ``--save-faces FOLD_i.csv`` (no ``-o``), then fit the final model
from all of them: ``... FINAL.onnx --faces FOLD_1.csv --faces FOLD_2.csv ... -o OUT.onnx``.
The fold models train on fewer faces than the final model and are less confident at the same
error; ``--faces-ref FOLD_i_TRAIN.csv`` (one per ``--faces``) with ``--model-ref FINAL_TRAIN.csv``
(each model's rows on its own training faces) rescales every fold's spreads by the ratio of the
two models' median training-face spreads before the fit.
Fitting from two or more ``--faces`` files also prints how the fit transfers between models
(:func:`transfer_check`: each file's faces against a fit on the other files), on those rows
alone, before any validation face is used.

Faces are the labelled images themselves (each resized whole, like ``predict_crops``), or with
``--detect`` the runtime's path: the default detector's box nearest the centre, cut with the
model's crop rule (images without a face are skipped and counted).
Exit codes: 0 done (``--check``: within tolerance); 1 ``--check`` outside tolerance; 2 bad input.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from headpose.cli.options import command, missing_extra
from headpose.detectors import get_detector
from headpose.errors import HeadPoseError, InvalidInputError, first_line
from headpose.files import atomic_write, check_output
from headpose.metadata import Calibration, ModelMetadata
from headpose.pose_model import ANGLE_ORDER, PoseModel
from headpose.training.data.detector_boxes import best_box

from .images import read_crop, read_labelled_folder
from .output_files import save_with_metadata

PROG = "python -m headpose.export.calibrate"
EXIT_OUTSIDE, EXIT_BAD_INPUT = 1, 2
BATCH = 16
MIN_FACES_PER_BIN = 5


@dataclass(frozen=True)
class Faces:
    """What calibration needs: labels, predictions and spreads ``(N, A)`` degrees (model angle
    order; NaN where a label is missing), plus where they came from."""

    labels: np.ndarray
    pred: np.ndarray
    spread: np.ndarray
    source: str
    skipped: int = 0
    images: tuple[str, ...] = ()

    @property
    def abs_error(self) -> np.ndarray:
        return np.abs(self.pred - self.labels)


def select_images(
    paths: Sequence[str | Path], labels: np.ndarray, limit: int | None, seed: int
) -> tuple[list[Path], np.ndarray]:
    """At most ``limit`` of the images, a seeded random subset (in their original order)."""
    paths = [Path(p) for p in paths]
    if limit is None or limit >= len(paths):
        return paths, labels
    if limit < 1:
        raise InvalidInputError(f"--limit: expected an integer >= 1, got {limit}")
    keep = np.sort(np.random.default_rng(seed).choice(len(paths), size=limit, replace=False))
    return [paths[i] for i in keep], labels[keep]


def load_labelled(
    data: str | Path | None,
    images: str | Path | None = None,
    config: str | None = None,
    split: str | None = None,
) -> tuple[list[Path], np.ndarray, str]:
    """Image paths, labels ``(N, 3)`` [yaw, pitch, roll] and a description, from a labelled
    folder (optionally only the names listed in ``images``, one per line, relative to the folder
    as in its ``labels.csv``) or from the ``split`` part of a training config's data split."""
    if (data is None) == (config is None):
        raise InvalidInputError(
            "give exactly one of --data DIR or --config CFG --split train|tune|val"
        )
    if config is not None:
        if split is None:
            raise InvalidInputError("--config needs --split train, tune or val")
        if images is not None:
            raise InvalidInputError("--images works with --data, not with --config")
        # pyyaml: optional, the [train] extra (only --config reads a training config)
        from headpose.training.config import ConfigError, load_config
        from headpose.training.data.run_split import split_images

        try:
            found, labels = split_images(load_config(config), split)
        except ConfigError as exc:
            raise InvalidInputError(str(exc)) from exc
        return [Path(p) for p in found], labels, f"{split} split of config {config}"
    if split is not None:
        raise InvalidInputError("--split works with --config, not with --data")
    labelled = read_labelled_folder(data)
    paths, labels = labelled.paths, labelled.labels
    source = f"labelled folder {data}"
    if images is not None:
        list_file = Path(images)
        if not list_file.is_file():
            raise InvalidInputError(f"--images: list file not found: {list_file}")
        wanted = [ln.strip() for ln in list_file.read_text(encoding="utf-8").splitlines()]
        wanted = [w for w in wanted if w and not w.startswith("#")]
        index = {p.resolve(): i for i, p in enumerate(paths)}
        rows = []
        for line, name in enumerate(wanted, start=1):
            i = index.get((Path(data) / name).resolve())
            if i is None:
                raise InvalidInputError(
                    f"{list_file} line {line}: {name!r} is not a row of {Path(data) / 'labels.csv'}"
                )
            rows.append(i)
        if not rows:
            raise InvalidInputError(f"{list_file}: no image names")
        paths, labels = [paths[i] for i in rows], labels[rows]
        source += f", images listed in {list_file}"
    return paths, labels, source


def run_model(
    model: PoseModel,
    paths: Sequence[Path],
    labels: np.ndarray,
    source: str,
    detect: bool = False,
) -> Faces:
    """Run ``model`` on the labelled images (whole, or the detector's crop with ``detect``)."""
    if not paths:
        raise InvalidInputError(f"{source}: no images")
    detector = None
    if detect:
        detector = get_detector("auto", threads=1)
    cols = [ANGLE_ORDER.index(a) for a in model.angle_names]
    preds, spreads, kept = [], [], []
    for start in range(0, len(paths), BATCH):
        crops = []
        for i in range(start, min(start + BATCH, len(paths))):
            image = read_crop(paths[i])
            if detector is None:
                crops.append(image)
                kept.append(i)
                continue
            box = best_box(detector, image)
            if box is None:
                continue
            # each model (a pooled model: each member) crops the box by its own rule
            angles, spread = model.predict_boxes(image, [box])
            preds.append(angles)
            spreads.append(spread)
            kept.append(i)
        if crops:
            angles, spread = model.predict_crops(crops)
            preds.append(angles)
            spreads.append(spread)
    if not kept:
        raise InvalidInputError(f"{source}: the detector found no face in any image")
    described = source + (" (detector crops)" if detect else " (whole images)")
    return Faces(
        labels=np.asarray(labels, dtype=np.float64)[kept][:, cols],
        pred=np.concatenate(preds),
        spread=np.concatenate(spreads),
        source=described,
        skipped=len(paths) - len(kept),
        images=tuple(str(paths[i]) for i in kept),
    )


def save_faces(
    faces: Faces,
    angles: Sequence[str],
    path: str | Path,
    overwrite: bool = False,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write one CSV row per face: ``image``, then ``label_A``, ``pred_A``, ``spread_A`` for each
    angle ``A`` (degrees; empty = missing label). Refuses to overwrite unless ``overwrite``, and
    to write an input (``inputs``) at all (:func:`headpose.files.check_output`)."""
    path = check_output(path, overwrite, inputs)
    header = ["image"] + [f"{k}_{a}" for a in angles for k in ("label", "pred", "spread")]
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    for i in range(len(faces.pred)):
        row = [faces.images[i] if faces.images else str(i)]
        for j in range(len(angles)):
            label = faces.labels[i, j]
            row += ["" if np.isnan(label) else f"{label:.4f}"]
            row += [f"{faces.pred[i, j]:.4f}", f"{faces.spread[i, j]:.4f}"]
        writer.writerow(row)
    return atomic_write(path, text.getvalue())


def load_faces(paths: Sequence[str | Path], angles: Sequence[str]) -> Faces:
    """Faces from CSV files written by :func:`save_faces` (e.g. each fold model's predictions on
    its own held-out fold, for out-of-fold calibration), concatenated."""
    labels, pred, spread, images = [], [], [], []
    for path in map(Path, paths):
        if not path.is_file():
            raise InvalidInputError(f"--faces: file not found: {path}")
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            need = [f"{k}_{a}" for a in angles for k in ("label", "pred", "spread")]
            missing = [c for c in ["image", *need] if c not in (reader.fieldnames or ())]
            if missing:
                raise InvalidInputError(f"{path}: missing column(s) {missing}")
            for line, row in enumerate(reader, start=2):
                try:
                    values = [float(row[c]) if row[c].strip() else np.nan for c in need]
                except ValueError:
                    raise InvalidInputError(f"{path} row {line}: a value is not a number") from None
                v = np.array(values).reshape(len(angles), 3)
                if not np.isfinite(v[:, 1:]).all():
                    raise InvalidInputError(f"{path} row {line}: pred/spread must be numbers")
                labels.append(v[:, 0])
                pred.append(v[:, 1])
                spread.append(v[:, 2])
                images.append(row["image"])
    if not labels:
        raise InvalidInputError(f"--faces: no rows in {', '.join(map(str, paths))}")
    return Faces(
        labels=np.array(labels),
        pred=np.array(pred),
        spread=np.array(spread),
        source=saved_source(paths),
        images=tuple(images),
    )


def median_spread(faces: Faces) -> np.ndarray:
    """Per angle, the median spread ``(A,)`` degrees over the faces (finite values only)."""
    out = []
    for j in range(faces.spread.shape[1]):
        s = faces.spread[:, j]
        s = s[np.isfinite(s)]
        if not len(s) or np.median(s) <= 0:
            raise InvalidInputError(f"{faces.source}: no positive spreads to take a median of")
        out.append(float(np.median(s)))
    return np.array(out)


def concat_faces(parts: Sequence[Faces], source: str) -> Faces:
    """One :class:`Faces` of ``parts`` in order, described as ``source``."""
    return Faces(
        labels=np.concatenate([f.labels for f in parts]),
        pred=np.concatenate([f.pred for f in parts]),
        spread=np.concatenate([f.spread for f in parts]),
        source=source,
        skipped=sum(f.skipped for f in parts),
        images=tuple(i for f in parts for i in f.images),
    )


def load_scaled_parts(
    paths: Sequence[str | Path],
    refs: Sequence[str | Path] | None,
    model_ref: str | Path | None,
    angles: Sequence[str],
) -> list[Faces]:
    """Each saved-faces file as its own :class:`Faces`; with ``refs`` and ``model_ref``, its
    spreads put into the calibrated model's units: times ``m_model / m_file``, per angle, where
    ``m`` is a model's median spread on its own training faces (``refs[i]``: the rows of
    the model behind ``paths[i]`` on the faces it trained on; ``model_ref``: the same for
    the model being calibrated). Models trained on more faces are more confident at the same
    error; the median on their own training faces measures that for each model alike."""
    if (refs is None) != (model_ref is None):
        raise InvalidInputError("--faces-ref and --model-ref go together: give both or neither")
    if refs is None or model_ref is None:
        return [load_faces([path], angles) for path in paths]
    if len(paths) != len(refs):
        raise InvalidInputError(
            f"--faces-ref: expected one per --faces file ({len(paths)}), got {len(refs)}"
        )
    target = median_spread(load_faces([model_ref], angles))
    parts = []
    for path, ref in zip(paths, refs, strict=True):
        faces = load_faces([path], angles)
        scale = target / median_spread(load_faces([ref], angles))
        parts.append(dataclasses.replace(faces, spread=faces.spread * scale))
    return parts


def saved_source(
    paths: Sequence[str | Path],
    refs: Sequence[str | Path] = (),
    model_ref: str | Path | None = None,
) -> str:
    """How saved faces are described in reports (files, and the scaling references if any)."""
    text = "saved faces " + ", ".join(Path(p).name for p in paths)
    if model_ref is None:
        return text
    names = ", ".join(Path(r).name for r in [*refs, model_ref])
    return f"{text} (spreads scaled by the training-face medians of {names})"


def transfer_check(
    parts: Sequence[Faces], angles: Sequence[str], bins: int = 10, coverage: float = 0.9
) -> list[dict[str, dict[str, float]]]:
    """How a fit transfers from some models to another, on the fitting rows alone: for each
    part (e.g. one fold model's held-out faces), :func:`check_calibration` of a fit on all
    the other parts. No validation faces are involved. Needs at least two parts."""
    if len(parts) < 2:
        raise InvalidInputError(f"transfer check: needs at least 2 --faces files, got {len(parts)}")
    out = []
    for k, held in enumerate(parts):
        others = [p for i, p in enumerate(parts) if i != k]
        fit = fit_calibration(concat_faces(others, "other parts"), angles, bins, coverage)
        out.append(check_calibration(fit, held, angles))
    return out


def _fit_line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares ``y = a + b x``, forced monotone (b >= 0) and positive (a >= 0)."""
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    var = np.average((x - xm) ** 2, weights=w)
    b = float(np.average((x - xm) * (y - ym), weights=w) / var) if var > 0 else 0.0
    a = float(ym - b * xm)
    if b <= 0.0:
        return float(ym), 0.0
    if a < 0.0:
        return 0.0, float(np.sum(w * x * y) / np.sum(w * x * x))
    return a, b


def fit_calibration(
    faces: Faces, angles: Sequence[str], bins: int = 10, coverage: float = 0.9
) -> Calibration:
    """Fit the spread -> expected |error| line and the interval factor per angle (see module
    docstring). Needs at least ``bins * 5`` labelled faces per angle."""
    if bins < 2:
        raise InvalidInputError(f"--bins: expected an integer >= 2, got {bins}")
    if not 0.0 < coverage < 1.0:
        raise InvalidInputError(f"coverage: expected a number in (0, 1), got {coverage}")
    err = faces.abs_error
    intercepts, slopes, factors, counts = [], [], [], []
    for j, name in enumerate(angles):
        known = np.isfinite(err[:, j]) & np.isfinite(faces.spread[:, j])
        n = int(known.sum())
        if n < bins * MIN_FACES_PER_BIN:
            raise InvalidInputError(
                f"{faces.source}: {n} faces with a {name} label, need at least "
                f"{bins * MIN_FACES_PER_BIN} for {bins} bins (use more images or fewer --bins)"
            )
        s, e = faces.spread[known, j], err[known, j]
        groups = np.array_split(np.argsort(s, kind="stable"), bins)
        x = np.array([s[g].mean() for g in groups])
        y = np.array([e[g].mean() for g in groups])
        w = np.array([len(g) for g in groups], dtype=np.float64)
        a, b = _fit_line(x, y, w)
        expected = np.maximum(a + b * s, 1e-6)
        factors.append(float(np.quantile(e / expected, coverage)))
        intercepts.append(round(a, 6))
        slopes.append(round(b, 6))
        counts.append(n)
    return Calibration(
        intercept=tuple(intercepts),
        slope=tuple(slopes),
        interval_factor=tuple(round(f, 6) for f in factors),
        coverage=coverage,
        data=faces.source,
        n=tuple(counts),
    )


def outside_tolerance(
    report: dict[str, dict[str, float]],
    coverage: float,
    coverage_tol: float,
    ratio_tol: float,
    rows: list[str],
) -> list[str]:
    """What of ``report`` (:func:`check_calibration`) misses the tolerances, one text per miss
    (empty: within): per row of ``rows``, coverage within ``coverage_tol`` of ``coverage`` and
    mean |error| / expected within ``ratio_tol`` of 1."""
    misses = []
    for row in rows:
        got = report[row]
        if abs(got["coverage"] - coverage) > coverage_tol:
            misses.append(f"{row} coverage {got['coverage']:.1%}")
        if abs(got["ratio"] - 1.0) > ratio_tol:
            misses.append(f"{row} ratio {got['ratio']:.2f}")
    return misses


def check_calibration(
    cal: Calibration, faces: Faces, angles: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Per angle and ``"all"`` (every labelled face x angle pooled): ``n``, ``coverage`` (share
    of faces whose |error| is within the interval), ``mean_abs_error``, ``mean_expected_error``,
    ``ratio`` (mean |error| / mean expected error; 1 = calibrated), ``mean_spread``."""
    err = faces.abs_error
    expected, half = cal.expected_error(faces.spread), cal.interval(faces.spread)
    known = np.isfinite(err)
    out: dict[str, dict[str, float]] = {}
    groups = [*((a, [j]) for j, a in enumerate(angles)), ("all", list(range(len(angles))))]
    for name, cols in groups:
        m = known[:, cols]
        e, x, h = err[:, cols][m], expected[:, cols][m], half[:, cols][m]
        out[name] = {
            "n": int(m.sum()),
            "coverage": float(np.mean(e <= h)),
            "mean_abs_error": float(e.mean()),
            "mean_expected_error": float(x.mean()),
            "ratio": float(e.mean() / x.mean()),
            "mean_spread": float(faces.spread[:, cols][m].mean()),
            "top_bottom_quarter": _quarter_ratio(x, e),
        }
    return out


def _quarter_ratio(expected: np.ndarray, error: np.ndarray) -> float:
    """Mean |error| of the quarter of faces with the largest expected error over that of the
    quarter with the smallest (> 1: the calibration ranks faces by error)."""
    order = np.argsort(expected, kind="stable")
    q = max(len(order) // 4, 1)
    low = error[order[:q]].mean()
    return float(error[order[-q:]].mean() / low) if low > 0 else float("inf")


def write_calibrated(
    model_path: str | Path, output: str | Path, cal: Calibration, overwrite: bool = False
) -> Path:
    """Copy ``model_path`` to the NEW file ``output`` with ``cal`` in its metadata; returns
    ``output``. Refuses to write over the input model, and over any existing file unless
    ``overwrite`` (then replaced atomically)."""

    def calibrated(meta: ModelMetadata) -> ModelMetadata:
        cal.validate(len(meta.angles), str(model_path))
        return dataclasses.replace(meta, calibration=cal)

    return save_with_metadata(model_path, output, calibrated, overwrite)


def _describe_fit(cal: Calibration, angles: Sequence[str]) -> list[str]:
    lines = [f"calibration fitted on {cal.data}:"]
    for j, name in enumerate(angles):
        lines.append(
            f"  {name:5s} n={cal.n[j]:5d}  expected |error| = {cal.intercept[j]:.3f} + "
            f"{cal.slope[j]:.3f} x spread;  {cal.coverage:.0%} interval = +- "
            f"{cal.interval_factor[j]:.3f} x expected"
        )
    return lines


def _describe_check(report: dict[str, dict[str, float]], cal: Calibration) -> list[str]:
    lines = [
        f"{'angle':5s} {'n':>5s} {'coverage':>9s} {'mean|err|':>10s} {'expected':>9s} "
        f"{'ratio':>6s} {'spread':>7s} {'top/bottom':>10s}"
    ]
    for name, r in report.items():
        lines.append(
            f"{name:5s} {r['n']:5d} {r['coverage']:9.1%} {r['mean_abs_error']:10.2f} "
            f"{r['mean_expected_error']:9.2f} {r['ratio']:6.2f} {r['mean_spread']:7.2f} "
            f"{r['top_bottom_quarter']:10.2f}"
        )
    lines.append(
        f"coverage: share of |error| within the {cal.coverage:.0%} interval; ratio: mean |error| "
        "/ mean expected error (1 = calibrated); spread: the raw model spread, for reference; "
        "top/bottom: mean |error| of the quarter with the largest expected error / smallest"
    )
    return lines


def _describe_transfer(
    reports: Sequence[dict[str, dict[str, float]]], names: Sequence[str], angles: Sequence[str]
) -> list[str]:
    lines = [
        "transfer (training faces only): each file's faces against a fit on the other files; "
        "coverage / ratio per angle:",
        f"{'held out':24s} " + " ".join(f"{a:>15s}" for a in [*angles, "all"]),
    ]
    for name, r in zip(names, reports, strict=True):
        cells = [f"{r[a]['coverage']:7.1%} / {r[a]['ratio']:4.2f}" for a in [*angles, "all"]]
        lines.append(f"{name:24s} " + " ".join(f"{c:>15s}" for c in cells))
    return lines


@command(PROG, (__doc__ or "").split("\n\n")[0])
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), help="labelled folder (labels.csv)")
@click.option("--images", type=click.Path(path_type=Path), help="with --data: file of image names")
@click.option("--config", help="training config whose data split to use (with --split)")
@click.option(
    "--split", type=click.Choice(["train", "tune", "val"]), help="part of --config's split"
)
@click.option("--limit", type=int, help="at most N images (a seeded random subset)")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of --limit")
@click.option("--detect", is_flag=True, help="detector box + crop rule (the runtime's path)")
@click.option(
    "--faces",
    "faces_csv",
    type=click.Path(path_type=Path),
    multiple=True,
    help="use saved per-face rows (--save-faces) instead of running MODEL; repeatable",
)
@click.option(
    "--faces-ref",
    "faces_ref",
    type=click.Path(path_type=Path),
    multiple=True,
    help="one per --faces: rows (--save-faces) of that file's model on its own training faces; "
    "with --model-ref, spreads are scaled by the ratio of training-face medians",
)
@click.option(
    "--model-ref",
    type=click.Path(path_type=Path),
    help="rows (--save-faces) of MODEL on its own training faces (with --faces-ref)",
)
@click.option(
    "--save-faces", "save_faces_to", type=click.Path(path_type=Path), help="write per-face rows"
)
@click.option("--bins", type=int, default=10, show_default=True, help="spread groups for the fit")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="new calibrated model")
@click.option("--overwrite", is_flag=True, help="replace an existing -o / --save-faces file")
@click.option("--check", "check_only", is_flag=True, help="report on a calibrated model")
@click.option("--coverage-tol", type=float, default=0.05, show_default=True)
@click.option("--ratio-tol", type=float, default=0.15, show_default=True)
@click.option(
    "--per-angle",
    is_flag=True,
    help="--check: each angle's row must be within the tolerances too, not only all angles'",
)
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
def cli(
    model: Path,
    data: Path | None,
    images: Path | None,
    config: str | None,
    split: str | None,
    limit: int | None,
    seed: int,
    detect: bool,
    faces_csv: tuple[Path, ...],
    faces_ref: tuple[Path, ...],
    model_ref: Path | None,
    save_faces_to: Path | None,
    bins: int,
    output: Path | None,
    overwrite: bool,
    check_only: bool,
    coverage_tol: float,
    ratio_tol: float,
    per_angle: bool,
    as_json: bool,
) -> int:
    if check_only and output is not None:
        raise InvalidInputError("--check writes no model: drop -o")
    if not check_only and output is None and save_faces_to is None:
        raise InvalidInputError(
            "give -o OUT.onnx (a new file) to fit, --check to report, or --save-faces CSV"
        )
    read = [model, *faces_csv, *faces_ref, *(p for p in (data, images, model_ref) if p)]
    for target in (output, save_faces_to):
        if target is not None:
            check_output(target, overwrite, read)
    pose = PoseModel(model, threads=1)
    angles = list(pose.angle_names)
    parts: list[Faces] = []  # the --faces files, each its own part (for the transfer check)
    if faces_csv:
        if data is not None or config is not None or detect:
            raise InvalidInputError(
                "--faces replaces --data/--config/--detect: give one or the other"
            )
        parts = load_scaled_parts(faces_csv, faces_ref or None, model_ref, angles)
        faces = concat_faces(parts, saved_source(faces_csv, faces_ref, model_ref))
    elif faces_ref or model_ref is not None:
        raise InvalidInputError("--faces-ref / --model-ref scale saved rows: give --faces too")
    else:
        paths, labels, source = load_labelled(data, images, config, split)
        paths, labels = select_images(paths, labels, limit, seed)
        faces = run_model(pose, paths, labels, source, detect=detect)
    result: dict[str, Any] = {"model": str(model), "data": faces.source, "faces": len(faces.pred)}
    result["skipped_no_face"] = faces.skipped
    if save_faces_to is None:
        saved = []
    else:
        written_faces = save_faces(faces, angles, save_faces_to, overwrite=overwrite, inputs=read)
        saved = [f"wrote {written_faces}"]
    if save_faces_to is not None:
        result["saved_faces"] = str(save_faces_to)
    if output is None and not check_only:
        click.echo(json.dumps(result) if as_json else "\n".join(saved))
        return 0
    if check_only:
        cal = pose.meta.calibration
        if cal is None:
            raise InvalidInputError(f"{model}: has no calibration to check (fit one first)")
        report = check_calibration(cal, faces, angles)
        rows = ["all", *angles] if per_angle else ["all"]
        misses = outside_tolerance(report, cal.coverage, coverage_tol, ratio_tol, rows)
        ok = not misses
        result.update(check=report, within_tolerance=ok, calibration=dataclasses.asdict(cal))
        result["outside_tolerance"] = misses
        lines = [
            f"{model}: calibration check on {faces.source}, {len(faces.pred)} faces"
            + (f" ({faces.skipped} without a detected face skipped)" if faces.skipped else ""),
            *_describe_fit(cal, angles),
            *_describe_check(report, cal),
            f"within tolerance (coverage {cal.coverage:.0%} +- {coverage_tol:.0%} points, "
            f"ratio 1 +- {ratio_tol:.0%}; rows {', '.join(rows)}): "
            + ("yes" if ok else "NO: " + "; ".join(misses)),
        ]
        code = 0 if ok else EXIT_OUTSIDE
    else:
        cal = fit_calibration(faces, angles, bins=bins)
        written = write_calibrated(model, output, cal, overwrite=overwrite)
        PoseModel(written, threads=1)  # the runtime reads it back
        report = check_calibration(cal, faces, angles)
        result.update(output=str(written), calibration=dataclasses.asdict(cal), in_sample=report)
        lines = [
            f"wrote {written}",
            *_describe_fit(cal, angles),
            "in-sample (the fitting faces; optimistic by construction):",
            *_describe_check(report, cal),
        ]
        if len(parts) >= 2:
            try:
                transfer = transfer_check(parts, angles, bins=bins, coverage=cal.coverage)
            except InvalidInputError as exc:  # too few faces without one file: the fit stands
                lines.append(f"transfer check skipped: {first_line(exc)}")
            else:
                result["transfer"] = [
                    {"held_out": str(f), "check": r}
                    for f, r in zip(faces_csv, transfer, strict=True)
                ]
                lines += _describe_transfer(transfer, [Path(f).name for f in faces_csv], angles)
        code = 0
    click.echo(json.dumps(result) if as_json else "\n".join(saved + lines))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (bad input: a one-line error and 2)."""
    try:
        args = list(argv) if argv is not None else None
        return int(cli.main(args=args, prog_name=PROG, standalone_mode=False))
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"{PROG}: error: {first_line(exc.format_message())}", err=True)
        return EXIT_BAD_INPUT
    except (HeadPoseError, ValueError) as exc:
        message = first_line(exc)
        click.echo(f"{PROG}: error: {message}", err=True)
        return EXIT_BAD_INPUT
    except ImportError as exc:  # --config without the [train] extra
        return missing_extra(PROG, exc, "train")


if __name__ == "__main__":
    sys.exit(main())
