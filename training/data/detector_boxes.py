"""Add runtime-detector face boxes to a pose CSV, so training crops faces the way the runtime does.

``python -m headpose.training.data.detector_boxes DATA_DIR -o boxes.csv [--detector yunet]``
reads ``DATA_DIR/labels.csv`` (``image,yaw,pitch,roll``), runs the runtime's detector on every
image and writes ``image,yaw,pitch,roll,x1,y1,x2,y2`` with absolute image paths. Train on it with
``data.kind=csv`` and ``data.root=boxes.csv``: the csv format then crops each box with the crop
rule stored in the model (``headpose.preprocess.crop_box``). Images where the detector finds no
face keep empty box cells and are used whole.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import click
import cv2
import numpy as np

from headpose.cli.options import EXISTING_PATH, command, detector_option, run
from headpose.detectors import get_detector
from headpose.detectors.base import Detector
from headpose.files import AtomicFile, check_output

from .csv_folder import DEFAULT_CSV_NAME, read_pose_csv
from .errors import DataError

PROG = "python -m headpose.training.data.detector_boxes"


def best_box(detector: Detector, image_bgr: np.ndarray) -> tuple[float, float, float, float] | None:
    """The face box nearest the image centre among the detector's faces, or None."""
    found = detector.detect(image_bgr)
    if len(found) == 0:
        return None
    h, w = image_bgr.shape[:2]
    centres = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2.0
    dist = np.hypot(centres[:, 0] - w / 2.0, centres[:, 1] - h / 2.0)
    return tuple(float(v) for v in found.boxes[int(np.argmin(dist))])


def write_boxes_csv(
    data: str | Path, output: str | Path, detector: str = "yunet", overwrite: bool = False
) -> tuple[int, int]:
    """Detect a box for every row of ``data``'s CSV; write ``output`` atomically.

    Returns ``(rows, rows_with_a_box)``. Refuses to replace an existing ``output`` unless
    ``overwrite``, and to write ``data``'s CSV or into its folder at all
    (:func:`headpose.files.check_output`).
    """
    data = Path(data)
    csv_path = data if data.suffix.lower() == ".csv" else data / DEFAULT_CSV_NAME
    output = check_output(output, overwrite, inputs=[data, csv_path])
    records = read_pose_csv(csv_path)
    det = get_detector(detector)
    found = 0
    with AtomicFile(output) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "yaw", "pitch", "roll", "x1", "y1", "x2", "y2"])
        for rec in records:
            image = cv2.imread(rec.image, cv2.IMREAD_COLOR)
            if image is None:
                raise DataError(f"{rec.image}: unreadable image")
            box = best_box(det, image)
            found += box is not None
            angles = ["" if np.isnan(v) else f"{float(v):.4f}" for v in rec.target]
            cells = [f"{v:.2f}" for v in box] if box is not None else ["", "", "", ""]
            writer.writerow([str(Path(rec.image).resolve()), *angles, *cells])
    return len(records), found


@command(PROG)
@click.argument("data", type=EXISTING_PATH)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="CSV to write")
@detector_option()
@click.option("--overwrite", is_flag=True, help="replace an existing output")
def cli(data: Path, output: Path, detector: str, overwrite: bool) -> int:
    """Add runtime-detector face boxes (x1,y1,x2,y2) to the pose CSV DATA (a folder with
    labels.csv, or the CSV): training then crops faces the way the runtime does."""
    try:
        rows, found = write_boxes_csv(data, output, detector, overwrite)
    except (DataError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{output}: {rows} rows, a face box in {found} ({100.0 * found / max(rows, 1):.1f}%)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (bad input: one line ``PROG: error: ...`` and 2)."""
    return run(cli, argv, PROG)


if __name__ == "__main__":
    raise SystemExit(main())
