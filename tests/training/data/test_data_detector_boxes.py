"""Detector boxes for a pose CSV: real detector on real crops, then the csv format crops them."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

from headpose.training.data import build_dataset
from headpose.training.data.detector_boxes import main


def _labelled(crops_dir: Path, data: Path, count: int) -> list[list[str]]:
    """``data``: a labelled folder (labels.csv + images/) with the first ``count`` crops; returns
    the CSV rows, header first."""
    (data / "images").mkdir(parents=True)
    rows = list(csv.reader(open(crops_dir / "labels.csv")))[: count + 1]
    for row in rows[1:]:
        shutil.copy(crops_dir / row[0], data / row[0])
    with open(data / "labels.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return rows


def test_boxes_csv_feeds_the_csv_format(crops_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = _labelled(crops_dir, data, 4)
    out = tmp_path / "boxes.csv"
    assert main([str(data), "-o", str(out)]) == 0
    written = list(csv.DictReader(open(out)))
    assert len(written) == 4 and all(r["x1"] for r in written)  # one face per crop, all found
    box = [float(written[0][k]) for k in ("x1", "y1", "x2", "y2")]
    assert 60 < box[0] < box[2] < 330 and 40 < box[1] < box[3] < 360  # a face inside the 384 crop
    ds = build_dataset("csv", out, crop_scale=1.5)
    image, target = ds[0]
    side = max(box[2] - box[0], box[3] - box[1]) * 1.5
    assert abs(image.shape[0] - side) <= 2 and abs(image.shape[0] - image.shape[1]) <= 1
    np.testing.assert_allclose(target, [float(rows[1][i]) for i in (1, 2, 3)], atol=1e-3)


def test_missing_labels_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path), "-o", str(tmp_path / "b.csv")]) == 2
    assert "labels.csv" in capsys.readouterr().err


def test_never_writes_its_input_and_asks_before_replacing(
    tmp_path: Path, crops_dir: Path, capsys
) -> None:
    """`-o DATA/labels.csv` replaced the labels it was reading, and any existing file was
    replaced without a word (issue 40)."""
    data = tmp_path / "data"
    _labelled(crops_dir, data, 2)
    labels = (data / "labels.csv").read_bytes()
    for extra in ([], ["--overwrite"]):
        assert main([str(data), "-o", str(data / "labels.csv"), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("python -m headpose.training.data.detector_boxes: error: ")
        assert "is an input of this run" in err and "never written" in err
    assert (data / "labels.csv").read_bytes() == labels
    out = tmp_path / "boxes.csv"
    out.write_text("an earlier file\n")
    assert main([str(data), "-o", str(out)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "an earlier file\n"
    assert main([str(data), "-o", str(out), "--overwrite"]) == 0
    assert len(list(csv.DictReader(open(out)))) == 2
