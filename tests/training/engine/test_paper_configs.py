"""Every config of ``training/configs/paper/`` loads and validates; one config of each kind trains.

The 46 configs differ in a few keys (flag point, grid, augmentation level, bins, init), so
stepping each of them repeated the same code 46 times with a ResNet-50. Here every config is
loaded and checked as the paper sets it (ResNet-50 at 224 px, AdaBelief, 110 epochs) and with
the tiny overrides the step uses; then one config per distinct (method, SSL task, training data
kind) trains one optimiser step, chosen so that together they also cover every validation data
kind and every ``model.init`` source (random, ImageNet, an SSL pre-training's checkpoint, also
into a model with SSL branches).

A step keeps the config's method, SSL task and grid, flag point, loss, bins, optimiser and
augmentation, and swaps in tiny data of its format (the AFLW2000 ``.jpg`` + ``.mat`` pairs in
``../shared`` stand in for 300W-LP, whose files have the same layout; a BIWI ``.npz`` and
ETH-XGaze ``.h5`` subjects written from real crops), a small network (:data:`TINY_NETWORK`: the
configs leave the backbone to ``model.backbone``), batch 2, CPU, and ImageNet init -> random (no
download in tests). A config initialised from an ETH-XGaze SSL pre-training loads a real
checkpoint made by one step of that pre-training (with the same small network).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch

from headpose.training.config import Config, list_builtin_configs, load_config
from headpose.training.engine.trainer import StopTraining, Trainer
from headpose.training.plugins import METHODS

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

PAPER = sorted(n for n in list_builtin_configs() if n.startswith("paper/") and "_study" not in n)
SUBJECTS = ("0002", "0003", "0108", "0109", "0111")  # two training, the three held-out ones
#: the network of the one-step runs (the configs' own is ResNet-50 at 224 px)
TINY_NETWORK = ("model.backbone=mobilenetv3_small_100", "model.input_size=48")


def init_source(cfg: Config) -> str:
    """Where ``model.init`` comes from: ``random``, ``imagenet`` or ``checkpoint``."""
    return "checkpoint" if cfg.model.init.endswith(".pt") else cfg.model.init


def kind(cfg: Config) -> tuple[str, str, str]:
    """(method, SSL task or ``-`` when the method uses none, training data kind)."""
    task = cfg.ssl.task if METHODS[cfg.method].task_input else "-"
    return cfg.method, task, cfg.data.kind


def covers(cfg: Config) -> set[tuple[str, ...]]:
    """What a step of ``cfg`` exercises beyond its kind: its validation data, its init source,
    and whether a pre-training's checkpoint goes into a model with SSL branches (they must
    fit)."""
    out = {("val_kind", cfg.data.val_kind), ("init", init_source(cfg))}
    if init_source(cfg) == "checkpoint" and METHODS[cfg.method].ssl_loss:
        out.add(("init", "checkpoint", "into SSL branches"))
    return out


def one_per_kind(names: list[str]) -> dict[tuple[str, str, str], str]:
    """One config name per :func:`kind`, picked greedily: each time the (kind, config) whose
    uncovered :func:`covers` weigh most, each weighing 1 / the number of kinds that have it (a
    rare one first), the first in sorted order on a tie."""
    groups: dict[tuple[str, str, str], list[tuple[str, Config]]] = defaultdict(list)
    for name in names:
        cfg = load_config(name)
        groups[kind(cfg)].append((name, cfg))
    kinds_with: dict[tuple[str, ...], int] = defaultdict(int)
    for members in groups.values():
        for feature in set().union(*(covers(cfg) for _, cfg in members)):
            kinds_with[feature] += 1
    covered: set[tuple[str, ...]] = set()
    picked: dict[tuple[str, str, str], str] = {}
    while len(picked) < len(groups):
        key, name, cfg = max(
            ((k, n, c) for k in sorted(groups) if k not in picked for n, c in sorted(groups[k])),
            key=lambda choice: sum(1 / kinds_with[f] for f in covers(choice[2]) - covered),
        )
        picked[key] = name
        covered |= covers(cfg)
    return picked


STEPPED = sorted(one_per_kind(PAPER).values())


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
        *TINY_NETWORK,
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


def pretraining_of(cfg: Config) -> str:
    """The paper config whose run writes the checkpoint ``cfg`` starts from
    (``runs/paper/NAME/best.pt`` -> ``paper/NAME``)."""
    return f"paper/{Path(cfg.model.init).parent.name}"


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
    """``{pre-training config: best.pt}`` of one step of each ETH-XGaze SSL pre-training."""
    out: dict[str, Path] = {}
    originals = shared_dir / "data" / "aflw2000-originals"
    for task in ("puzzle", "rotation"):
        name = f"paper/ssl_pretrain_{task}_2x2_eth_xgaze"
        run = tmp_path_factory.mktemp(f"pre_{task}")
        trainer = one_step(name, tiny_overrides(name, tiny_data, originals, run))
        trainer.save(("best.pt",))
        out[name] = run / "best.pt"
    return out


def test_every_config_loads_validates_and_keeps_the_papers_setting(tmp_path: Path) -> None:
    assert len(PAPER) >= 45
    pretrainings = {n for n in PAPER if "ssl_pretrain" in n}
    assert len(pretrainings) == 2
    for name in PAPER:
        cfg = load_config(name)
        assert (cfg.model.backbone, cfg.model.input_size) == ("resnet50", 224), name
        assert cfg.optim.name == "adabelief" and cfg.optim.epochs == 110, name
        assert cfg.data.kind in ("300wlp", "eth_xgaze"), name
        if init_source(cfg) == "checkpoint":  # the path a pre-training config writes
            assert pretraining_of(cfg) in pretrainings, (name, cfg.model.init)
        # the overrides of a step are valid for every config, not only the stepped ones
        tiny = load_config(name, tiny_overrides(name, tmp_path, tmp_path, tmp_path / "run"))
        assert kind(tiny) == kind(cfg) and tiny.ssl == cfg.ssl and tiny.loss == cfg.loss, name


def test_the_stepped_configs_cover_every_kind_validation_data_and_init() -> None:
    configs = [load_config(n) for n in PAPER]
    stepped = [load_config(n) for n in STEPPED]
    assert {kind(c) for c in stepped} == {kind(c) for c in configs}
    assert len(STEPPED) == len({kind(c) for c in configs}) < len(PAPER) / 3
    assert set().union(*map(covers, stepped)) == set().union(*map(covers, configs))


@pytest.mark.parametrize("name", STEPPED)
def test_one_config_of_each_kind_trains_one_step(
    name: str,
    tmp_path: Path,
    tiny_data: Path,
    shared_dir: Path,
    request: pytest.FixtureRequest,
) -> None:
    originals = shared_dir / "data" / "aflw2000-originals"
    overrides = tiny_overrides(name, tiny_data, originals, tmp_path / "run")
    cfg = load_config(name)
    if init_source(cfg) == "checkpoint":  # an ETH-XGaze SSL pre-training's weights
        checkpoints = request.getfixturevalue("ssl_checkpoints")
        overrides.append(f"model.init={checkpoints[pretraining_of(cfg)]}")
    trainer = one_step(name, overrides)
    assert trainer.cfg.optim.name == "adabelief" and kind(trainer.cfg) == kind(cfg)
    keys = set(trainer.epoch_sums)
    if METHODS[cfg.method].ssl_loss:
        assert any(k.startswith("ssl/") for k in keys), keys
    if METHODS[cfg.method].pose_loss:
        assert any(k.startswith("pose/") for k in keys), keys
