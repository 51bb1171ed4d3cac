"""How an out-of-fold calibration transfers from model to model, on training faces alone.

    python bench/calib_transfer.py [FOLDER ...] [--out bench/results/calib_transfer.md]

Each FOLDER is what ``tools/calibrate_oof.sh`` leaves (``fold{i}of{k}_faces.csv``: fold model
i on its held-out fold; ``fold{i}of{k}_train_faces.csv`` and ``model_train_faces.csv``: each
model on its own training faces). Each fold's rows are checked against a fit on the other folds'
rows, every fold's spreads scaled into the shipped model's units as the shipped fit scales them
(``headpose.export.calibrate.transfer_check``). A fold model is a different network from the
others, so this shows on training data what the validation check shows on other faces: whether
the stated 90% interval holds for a model the fit never saw. Default folders: the committed
``bench/results/calib_oof*``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from headpose.export.calibrate import load_scaled_parts, transfer_check
from headpose.pose_model import ANGLE_ORDER

RESULTS = Path(__file__).resolve().parent / "results"


def fold_files(folder: Path) -> tuple[list[Path], list[Path], Path]:
    """The held-out rows, their models' training rows, and the shipped model's training rows."""
    faces = sorted(p for p in folder.glob("fold*_faces.csv") if "_train_" not in p.name)
    refs = [p.with_name(p.name.replace("_faces.csv", "_train_faces.csv")) for p in faces]
    model_ref = folder / "model_train_faces.csv"
    if len(faces) < 2:
        raise SystemExit(
            f"calib_transfer: {folder}: expected >= 2 fold*_faces.csv, got {len(faces)}"
        )
    missing = [str(p) for p in [*refs, model_ref] if not p.is_file()]
    if missing:
        raise SystemExit(
            f"calib_transfer: {folder}: expected >= 2 fold*_faces.csv with their "
            f"*_train_faces.csv and model_train_faces.csv; missing {missing}"
        )
    return faces, refs, model_ref


def table(folders: Sequence[Path]) -> list[str]:
    """Markdown rows: per folder and held-out fold, coverage and ratio per angle and pooled."""
    cols = [*ANGLE_ORDER, "all"]
    lines = [
        "| folder | held-out fold | " + " | ".join(cols) + " |",
        "| --- | --- |" + " ---: |" * len(cols),
    ]
    for folder in folders:
        faces, refs, model_ref = fold_files(folder)
        parts = load_scaled_parts(faces, refs, model_ref, ANGLE_ORDER)
        for path, report in zip(faces, transfer_check(parts, ANGLE_ORDER), strict=True):
            fold = re.sub(r"_faces\.csv$", "", path.name)
            cells = [f"{report[c]['coverage']:.1%} / {report[c]['ratio']:.2f}" for c in cols]
            lines.append(f"| `{folder.name}` | {fold} | " + " | ".join(cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, help="calibrate_oof.sh output folders")
    parser.add_argument("--out", type=Path, help="write the Markdown report here (new file)")
    args = parser.parse_args(argv)
    folders = args.folders or sorted(p for p in RESULTS.glob("calib_oof*") if p.is_dir())
    if args.out is not None and args.out.exists():
        raise SystemExit(f"calib_transfer: {args.out}: already exists; not overwriting")
    shown = " ".join(str(f) for f in args.folders)
    report = [
        "# Calibration transfer between fold models (training faces only)",
        "",
        f"Command: `python bench/calib_transfer.py{' ' + shown if shown else ''}`  ",
        "Each fold model's held-out rows against a fit on the other folds' rows (spreads scaled "
        "into the shipped model's units); cells: share of |error| inside the stated 90% "
        "interval / mean |error| over the stated expected error. No validation faces.",
        "",
        *table(folders),
    ]
    text = "\n".join(report) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
