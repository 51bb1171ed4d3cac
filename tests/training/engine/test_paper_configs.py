"""Every config of ``training/configs/paper/`` loads and trains one step on tiny data.

The configs keep their network (ResNet-50), method, SSL task and grid, flag point, loss, bins,
optimiser (AdaBelief) and augmentation; the test only swaps in tiny data of each config's format
(the AFLW2000 ``.jpg`` + ``.mat`` pairs in ``../shared`` stand in for 300W-LP, whose files have
the same layout; a BIWI ``.npz`` and ETH-XGaze ``.h5`` subjects written from real crops), a
64 px input, batch 2, CPU, and ImageNet init -> random (no download in tests). A row initialised
from an ETH-XGaze SSL pre-training loads a real checkpoint made by one step of that pre-training.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch

from headpose.training.config import list_builtin_configs, load_config
from headpose.training.engine.trainer import StopTraining, Trainer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

PAPER = sorted(n for n in list_builtin_configs() if n.startswith("paper/") and "_study" not in n)
SUBJECTS = ("0002", "0003", "0108", "0109", "0111")  # two training, the three held-out ones


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path, crops_dir: Path) -> Path:
    """``<root>/{biwi.npz, xgaze/subject*.h5}`` from 12 real crops."""
    root = tmp_path_factory.mktemp("paper_data")
    lines = (crops_dir / "labels.csv").read_text(encoding="utf-8").splitlines()[1:]
    rows = [line.split(",") for line in lines if "," in line and all(line.split(",")[1:4])][:12]
    faces = np.stack(
        [cv2.resize(cv2.imread(str(crops_dir / r[0])), (48, 48)) for r in rows]
    )  # BGR uint8
    pose = np.array([[float(v) for v in r[1:4]] for r in rows])  # yaw, pitch, roll degrees
    np.savez(root / "biwi.npz", image=faces, pose=pose, img_size=48)
    xgaze = root / "xgaze"
    xgaze.mkdir()
    for subject in SUBJECTS:
        with h5py.File(xgaze / f"subject{subject}.h5", "w") as h5:
            h5.create_dataset("face_patch", data=faces)
            h5.create_dataset("face_head_pose", data=np.radians(pose[:, [1, 0]]))  # pitch, yaw
            h5.create_dataset("face_gaze", data=np.zeros((len(faces), 2)))
    return root


def tiny_overrides(name: str, data: Path, originals: Path, out: Path) -> list[str]:
    """The overrides that shrink config ``name`` to one CPU step on ``data``."""
    cfg = load_config(name)
    extra = [
        "model.input_size=64",
        "optim.batch_size=2",
        "runtime.device=cpu",
        "runtime.amp=off",
        "runtime.workers=0",
        "runtime.progress=false",
        "runtime.tensorboard=false",
        f"runtime.out_dir={out}",
    ]
    roots = {
        "300wlp": originals,
        "aflw2000": originals,
        "biwi": data / "biwi.npz",
        "eth_xgaze": data / "xgaze",
    }
    extra.append(f"data.root={roots[cfg.data.kind]}")
    if cfg.data.val_kind:
        extra.append(f"data.val_root={roots[cfg.data.val_kind]}")
    if cfg.model.init == "imagenet":
        extra.append("model.init=random")
    return extra


def one_step(name: str, overrides: list[str]) -> Trainer:
    """Build the trainer of ``name`` and run exactly one optimiser step (no checkpoint)."""

    def stop(trainer: Trainer) -> None:
        raise StopTraining("one step")

    trainer = Trainer(load_config(name, overrides), callbacks=[stop])
    before = [p.detach().clone() for p in trainer.model.parameters() if p.requires_grad]
    with pytest.raises(StopTraining):
        trainer.fit()
    assert trainer.step == 1
    after = [p for p in trainer.model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True)), name
    trainer._flush()  # the step's loss parts to the host; raises on a non-finite part
    sums = trainer.epoch_sums
    assert sums and all(math.isfinite(float(v)) for v in sums.values()), (name, sums)
    return trainer


@pytest.fixture(scope="module")
def ssl_checkpoints(
    tmp_path_factory: pytest.TempPathFactory, tiny_data: Path, shared_dir: Path
) -> dict[str, Path]:
    """``{task: best.pt}`` of one step of each ETH-XGaze SSL pre-training config."""
    out: dict[str, Path] = {}
    originals = shared_dir / "data" / "aflw2000-originals"
    for task in ("puzzle", "rotation"):
        name = f"paper/ssl_pretrain_{task}_2x2_eth_xgaze"
        run = tmp_path_factory.mktemp(f"pre_{task}")
        trainer = one_step(name, tiny_overrides(name, tiny_data, originals, run))
        trainer.save(("best.pt",))
        out[task] = run / "best.pt"
    return out


def test_every_table_row_has_a_config() -> None:
    assert len(PAPER) >= 45
    for name in PAPER:
        cfg = load_config(name)
        assert (cfg.model.backbone, cfg.model.input_size) == ("resnet50", 224), name
        assert cfg.optim.name == "adabelief" and cfg.optim.epochs == 110, name
        assert cfg.data.kind in ("300wlp", "eth_xgaze"), name


@pytest.mark.parametrize("name", PAPER)
def test_paper_config_trains_one_step(
    name: str,
    tmp_path: Path,
    tiny_data: Path,
    shared_dir: Path,
    ssl_checkpoints: dict[str, Path],
) -> None:
    originals = shared_dir / "data" / "aflw2000-originals"
    overrides = tiny_overrides(name, tiny_data, originals, tmp_path / "run")
    init = load_config(name).model.init
    if init.endswith("best.pt"):  # an ETH-XGaze SSL pre-training's weights
        task = "puzzle" if "ssl_pretrain_puzzle" in init else "rotation"
        overrides.append(f"model.init={ssl_checkpoints[task]}")
    trainer = one_step(name, overrides)
    cfg = trainer.cfg
    assert cfg.model.backbone == "resnet50" and cfg.optim.name == "adabelief"
    keys = set(trainer.epoch_sums)
    if cfg.method == "hmtl":
        assert any(k.startswith("ssl/") for k in keys), keys
