"""headpose-train / headpose-eval: exit codes, one-line errors, JSON output, ONNX agreement."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from headpose.training.cli import eval as eval_cli
from headpose.training.cli import train as train_cli


def tiny_args(out_dir: Path, root: Path) -> list[str]:
    return [
        "--config",
        "cpu/sl_resnet18_128",
        f"data.root={root}",
        f"runtime.out_dir={out_dir}",
        "model.backbone=mobilenetv3_small_100",
        "model.input_size=48",
        "optim.batch_size=4",
        "optim.epochs=1",
        "data.low_data=8",
        "data.split.val_fraction=0.01",
        "runtime.workers=0",
        "runtime.progress=false",
    ]


def one_line_error(capsys: pytest.CaptureFixture[str], prog: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{prog}: error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "model.backbon=resnet18",
            "unknown config key 'model.backbon'.*closest valid keys: model.backbone",
        ),
        ("optim.lr=fast", "'optim.lr'.*expected a number, got 'fast'"),
        ("data.root=/no/such/folder", "'data.root': data folder not found: /no/such/folder"),
    ],
)
def test_train_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, override: str, expected: str
) -> None:
    code = train_cli.main(
        ["--config", "cpu/sl_resnet18_128", f"runtime.out_dir={tmp_path}/run", override]
    )
    assert code == 2
    assert re.search(expected, one_line_error(capsys, "headpose-train"))
    assert not (tmp_path / "run" / "last.pt").exists()


def test_model_init_with_pickled_code_is_refused_by_train_and_eval(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, crops_dir: Path, pickle_payload
) -> None:
    """A crafted .pt as model.init (train) or --checkpoint (eval) is refused before anything
    in it runs; the message names the file and the trust switch."""
    marker = tmp_path / "payload-ran"
    bad = pickle_payload(tmp_path / "init.pt", marker)
    code = train_cli.main([*tiny_args(tmp_path / "run", crops_dir), f"model.init={bad}"])
    assert code == 2
    err = one_line_error(capsys, "headpose-train")
    assert "init.pt" in err and "--trust-checkpoint" in err
    assert eval_cli.main(["--checkpoint", str(bad), "--data", str(crops_dir)]) == 2
    assert "--trust-checkpoint" in one_line_error(capsys, "headpose-eval")
    assert not marker.exists()


def test_train_unknown_key_in_file_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: cpu/sl_resnet18_128\noptim:\n  learning_rate: 0.1\n")
    assert train_cli.main(["--config", str(bad)]) == 2
    err = one_line_error(capsys, "headpose-train")
    assert "optim.learning_rate" in err and str(bad) in err and "optim.lr" in err


def test_print_config_applies_typed_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        train_cli.main(
            ["--config", "cpu/hmtl_puzzle3_flag3_resnet18_128", "optim.lr=0.01", "--print-config"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "method: hmtl" in printed and "lr: 0.01" in printed


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, crops_dir: Path) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("cli") / "run"
    assert train_cli.main(tiny_args(out, crops_dir)) == 0
    return out


@pytest.mark.slow
def test_eval_json_keys_and_split_baseline(
    trained: Path, crops_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    # a small labelled folder: the first 12 rows of the crops (images are read from ../shared)
    lines = (crops_dir / "labels.csv").read_text().splitlines()[:13]
    subset = tmp_path / "subset"
    subset.mkdir()
    (subset / "labels.csv").write_text(
        "\n".join(lines[:1] + [str(crops_dir / r) for r in lines[1:]]) + "\n"
    )
    code = eval_cli.main(
        ["--checkpoint", str(trained / "best.pt"), "--data", str(subset), "--json"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) <= {"n", "yaw", "pitch", "roll", "mean", "reduced", "by_yaw", "geodesic"}
    assert {"n", "yaw", "pitch", "roll", "mean"} <= set(result) and result["n"] == 12
    assert result["mean"] == pytest.approx(
        (result["yaw"] + result["pitch"] + result["roll"]) / 3, abs=1e-3
    )

    # the held-out split of the training run, with the training-mean baseline
    code = eval_cli.main(
        [
            "--checkpoint",
            str(trained / "best.pt"),
            "--split",
            "val",
            f"data.root={crops_dir}",
            "--json",
        ]
    )
    assert code == 0
    split = json.loads(capsys.readouterr().out)
    assert split["n"] == 14 and set(split["baseline"]) == {"n", "yaw", "pitch", "roll", "mean"}
    # equals the validation MAE the trainer logged for that epoch
    from headpose.training.checkpoint_io import load_checkpoint

    logged = load_checkpoint(trained / "best.pt")["history"][-1]
    assert split["yaw"] == pytest.approx(logged["val/mae_yaw"], abs=1e-3)

    # the tuning split: the images split_images(cfg, "tune") names, none of them in validation
    from headpose.training.config import apply_overrides, config_from_dict
    from headpose.training.data.run_split import split_images

    base = ["--checkpoint", str(trained / "best.pt"), "--json", f"data.root={crops_dir}"]
    assert eval_cli.main([*base, "--split", "tune", "data.split.tune_fraction=0.1"]) == 0
    tune = json.loads(capsys.readouterr().out)
    cfg = config_from_dict(load_checkpoint(trained / "best.pt")["config"], "trained")
    apply_overrides(cfg, [f"data.root={crops_dir}", "data.split.tune_fraction=0.1"])
    tune_files, _ = split_images(cfg, "tune")
    assert tune["n"] == len(tune_files) > 0
    assert not set(tune_files) & set(split_images(cfg, "val")[0])
    assert eval_cli.main([*base, "--split", "tune"]) == 2  # the run had no tuning split
    assert "no tuning split" in capsys.readouterr().err


def test_train_refuses_to_overwrite_a_run(
    trained: Path, crops_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (trained / "last.pt").stat().st_mtime_ns
    assert train_cli.main(tiny_args(trained, crops_dir)) == 2
    assert "already holds a run" in one_line_error(capsys, "headpose-train")
    assert (trained / "last.pt").stat().st_mtime_ns == before


def test_eval_bad_input_exits_2(
    trained: Path, crops_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert (
        eval_cli.main(["--checkpoint", str(trained / "best.pt"), "--data", str(tmp_path / "none")])
        == 2
    )
    assert "--data: not found" in one_line_error(capsys, "headpose-eval")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert eval_cli.main(["--checkpoint", str(broken), "--data", str(crops_dir)]) == 2
    assert "broken.pt: not a readable torch checkpoint" in one_line_error(capsys, "headpose-eval")
    assert eval_cli.main(["--data", str(crops_dir)]) == 2
    assert "--checkpoint" in one_line_error(capsys, "headpose-eval")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flip_average", "input_zoom", "input_size"),
    [(False, 1.0, (48, 48)), (True, 0.8, (60, 60))],  # 48 / 0.8 = 60
)
def test_checkpoint_and_onnx_evaluations_agree(
    trained: Path,
    crops_dir: Path,
    tmp_path: Path,
    flip_average: bool,
    input_zoom: float,
    input_size: tuple[int, int],
) -> None:
    export = pytest.importorskip("headpose.export.onnx_export")
    from headpose.training.data import build_dataset
    from headpose.training.engine import evaluate as E

    onnx_path = tmp_path / "model.onnx"
    export.export_onnx(
        trained / "best.pt", onnx_path, flip_average=flip_average, input_zoom=input_zoom
    )
    dataset = build_dataset("csv", crops_dir).view(list(range(0, 1389, 70)))  # 20 images
    by_ckpt, meta_ckpt = E.checkpoint_predictor(
        trained / "best.pt", "cpu", flip_average, input_zoom
    )
    by_onnx, meta = E.onnx_predictor(onnx_path)
    assert meta.input_size == meta_ckpt.input_size == input_size
    a, target = E.predict_dataset(by_ckpt, dataset, batch_size=8)
    b, _ = E.predict_dataset(by_onnx, dataset, batch_size=8)
    assert a.shape == b.shape == (20, 3)
    assert abs(a - b).max() < 0.01  # degrees
    ra, rb = E.score(a, target), E.score(b, target)
    for key in ("yaw", "pitch", "roll", "mean"):
        assert ra.full[key] == pytest.approx(rb.full[key], abs=0.01)


def test_eval_refuses_an_input_zoom_outside_0_1(
    trained: Path, crops_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--checkpoint", str(trained / "best.pt"), "--data", str(crops_dir)]
    assert eval_cli.main([*args, "--input-zoom", "1.2"]) == 2
    assert "--input-zoom" in one_line_error(capsys, "headpose-eval")


@pytest.fixture
def corrupt_folder(tmp_path: Path, crops_dir: Path) -> tuple[Path, Path]:
    """8 real labelled crops in a labels.csv folder, one of them replaced by garbage bytes."""
    import shutil

    lines = (crops_dir / "labels.csv").read_text().splitlines()
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    rows = lines[1:9]
    for row in rows:
        name = row.split(",")[0]
        shutil.copy(crops_dir / name, root / name)
    (root / "labels.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    bad = root / rows[3].split(",")[0]
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    return root, bad


@pytest.mark.parametrize("workers", [0, 1])
def test_corrupt_image_error_names_the_file_whatever_the_workers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, corrupt_folder, workers: int
) -> None:
    root, bad = corrupt_folder
    args = [*tiny_args(tmp_path / "run", root), "data.split.by=none", f"runtime.workers={workers}"]
    assert train_cli.main(args) == 2
    err = one_line_error(capsys, "headpose-train")
    assert str(bad) in err and "DataLoader worker process" not in err


def test_check_data_lists_bad_files_before_training(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, corrupt_folder
) -> None:
    root, bad = corrupt_folder
    args = [*tiny_args(tmp_path / "run", root), "data.split.by=none", "--check-data"]
    assert train_cli.main(args) == 2
    err = capsys.readouterr().err
    assert f"bad data: {bad}" in err and "1 of 8 images cannot be used" in err
    assert not (tmp_path / "run" / "last.pt").exists()  # nothing trained


def test_stale_checkpoint_temp_file_is_removed_at_start(tmp_path: Path, crops_dir: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    stale = run / ".last.pt.tmp-999999999"  # no such process
    stale.write_bytes(b"half of a killed save")
    args = [*tiny_args(run, crops_dir), "runtime.max_steps=1", "data.low_data=4"]
    assert train_cli.main(args) == 0
    assert not stale.exists() and (run / "last.pt").is_file()


def test_resume_says_what_it_found(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, crops_dir: Path
) -> None:
    """--resume before any checkpoint names the fix; on a finished run it says so instead of
    printing nothing."""
    args = tiny_args(tmp_path / "run", crops_dir)
    assert train_cli.main([*args, "--resume"]) == 2
    err = one_line_error(capsys, "headpose-train")
    assert "holds no checkpoint (last.pt) yet; run without --resume" in err
    assert train_cli.main(args) == 0
    capsys.readouterr()
    assert train_cli.main([*args, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "nothing to train" in out and "optim.epochs=1" in out


def test_a_run_stopped_by_max_steps_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, crops_dir: Path
) -> None:
    """A fresh run with runtime.max_steps=2 trained two steps and then printed only "nothing
    to train" (issue 40)."""
    args = [*tiny_args(tmp_path / "run", crops_dir), "data.low_data=16", "runtime.max_steps=2"]
    assert train_cli.main(args) == 0  # 4 steps an epoch: stopped mid-epoch
    out = capsys.readouterr().out
    assert "nothing to train" not in out
    assert "stopped at runtime.max_steps=2 after 2 step(s) of training" in out
    assert "holds step 2 (epoch 1, 2 of 4 steps into it)" in out and "--resume" in out
    assert train_cli.main([*args, "--resume"]) == 0  # the limit reached: now nothing to do
    out = capsys.readouterr().out
    assert "resuming" in out and "from step 2 (epoch 1, 2 of 4 steps into it)" in out
    assert "nothing to train" in out and "runtime.max_steps=2 (step 2)" in out


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Ctrl+C during the optimizer step number ``step`` (1-based) of this process."""
    from headpose.training.engine.trainer import Trainer

    real = Trainer.train_step
    calls = [0]

    def train_step(self, batch):
        calls[0] += 1
        if calls[0] == step:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(Trainer, "train_step", train_step)


def test_interrupt_before_the_first_checkpoint_says_nothing_was_saved(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    crops_dir: Path,
) -> None:
    """Ctrl+C before the first checkpoint printed "continue with --resume", which then failed
    with "holds no checkpoint" (issue 40)."""
    args = tiny_args(tmp_path / "run", crops_dir)
    _interrupt_at(monkeypatch, 1)
    assert train_cli.main(args) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("headpose-train: interrupted at step 0, before the first checkpoint")
    assert "nothing saved yet; start again" in err and "continue with --resume" not in err
    assert not (tmp_path / "run" / "last.pt").exists()
    monkeypatch.undo()
    assert train_cli.main(args) == 0  # starting again works as the line says


def test_interrupt_after_a_checkpoint_names_the_step_resume_continues_from(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    crops_dir: Path,
) -> None:
    args = [
        *tiny_args(tmp_path / "run", crops_dir),
        "data.low_data=16",
        "runtime.checkpoint_every_steps=2",
    ]
    _interrupt_at(monkeypatch, 3)
    assert train_cli.main(args) == 130
    err = capsys.readouterr().err.strip()
    assert "interrupted at step 2;" in err and "last.pt holds step 2" in err
    assert "--resume continues from there" in err
    monkeypatch.undo()
    assert train_cli.main([*args, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "from step 2 (epoch 1, 2 of 4 steps into it)" in out and "done at epoch 1" in out
