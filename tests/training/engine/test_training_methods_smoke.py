"""End-to-end smoke runs: every method trains a few steps and writes checkpoint, CSV and PNG."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from headpose.training.checkpoint_io import load_checkpoint
from headpose.training.config import load_config
from headpose.training.engine.trainer import train

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


def tiny(out_dir: Path, root: Path, *extra: str, base: str = "cpu/sl_resnet18_128"):
    """A run of a few 48-px steps on a handful of images."""
    return load_config(
        base,
        [
            f"data.root={root}",
            f"runtime.out_dir={out_dir}",
            "model.backbone=mobilenetv3_small_100",
            "model.input_size=48",
            "optim.batch_size=4",
            "optim.epochs=2",
            "data.low_data=8",
            "data.split.val_fraction=0.005",
            "runtime.workers=0",
            "runtime.log_every=1",
            "runtime.progress=false",
            *extra,
        ],
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("method", "parts"),
    [
        ("sl", ["train/pose/ce", "train/pose/rmse_yaw"]),
        ("sl-puzzled", ["train/pose/ce", "train/pose/rmse"]),
        ("hmtl", ["train/pose/ce", "train/ssl/puzzle", "train/ssl/total"]),
    ],
)
def test_pose_methods_train_and_write_outputs(
    tmp_path: Path, crops_dir: Path, method: str, parts: list[str]
) -> None:
    out = tmp_path / method
    row = train(tiny(out, crops_dir, f"method={method}", "ssl.task=puzzle", "ssl.grid=3"))
    assert row["step"] == 4 and row["epoch"] == 2
    for name in ("last.pt", "best.pt", "log.csv", "learning_curve.png", "config.yaml"):
        assert (out / name).is_file(), name
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_rows(out / "log.csv")
    assert [r["kind"] for r in rows].count("epoch") == 2
    assert [r["kind"] for r in rows].count("step") == 4
    for key in [*parts, "train/loss", "val/mae_yaw", "val/mae_mean"]:
        assert key in rows[0] or key in rows[-1], key
        assert rows[-1][key] != "", key  # epoch row carries every part and the val MAE
    if method != "hmtl":
        assert not any(k.startswith("train/ssl/") for k in rows[0])
    state = load_checkpoint(out / "last.pt")
    assert state["step"] == 4 and state["epoch"] == 2
    assert state["metadata"]["input_size"] == [48, 48]
    assert state["metadata"]["backbone"] == "mobilenetv3_small_100"
    assert state["metadata"]["method"].startswith(method)
    has_ssl = any(k.startswith("ssl.") for k in state["model"])
    assert has_ssl == (method == "hmtl")


def test_ssl_pretrain_then_initialise_sl(tmp_path: Path, shared_dir: Path, crops_dir: Path) -> None:
    pre = tmp_path / "pre"
    cfg = tiny(
        pre,
        shared_dir / "data" / "utkface",
        "data.split.val_fraction=0.001",
        base="cpu/ssl_pretrain_rotation_utkface",
    )
    assert cfg.method == "ssl-pretrain" and cfg.ssl.task == "image_rotation"
    row = train(cfg)
    assert "train/ssl/rotation" in row and "val/acc_rotation" in row and "val/loss" in row
    assert "train/pose/ce" not in row
    pre_state = load_checkpoint(pre / "best.pt")
    assert any(k.startswith("ssl.rotation") for k in pre_state["model"])

    sl = tmp_path / "sl"
    init_cfg = tiny(
        sl, crops_dir, f"model.init={pre / 'best.pt'}", "optim.epochs=1", "runtime.max_steps=1"
    )
    from headpose.training.engine.trainer import Trainer

    trainer = Trainer(init_cfg)
    loaded = trainer.model.backbone.state_dict()
    for key, value in loaded.items():
        assert torch.equal(value.cpu(), pre_state["model"][f"backbone.{key}"]), key
    assert trainer.model.load_report["backbone"] > 0
    # the weights inherit the pre-training's data and licence: the metadata says so
    trainer.fit()
    meta = load_checkpoint(sl / "last.pt")["metadata"]
    assert "UTKFace" in meta["license"] and "initialised from" in meta["train_data"]
    assert "initialised from ssl-pretrain" in meta["method"]


def test_ssl_share_leaves_images_clean_without_ssl_labels(crops_dir: Path, tmp_path: Path) -> None:
    from headpose.training.engine.methods import build_method
    from headpose.training.losses import IGNORE

    cfg = tiny(tmp_path, crops_dir, "method=hmtl", "ssl.share=0.5")
    method = build_method(cfg)
    image = torch.rand(3, 48, 48)
    gen = torch.Generator().manual_seed(0)
    clean = 0
    for _ in range(200):
        out, labels = method.prepare(image, gen)
        if torch.equal(out, image):
            clean += 1
            assert torch.all(labels["puzzle"] == IGNORE) and labels["puzzle"].shape == (9,)
        else:
            assert torch.all(labels["puzzle"] >= 0)
    assert 70 <= clean <= 130  # about half


def test_ssl_warmup_ramps_the_ssl_weight(crops_dir: Path, tmp_path: Path) -> None:
    from headpose.training.engine.methods import build_method

    method = build_method(tiny(tmp_path, crops_dir, "method=hmtl", "ssl.warmup_epochs=2"))
    assert [method.ssl_scale(e) for e in (0, 0.5, 1, 2, 5)] == [0, 0.25, 0.5, 1, 1]
    out = tmp_path / "run"
    train(tiny(out, crops_dir, "method=hmtl", "ssl.warmup_epochs=2", "optim.epochs=1"))
    rows = [r for r in read_rows(out / "log.csv") if r["kind"] == "step"]
    # first step: scale 0 -> the logged SSL total is 0 while its unweighted sum is not
    assert float(rows[0]["train/ssl/total"]) == 0.0 and float(rows[0]["train/ssl/sum"]) > 0
    assert float(rows[1]["train/ssl/total"]) == pytest.approx(
        50 * 0.25 * float(rows[1]["train/ssl/sum"]), rel=1e-4
    )
