"""Semi-supervised training: pseudo-labelled rows join the training set with their weights."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from headpose.training.config import ConfigError, load_config
from headpose.training.engine.data_setup import build_run_data
from headpose.training.engine.methods import build_method
from headpose.training.engine.trainer import train


@pytest.fixture()
def pseudo_csv(tmp_path: Path, shared_dir: Path) -> Path:
    """Four UTKFace faces with made-up teacher angles and spreads (5 and 30 degrees)."""
    faces = sorted((shared_dir / "data" / "utkface").glob("*.jpg"))[:4]
    path = tmp_path / "pseudo.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            "image,yaw,pitch,roll,x1,y1,x2,y2,spread_yaw,spread_pitch,spread_roll".split(",")
        )
        for i, face in enumerate(faces):
            s = 5.0 if i % 2 == 0 else 30.0
            w.writerow([face, 10 * i, -5, 3, 20, 20, 180, 190, s, s, s])
    return path


def _cfg(tmp_path: Path, crops_dir: Path, pseudo: Path, *extra: str):
    return load_config(
        "default/semi_lite0_112",
        [
            f"data.root={crops_dir}",
            f"semi.pseudo_labels={pseudo}",
            f"runtime.out_dir={tmp_path / 'run'}",
            "model.backbone=mobilenetv3_small_100",
            "model.init=random",
            "model.input_size=48",
            "optim.batch_size=4",
            "optim.epochs=1",
            "data.low_data=6",
            "data.split.val_fraction=0.005",
            "runtime.workers=0",
            "runtime.log_every=1",
            "runtime.progress=false",
            *extra,
        ],
    )


def test_pseudo_rows_join_the_training_set_with_spread_weights(
    tmp_path: Path, crops_dir: Path, pseudo_csv: Path
) -> None:
    cfg = _cfg(tmp_path, crops_dir, pseudo_csv, "semi.weight=0.5", "semi.spread_ref=10")
    data = build_run_data(cfg, build_method(cfg))
    assert len(data.train) == 6 * 2 + 4  # labelled_repeat 2 in the recipe
    w = data.train.weights
    assert np.all(w[:12] == 1.0)
    assert np.allclose(w[12::2], 0.5 / (1 + 0.25)) and np.allclose(w[13::2], 0.5 / (1 + 9.0))
    sample = data.train[13]
    assert torch.allclose(sample["weight"], torch.full((3,), 0.05))
    assert len(data.train_targets) == 6  # baselines use the labelled images only
    assert all("weight" not in data.val[i] for i in range(len(data.val)))


def test_semi_run_trains(tmp_path: Path, crops_dir: Path, pseudo_csv: Path) -> None:
    torch.set_num_threads(1)
    row = train(_cfg(tmp_path, crops_dir, pseudo_csv))
    assert row["step"] == 4 and np.isfinite(row["train/loss"])  # 16 samples, batch 4


def test_semi_needs_a_pose_method(tmp_path: Path, crops_dir: Path, pseudo_csv: Path) -> None:
    with pytest.raises(ConfigError, match="semi.pseudo_labels"):
        _cfg(tmp_path, crops_dir, pseudo_csv, "method=ssl-pretrain", "data.kind=unlabeled")


def test_per_epoch_draws_pseudo_rows_anew_each_epoch_with_their_weights(
    tmp_path: Path, crops_dir: Path, pseudo_csv: Path
) -> None:
    cfg = _cfg(tmp_path, crops_dir, pseudo_csv, "semi.spread_ref=10", "semi.per_epoch=2")
    data = build_run_data(cfg, build_method(cfg))
    assert len(data.train) == 6 * 2 + 2
    base = data.train.base
    drawn = []
    for epoch in range(6):
        data.train.set_epoch(epoch)
        rows = [base.source_index(12 + k) - 12 for k in range(2)]
        assert len(set(rows)) == 2 and all(0 <= r < 4 for r in rows)
        for k, r in enumerate(rows):  # the weight follows the drawn row (spread 5 or 30)
            want = 1 / (1 + 0.25) if r % 2 == 0 else 1 / (1 + 9.0)
            assert torch.allclose(data.train[12 + k]["weight"], torch.full((3,), want))
        drawn.append(tuple(rows))
    assert len(set(drawn)) > 1  # resampled, not a fixed subset
    again = build_run_data(cfg, build_method(cfg))  # same (seed, epoch) -> same rows: exact resume
    again.train.set_epoch(5)
    assert tuple(again.train.base.source_index(12 + k) - 12 for k in range(2)) == drawn[5]


def test_per_epoch_run_trains(tmp_path: Path, crops_dir: Path, pseudo_csv: Path) -> None:
    torch.set_num_threads(1)
    row = train(_cfg(tmp_path, crops_dir, pseudo_csv, "semi.per_epoch=2", "optim.epochs=2"))
    assert row["step"] == 2 * (14 // 4) and np.isfinite(row["train/loss"])


def test_labelled_repeat_without_pseudo_labels(tmp_path: Path, crops_dir: Path) -> None:
    """The labelled-only control at the same compute: each labelled image several times."""
    cfg = _cfg(
        tmp_path, crops_dir, Path("unused.csv"), "semi.pseudo_labels=", "semi.labelled_repeat=3"
    )
    data = build_run_data(cfg, build_method(cfg))
    assert len(data.train) == 6 * 3 and data.train.weights is None
    assert "weight" not in data.train[0]


def test_synthesized_rows_join_after_the_pseudo_labels_with_their_own_weights(
    tmp_path: Path, crops_dir: Path, pseudo_csv: Path, shared_dir: Path
) -> None:
    """synth.labels: rendered faces with exact labels (no spread: weight synth.weight) and
    teacher-labelled ones (spread columns: spread-weighted), drawn per epoch like pseudo-labels."""
    faces = sorted((shared_dir / "data" / "utkface").glob("*.jpg"))[4:9]
    synth = tmp_path / "synth.csv"
    with open(synth, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            "image,yaw,pitch,roll,x1,y1,x2,y2,spread_yaw,spread_pitch,spread_roll".split(",")
        )
        for i, face in enumerate(faces):  # 3 exact labels, 2 from a teacher (spread 10)
            spread = ["", "", ""] if i < 3 else [10, 10, 10]
            w.writerow([face, 60 + i, 0, 0, 20, 20, 180, 190, *spread])
    cfg = _cfg(
        tmp_path,
        crops_dir,
        pseudo_csv,
        f"synth.labels={synth}",
        "synth.weight=0.8",
        "synth.spread_ref=10",
        "synth.per_epoch=4",
    )
    data = build_run_data(cfg, build_method(cfg))
    assert len(data.train) == 6 * 2 + 4 + 4
    base = data.train.base
    seen = set()
    for epoch in range(4):
        data.train.set_epoch(epoch)
        for k in range(16, 20):
            row = base.source_index(k) - 16  # 0..4 in the synth csv
            want = 0.8 if row < 3 else 0.8 / (1 + 1.0)
            assert torch.allclose(data.train[k]["weight"], torch.full((3,), want))
            seen.add(row)
    assert seen == set(range(5))  # every synthesized row is used over the epochs
    with pytest.raises(ConfigError, match="synth.labels"):
        _cfg(
            tmp_path,
            crops_dir,
            pseudo_csv,
            f"synth.labels={synth}",
            "method=ssl-pretrain",
            "data.kind=unlabeled",
            "semi.pseudo_labels=",
        )


def test_synthesized_rows_from_a_held_out_image_are_refused(
    tmp_path: Path, crops_dir: Path
) -> None:
    """A synth.labels row rendered from (or showing) one of the run's tuning or test images
    stops the run before training, naming the file and the row; renders of training images
    and of images outside the split (UTKFace) are used."""
    from headpose.training.data.errors import DataError
    from headpose.training.data.run_split import split_images

    split = ("semi.pseudo_labels=", "data.split.val_fraction=0.2")
    cfg = _cfg(tmp_path, crops_dir, Path("unused.csv"), *split)
    train_image = split_images(cfg, "train")[0][0]
    test_image = split_images(cfg, "val")[0][0]
    render = sorted((crops_dir / "images").glob("*.jpg"))[0]  # stands in for a rendered face
    synth = tmp_path / "synth" / "labels.csv"
    synth.parent.mkdir()

    def write(*sources: str) -> None:
        lines = ["image,yaw,pitch,roll,source"]
        lines += [f"{render},60,0,0,{src}" for src in sources]
        synth.write_text("\n".join(lines) + "\n")

    extra = (f"synth.labels={synth.parent}", "synth.per_epoch=1")
    write(train_image, "")
    ok = _cfg(tmp_path, crops_dir, Path("unused.csv"), *split, *extra)
    data = build_run_data(ok, build_method(ok))
    assert len(data.train.base) == 6 * 2 + 1
    write(train_image, test_image)
    leak = _cfg(tmp_path, crops_dir, Path("unused.csv"), *split, *extra)
    with pytest.raises(DataError, match="synth.labels") as err:
        build_run_data(leak, build_method(leak))
    message = str(err.value)
    assert str(synth.parent) in message and Path(test_image).name in message
    assert "tuning or test image" in message
    synth.write_text(f"image,yaw,pitch,roll\n{test_image},60,0,0\n")  # the test face itself
    with pytest.raises(DataError, match="is .*tuning or test image"):
        build_run_data(leak, build_method(leak))


def test_teacher_labels_join_every_epoch_and_never_show_a_held_out_image(
    tmp_path: Path, crops_dir: Path
) -> None:
    """semi.teacher_labels (distillation): the teacher's answers on the run's own training
    images join every epoch, each with weight teacher_weight x the spread weight; a row showing
    one of the run's tuning or test images stops the run, naming the key and the image."""
    from headpose.training.data.errors import DataError
    from headpose.training.data.run_split import split_images

    split = ("semi.pseudo_labels=", "data.split.val_fraction=0.2", "semi.labelled_repeat=1")
    cfg = _cfg(tmp_path, crops_dir, Path("unused.csv"), *split)
    train_images = split_images(cfg, "train")[0]
    test_image = split_images(cfg, "val")[0][0]
    teacher = tmp_path / "teacher.csv"

    def write(images: list[str]) -> None:
        lines = ["image,yaw,pitch,roll,spread_yaw,spread_pitch,spread_roll"]
        lines += [f"{image},30,-5,2,10,10,10" for image in images]
        teacher.write_text("\n".join(lines) + "\n")

    extra = (f"semi.teacher_labels={teacher}", "semi.teacher_weight=0.6", "semi.spread_ref=10")
    write(train_images)
    ok = _cfg(tmp_path, crops_dir, Path("unused.csv"), *split, *extra)
    data = build_run_data(ok, build_method(ok))
    n = len(train_images)
    assert len(data.train) == 2 * n  # the labels once, the teacher's answers once
    for epoch in range(2):
        data.train.set_epoch(epoch)
        for k in range(n):
            assert torch.all(data.train[k]["weight"] == 1.0)
        for k in range(n, 2 * n):
            assert torch.allclose(data.train[k]["weight"], torch.full((3,), 0.6 / 2))
    write([*train_images, test_image])
    leak = _cfg(tmp_path, crops_dir, Path("unused.csv"), *split, *extra)
    with pytest.raises(DataError, match="semi.teacher_labels.*tuning or test image"):
        build_run_data(leak, build_method(leak))
    with pytest.raises(ConfigError, match="semi.teacher_weight"):
        _cfg(tmp_path, crops_dir, Path("unused.csv"), *split, *extra, "semi.teacher_weight=-1")
