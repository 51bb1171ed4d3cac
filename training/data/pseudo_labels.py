"""Pseudo-labels for unlabelled faces from a teacher model (ONNX), for semi-supervised training.

``python -m headpose.training.data.pseudo_labels FOLDER --teacher MODEL.onnx -o pseudo.csv``
finds the face nearest the centre of every image in ``FOLDER`` (recursively) with the runtime's
detector, crops it with the teacher's own crop rule (exactly as the runtime would) and writes

``image,yaw,pitch,roll,x1,y1,x2,y2,spread_yaw,spread_pitch,spread_roll``

with absolute image paths: the teacher's angles (degrees), the detector box, and the teacher's
spread per angle (the standard deviation of its bin distribution, degrees), which the
semi-supervised method turns into a per-sample weight (``semi.spread_ref``). The file is a
normal pose CSV (``data.kind=csv``): the ``csv`` reader keeps the box and reads the spreads.
Images where no face is found are left out (counted). The teacher sees each face once, unaugmented
(the *weak* view); the student trains on strongly augmented views of the same face.

``--split-config CONFIG`` labels only the images of ``FOLDER`` that a run of ``CONFIG`` trains
on (its own data, split by the run's own function,
:func:`headpose.training.data.run_split.run_split_images`): the teacher's answers on the run's
labelled training images, for distillation (``semi.teacher_labels``); its tuning and test images
are never labelled.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import click
import cv2
import numpy as np

from headpose.cli.options import EXISTING_DIR, EXISTING_FILE, command, detector_option, run
from headpose.detectors import get_detector
from headpose.files import AtomicFile, check_output
from headpose.pose_model import PoseModel
from headpose.training.config import ConfigError

from .csv_folder import BOX_COLUMNS, SPREAD_COLUMNS
from .csv_folder import HEADER as LABEL_HEADER
from .detector_boxes import best_box
from .errors import DataError
from .run_split import run_split_images
from .unlabeled import find_images

HEADER = (*LABEL_HEADER, *BOX_COLUMNS, *SPREAD_COLUMNS)
PROG = "python -m headpose.training.data.pseudo_labels"


def write_pseudo_labels(
    folder: str | Path,
    teacher: str | Path,
    output: str | Path,
    detector: str = "yunet",
    batch: int = 16,
    overwrite: bool = False,
    split_config: str | None = None,
) -> tuple[int, int]:
    """Label every face image in ``folder`` with ``teacher``; write ``output`` atomically.

    ``split_config``: label only the images of ``folder`` that a run of that config trains on. Returns ``(images, rows written)``. Refuses to replace an
    existing ``output`` unless ``overwrite``, and to write into ``folder`` or over ``teacher``
    at all (:func:`headpose.files.check_output`).
    """
    folder, output = Path(folder), Path(output)
    check_output(output, overwrite, inputs=[folder, teacher])
    paths = find_images(folder)
    if split_config:
        trained, _held_out = run_split_images(split_config)
        paths = [p for p in paths if str(p.resolve()) in trained]
        if not paths:
            raise DataError(
                f"{folder}: none of its images is in the training split of {split_config}"
            )
    model = PoseModel(teacher, threads=os.cpu_count() or 1)
    det = get_detector(detector)
    rows = 0
    pending: list[tuple[Path, tuple[float, ...], np.ndarray]] = []

    def flush(writer: csv.writer) -> int:
        if not pending:
            return 0
        # each face cropped by the teacher's crop rule (a pooled teacher: each member's)
        outs = [model.predict_boxes(image, [box]) for _, box, image in pending]
        angles = np.concatenate([o[0] for o in outs])
        spread = np.concatenate([o[1] for o in outs])
        ypr, ypr_spread = model.to_yaw_pitch_roll(angles), model.to_yaw_pitch_roll(spread)
        for (path, box, _), a, s in zip(pending, ypr, ypr_spread, strict=True):
            writer.writerow(
                [
                    str(path.resolve()),
                    *(f"{v:.4f}" for v in a),
                    *(f"{v:.2f}" for v in box),
                    *(f"{v:.4f}" for v in s),
                ]
            )
        n = len(pending)
        pending.clear()
        return n

    with AtomicFile(output) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for path in paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise DataError(f"{path}: unreadable image")
            box = best_box(det, image)
            if box is None:
                continue
            pending.append((path, box, image))
            if len(pending) >= batch:
                rows += flush(writer)
        rows += flush(writer)
    return len(paths), rows


@command(PROG)
@click.argument("folder", type=EXISTING_DIR)
@click.option("--teacher", required=True, type=EXISTING_FILE, help="teacher pose model (.onnx)")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="pseudo-label CSV to write",
)
@detector_option()
@click.option(
    "--split-config",
    default=None,
    help="label only the images of FOLDER that a run of this config trains on",
)
@click.option("--overwrite", is_flag=True, help="replace an existing output")
def cli(
    folder: Path,
    teacher: Path,
    output: Path,
    detector: str,
    split_config: str | None,
    overwrite: bool,
) -> int:
    """Pseudo-label the faces of FOLDER (unlabelled images, searched recursively) with a
    teacher model: the face nearest each image's centre, cropped by the teacher's own rule."""
    try:
        images, rows = write_pseudo_labels(
            folder, teacher, output, detector, overwrite=overwrite, split_config=split_config
        )
    except (DataError, ConfigError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{output}: {rows} of {images} images labelled (no face found in {images - rows})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (bad input: one line ``PROG: error: ...`` and 2)."""
    return run(cli, argv, PROG)


if __name__ == "__main__":
    raise SystemExit(main())
