"""Fixtures for the export tests: a tiny random checkpoint WITH an SSL branch, written by the
training engine's checkpoint writer, and real face crops from ../shared."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

INPUT_SIZE = 64
SSL_HEADS = {"puzzle": (9, 9)}  # puzzle 3x3


def make_checkpoint(path: Path, backbone: str = "resnet18", seed: int = 0) -> Path:
    """Build a random PoseNet (puzzle 3x3 branch at flag point 3) and save it as a checkpoint.

    The pose heads are scaled up so that the outputs vary from image to image by several degrees
    (a fresh init predicts ~0 deg with a flat distribution for every image).
    """
    from headpose.training.engine.checkpoint import save_checkpoint
    from headpose.training.models import build_model

    torch.manual_seed(seed)
    model = build_model(backbone, ssl_heads=SSL_HEADS, flag_point=3)
    with torch.no_grad():
        for param in model.pose_head.parameters():
            param.mul_(30.0)
    state = {
        "format": "headpose-checkpoint",
        "format_version": 1,
        "config": {"test": True},
        "model_config": model.model_config,
        "model": model.state_dict(),
        "metadata": {
            "input_size": [INPUT_SIZE, INPUT_SIZE],
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
            "angles": ["yaw", "pitch", "roll"],
            "bins": {"width": 3.0, "count": 66, "low": -99.0},
            "crop": {"scale": 1.5, "shift_y": 0.0},
            "backbone": backbone,
            "method": "sl-puzzled",
            "train_data": "none (random weights for tests)",
            "license": "test-only",
        },
        "epoch": 0,
        "step": 0,
        "best_metric": None,
        "optimizer": {},
        "scheduler": {},
        "scaler": None,
        "rng": {},
        "history": [],
    }
    return save_checkpoint(path, state)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="session")
def second_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny checkpoint like :func:`tiny_checkpoint`, other random weights (seed 1)."""
    return make_checkpoint(tmp_path_factory.mktemp("ckpt2") / "other.pt", seed=1)


@pytest.fixture(scope="session")
def exported(tiny_checkpoint: Path, crops_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The tiny checkpoint exported once, verified on real AFLW2000 crops."""
    from headpose.export.onnx_export import export_onnx

    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    return export_onnx(tiny_checkpoint, out, verify_images=crops_dir / "images", verify_count=6)


@pytest.fixture(scope="session")
def labelled_dir(crops_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labelled folder of 12 real crops (labels.csv image,yaw,pitch,roll) copied to tmp."""
    lines = (crops_dir / "labels.csv").read_text().splitlines()
    folder = tmp_path_factory.mktemp("labelled")
    (folder / "images").mkdir()
    rows = lines[1:13]
    for row in rows:
        name = row.split(",")[0]
        shutil.copy(crops_dir / name, folder / name)
    (folder / "labels.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    return folder


@pytest.fixture(scope="session")
def calib_dir(labelled_dir: Path) -> Path:
    """A handful of real face crops (no labels) for int8 calibration."""
    return labelled_dir / "images"


@pytest.fixture(scope="session")
def aa_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny checkpoint on the anti-aliased EfficientNet-Lite0 (its blurs pad with zeros)."""
    return make_checkpoint(
        tmp_path_factory.mktemp("ckpt_aa") / "aa.pt", backbone="efficientnet_lite0_aa"
    )
