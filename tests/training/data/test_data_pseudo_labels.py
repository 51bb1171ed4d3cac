"""Pseudo-labels from a teacher ONNX model: a pose CSV with boxes and spreads, never overwritten."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from headpose.estimator import default_model_path
from headpose.files import OutputError
from headpose.training.data.csv_folder import read_pose_csv
from headpose.training.data.pseudo_labels import HEADER, write_pseudo_labels
from headpose.training.engine.data_setup import pseudo_label_weights


@pytest.fixture()
def faces(tmp_path: Path, shared_dir: Path) -> Path:
    folder = tmp_path / "faces"
    folder.mkdir()
    for src in sorted((shared_dir / "data" / "utkface").glob("*.jpg"))[:3]:
        shutil.copy(src, folder / src.name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_teacher_labels_every_face_with_box_and_spread(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "pseudo.csv"
    images, rows = write_pseudo_labels(faces, default_model_path(), out)
    assert images == 3 and rows == 3
    assert out.read_text().splitlines()[0] == ",".join(HEADER)
    records = read_pose_csv(out)  # the normal pose CSV reader takes it
    for r in records:
        assert r.box is not None and r.spread is not None
        assert np.all(np.abs(r.target) < 99) and np.all((r.spread > 0) & (r.spread < 60))
    with pytest.raises(OutputError, match="already exists"):
        write_pseudo_labels(faces, default_model_path(), out)
    image = sorted(faces.glob("*.jpg"))[0]  # --overwrite never replaces an input (issue 40)
    before = image.read_bytes()
    with pytest.raises(OutputError, match="inside the input folder.*never written"):
        write_pseudo_labels(faces, default_model_path(), image, overwrite=True)
    with pytest.raises(OutputError, match="is an input of this run"):
        write_pseudo_labels(faces, default_model_path(), default_model_path(), overwrite=True)
    assert image.read_bytes() == before


def test_weights_fall_with_the_teacher_spread(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "pseudo.csv"
    write_pseudo_labels(faces, default_model_path(), out)
    records = read_pose_csv(out)
    w = pseudo_label_weights(records, weight=0.5, spread_ref=15.0)
    spread = np.stack([r.spread for r in records])
    assert np.allclose(w, 0.5 / (1.0 + (spread / 15.0) ** 2))
    assert np.all(pseudo_label_weights(records, weight=0.5, spread_ref=0.0) == 0.5)


def test_split_config_labels_only_the_runs_training_images(tmp_path: Path, crops_dir: Path) -> None:
    """--split-config: the teacher labels the images of FOLDER that the config's run trains on
    (its own data, split by the run's function), never its tuning or test images."""
    from headpose.training.data.run_split import run_split_images

    rows = (crops_dir / "labels.csv").read_text().splitlines()
    data = tmp_path / "labels.csv"  # ten labelled crops, named from the crops folder
    data.write_text("\n".join([rows[0], *(f"{crops_dir}/{r}" for r in rows[1:11])]) + "\n")
    config = tmp_path / "run.yaml"
    config.write_text(
        "base: default/semi_lite0_112\n"
        f"data: {{root: {data}, split: {{by: file, val_fraction: 0.3, tune_fraction: 0.3}}}}\n"
    )
    trained, held_out = run_split_images(str(config))
    assert trained and held_out and not trained & held_out
    out = tmp_path / "teacher.csv"
    images, written = write_pseudo_labels(
        crops_dir / "images", default_model_path(), out, split_config=str(config)
    )
    labelled = {str(Path(r.image).resolve()) for r in read_pose_csv(out)}
    assert images == len(trained) and labelled and labelled <= trained
    assert written == len(labelled)
