"""bench/calib_transfer.py: the transfer table from the shipped fast model's out-of-fold rows (real rows),
and a clear stop for a folder that lacks the files."""

from __future__ import annotations

import shutil
from pathlib import Path

import calib_transfer
import pytest

from headpose.export.calibrate import load_scaled_parts, transfer_check
from headpose.pose_model import ANGLE_ORDER

FOLDER = Path(__file__).resolve().parents[2] / "bench" / "results" / "calib_oof_fast_aa"


def test_table_has_one_row_per_held_out_fold_with_its_coverage() -> None:
    lines = calib_transfer.table([FOLDER])
    rows = [ln for ln in lines if ln.startswith("| `calib_oof_fast_aa`")]
    assert [r.split(" | ")[1] for r in rows] == ["fold0of3", "fold1of3", "fold2of3"]
    faces, refs, ref = calib_transfer.fold_files(FOLDER)
    reports = transfer_check(load_scaled_parts(faces, refs, ref, ANGLE_ORDER), ANGLE_ORDER)
    pitch = [float(r.split(" | ")[3].split("%")[0]) for r in rows]
    assert pitch == [round(100 * rep["pitch"]["coverage"], 1) for rep in reports]
    assert all(80.0 < p < 97.0 for p in pitch)  # a fit transfers to another model roughly


def test_a_folder_without_training_rows_is_named(tmp_path: Path) -> None:
    for name in ("fold0of3_faces.csv", "fold1of3_faces.csv"):
        shutil.copy(FOLDER / name, tmp_path / name)
    with pytest.raises(SystemExit, match="fold0of3_train_faces.csv"):
        calib_transfer.table([tmp_path])
    out = tmp_path / "report.md"
    out.write_text("keep me")
    with pytest.raises(SystemExit, match="not overwriting"):
        calib_transfer.main([str(FOLDER), "--out", str(out)])
    assert out.read_text() == "keep me"
