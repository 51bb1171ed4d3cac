"""Online distillation and the moving average of the weights: a teacher (an exported ONNX model)
labels every batch; the average is what validation and export use; a killed run resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from headpose.errors import CheckpointError
from headpose.pose_model import PoseModel
from headpose.preprocess import crop_face, to_input_tensor
from headpose.training.config import ConfigError, load_config
from headpose.training.engine.checkpoint import inference_weights, load_checkpoint
from headpose.training.engine.teacher import OnnxTeacher
from headpose.training.engine.trainer import IMAGENET_MEAN, IMAGENET_STD, Trainer, train

pytestmark = pytest.mark.slow

SIZE = 48


def _cfg(out: Path, crops_dir: Path, *extra: str):
    return load_config(
        "default/distil_lite0_112_long",
        [
            f"data.root={crops_dir}",
            "semi.pseudo_labels=",
            "semi.per_epoch=0",
            f"runtime.out_dir={out}",
            "model.backbone=mobilenetv3_small_100",
            "model.init=random",
            f"model.input_size={SIZE}",
            "optim.batch_size=4",
            "optim.epochs=2",
            "optim.milestones=[1]",
            "data.low_data=6",
            "data.split.val_fraction=0.005",
            "data.split.tune_fraction=0.005",
            "runtime.workers=0",
            "runtime.log_every=1",
            "runtime.checkpoint_every_steps=2",
            "runtime.progress=false",
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory, crops_dir: Path) -> Path:
    """A tiny trained model exported to ONNX (a stand-in for the shipped ensemble)."""
    from headpose.export.onnx_export import export_onnx

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("teacher")
    cfg = _cfg(folder / "run", crops_dir, "distill.teacher=", "optim.ema_decay=0", "optim.epochs=1")
    train(cfg)
    out = folder / "teacher.onnx"
    export_onnx(folder / "run" / "last.pt", out, verify_images=crops_dir / "images", verify_count=2)
    return out


def _crops(crops_dir: Path, n: int = 3) -> list[np.ndarray]:
    import cv2

    out = []
    for path in sorted((crops_dir / "images").glob("*.jpg"))[:n]:
        img = cv2.imread(str(path))
        h, w = img.shape[:2]
        out.append(crop_face(img, [w * 0.2, h * 0.2, w * 0.8, h * 0.8], _rule(), (SIZE, SIZE)))
    return out


def _rule():
    from headpose.metadata import CropRule

    return CropRule(scale=1.5, shift_y=0.0)


def test_teacher_answers_the_students_batch_as_the_runtime_would(
    teacher: Path, crops_dir: Path
) -> None:
    crops = _crops(crops_dir)
    runtime = PoseModel(teacher, threads=1)
    want_a, want_s = runtime.predict_crops(crops)
    batch = torch.from_numpy(to_input_tensor(crops, runtime.meta))  # the student's normalisation
    t = OnnxTeacher(teacher, ("yaw", "pitch", "roll"), IMAGENET_MEAN, IMAGENET_STD, (1.5, 0.0))
    got_a, got_s = t(batch)
    assert np.allclose(got_a.numpy(), want_a, atol=1e-3)
    assert np.allclose(got_s.numpy(), want_s, atol=1e-3)
    # a student of other angles gets the teacher's columns in its own order
    t2 = OnnxTeacher(teacher, ("roll", "yaw"), IMAGENET_MEAN, IMAGENET_STD, (1.5, 0.0))
    a2, _ = t2(batch)
    assert np.allclose(a2.numpy(), want_a[:, [2, 0]], atol=1e-3)
    # another input size: resized to the teacher's, answers stay close
    small = torch.nn.functional.interpolate(batch, size=(40, 40), mode="bilinear")
    a3, _ = t(small)
    assert a3.shape == (3, 3) and np.isfinite(a3.numpy()).all()


def test_teacher_with_another_crop_rule_is_refused(teacher: Path) -> None:
    with pytest.raises(ConfigError, match="distill.teacher.*scale"):
        OnnxTeacher(teacher, ("yaw",), IMAGENET_MEAN, IMAGENET_STD, (1.2, 0.0))


def test_distillation_needs_clean_pose_inputs(tmp_path: Path, crops_dir: Path) -> None:
    with pytest.raises(ConfigError, match="distill.teacher"):
        _cfg(tmp_path, crops_dir, "method=hmtl", "ssl.input=shared", "distill.teacher=x.onnx")
    with pytest.raises(ConfigError, match="optim.ema_decay"):
        _cfg(tmp_path, crops_dir, "optim.ema_decay=1.0")


def test_distilled_run_with_ema_resumes_exactly_and_exports_the_average(
    tmp_path: Path, crops_dir: Path, teacher: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.set_num_threads(1)
    straight = tmp_path / "straight"
    train(_cfg(straight, crops_dir, f"distill.teacher={teacher}"))
    log = (straight / "log.csv").read_text().splitlines()
    header = log[0].split(",")
    assert "train/distill/total" in header and "val_raw/mae_mean" in header
    assert "val/mae_mean" in header

    class Crash(RuntimeError):
        pass

    def crash(trainer: Trainer) -> None:
        if trainer.step == 5:
            raise Crash

    crashed = tmp_path / "crashed"
    with pytest.raises(Crash):
        train(_cfg(crashed, crops_dir, f"distill.teacher={teacher}"), callbacks=[crash])
    train(_cfg(crashed, crops_dir, f"distill.teacher={teacher}"), resume=True)
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(crashed / "last.pt")
    assert a["step"] == b["step"] and int(a["ema"]["n_averaged"]) == a["step"]
    for key in ("model", "ema"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)
    ema, raw = inference_weights(a), inference_weights(a, "raw")
    assert set(ema) == set(raw) and any(not torch.equal(ema[k], raw[k]) for k in raw)

    from headpose.export.onnx_export import export_onnx

    out = export_onnx(
        straight / "last.pt",
        tmp_path / "m.onnx",
        verify_count=2,
        verify_images=crops_dir / "images",
    )
    meta = json.loads({p.key: p.value for p in onnx.load(str(out.path)).metadata_props}["headpose"])
    assert meta["extra"]["weights"] == "ema"
    raw_out = export_onnx(
        straight / "last.pt",
        tmp_path / "r.onnx",
        verify_count=2,
        verify_images=crops_dir / "images",
        weights="raw",
    )
    from headpose.training.cli import eval as eval_cli

    def eval_mae(*extra: str) -> float:
        argv = ["--checkpoint", str(straight / "last.pt"), "--data", str(crops_dir), "--json"]
        assert eval_cli.main([*argv, *extra]) == 0
        return float(json.loads(capsys.readouterr().out)["mean"])

    capsys.readouterr()
    assert eval_mae() == eval_mae("--weights", "ema") != eval_mae("--weights", "raw")
    crops = _crops(crops_dir)
    assert not np.allclose(
        PoseModel(out.path).predict_crops(crops)[0], PoseModel(raw_out.path).predict_crops(crops)[0]
    )


def test_ema_weights_of_a_run_without_them_is_a_clear_error(
    teacher: Path, crops_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the teacher's own run kept no moving average
    state = load_checkpoint(teacher.parent / "run" / "last.pt")
    assert not state["ema"]
    with pytest.raises(CheckpointError, match="no moving average"):
        inference_weights(state, "ema", "last.pt")
    assert inference_weights(state).keys() == state["model"].keys()
    from headpose.training.cli import eval as eval_cli

    last = str(teacher.parent / "run" / "last.pt")
    code = eval_cli.main(["--checkpoint", last, "--data", str(crops_dir), "--weights", "ema"])
    err = capsys.readouterr().err
    assert code == 2 and "no moving average" in err and err.startswith("headpose-eval: ")
