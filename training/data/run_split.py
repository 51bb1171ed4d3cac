"""A run's data split, read the one way training, evaluation, calibration and the data tools
share: ``data.root`` opened as ``data.kind`` with the config's options, then split as
``data.split`` says (validation, the tuning split, training filters and limits).

Needs no torch (the data tools and calibration read splits without it);
:mod:`headpose.training.engine.data_setup` builds the training samples on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headpose.training.config import Config, ConfigError, expand_path, load_config

from .csv_folder import BoxJitter
from .records import stack_targets, within_limit
from .registry import build_dataset
from .splits import kfold_split, limit_data, split_by_file, split_by_subject


def data_root(cfg: Config, value: str, key: str) -> Path:
    if not value:
        raise ConfigError(f"config key '{key}': no data folder given")
    path = Path(expand_path(value, cfg))
    if not path.exists():
        raise ConfigError(f"config key '{key}': data folder not found: {path} (from {value!r})")
    return path


def open_dataset(cfg: Config, kind: str, root: Path, options: dict[str, Any] | None = None) -> Any:
    """The dataset of ``kind`` at ``root``; ``options`` (default ``data.options``) go to its factory."""
    opts: dict[str, Any] = {}
    if kind == "csv":
        j = cfg.data.box_jitter
        opts = {
            "csv_name": cfg.data.csv,
            "crop_scale": cfg.data.crop_scale,
            "crop_shift_y": cfg.data.crop_shift_y,
        }
        if j.shift or j.scale or j.aspect:
            opts["box_jitter"] = BoxJitter(j.shift, j.scale, j.aspect)
    opts.update(cfg.data.options if options is None else options)
    return build_dataset(kind, root, **opts)


def split_train_val(cfg: Config, full: Any) -> tuple[list[int], list[int]]:
    """Train / validation indices of ``full`` as ``cfg.data.split`` says (then ``low_data``);
    the tuning split (``data.split.tune_fraction``) is left out of train."""
    train, _tune, val = split_train_tune_val(cfg, full)
    return train, val


def split_train_tune_val(cfg: Config, full: Any) -> tuple[list[int], list[int], list[int]]:
    """Train, tuning and validation indices of ``full``.

    The tuning split is ``data.split.tune_fraction`` of the training split (drawn with seed
    ``split.seed + 1000``), or fold ``tune_fold`` of ``tune_folds`` of it, filtered by
    ``data.train_max_abs_angle`` like training; empty when both are 0. Validation never changes
    with any of these settings.
    """
    s = cfg.data.split
    if s.by == "none":
        train, val = list(range(len(full))), []
    else:
        if s.by == "file":
            split = split_by_file(full, s.val_fraction, s.seed)
        elif s.by == "subject" and s.val_subjects:
            split = split_by_subject(full, val_subjects=s.val_subjects)
        elif s.by == "subject":
            split = split_by_subject(full, val_fraction=s.val_fraction, seed=s.seed)
        else:
            split = kfold_split(full, s.folds, s.fold, seed=s.seed)
        train, val = split.train.tolist(), split.val.tolist()
    tune: list[int] = []
    if (s.tune_fraction > 0 or s.tune_folds) and train:
        order = np.random.default_rng(s.seed + 1000).permutation(len(train))
        if s.tune_folds:
            held = np.array_split(order, s.tune_folds)[s.tune_fold]
        else:
            held = order[: max(1, round(s.tune_fraction * len(train)))]
        chosen = set(held.tolist())
        tune = [i for k, i in enumerate(train) if k in chosen]
        train = [i for k, i in enumerate(train) if k not in chosen]
    if cfg.data.train_max_abs_angle is not None:
        limit = cfg.data.train_max_abs_angle

        def keep(indices: list[int]) -> list[int]:
            if not indices:
                return indices
            ok = within_limit(stack_targets([full.records[i] for i in indices]), limit)
            return [i for i, kept in zip(indices, ok, strict=True) if kept]

        train, tune = keep(train), keep(tune)
    if cfg.data.low_data_subjects:
        train = limit_data(
            full, indices=train, max_subjects=cfg.data.low_data_subjects, seed=s.seed
        ).tolist()
    if cfg.data.train_fraction < 1.0 and train:
        count = max(1, int(round(len(train) * cfg.data.train_fraction)))
        train = limit_data(full, indices=train, max_images=count, seed=s.seed).tolist()
    if cfg.data.low_data:
        train = limit_data(full, indices=train, max_images=cfg.data.low_data, seed=s.seed).tolist()
    return train, tune, val


@dataclass
class RunSplit:
    """The labelled data of a run, split as the run splits it (:func:`open_split`).

    ``full``: ``data.root`` opened as ``data.kind`` with ``data.options`` (e.g. the study's
    ``max_abs_angle``); ``train`` / ``tune``: indices of ``full``; ``val``: indices of
    ``val_base``, which is ``full`` or, with ``data.val_root``, that dataset (then every row).
    """

    full: Any
    train: list[int]
    tune: list[int]
    val: list[int]
    val_base: Any

    def images(self, part: str) -> set[str]:
        """Resolved paths of the images of ``part`` (``train``, ``tune`` or ``val``)."""
        base = self.val_base if part == "val" else self.full
        return {str(Path(base.records[i].image).resolve()) for i in getattr(self, part)}

    def held_out_images(self) -> set[str]:
        """Resolved paths of the tuning and test (validation) images: never trained on."""
        return self.images("tune") | self.images("val")


def open_split(cfg: Config) -> RunSplit:
    """Open ``cfg``'s data and split it exactly as a run does: the one reading of a run's split
    that training (:func:`headpose.training.engine.data_setup.build_run_data`) and the data
    tools (:func:`run_split_images`) share, so a tool cannot see another split than the run's (a
    tool once opened the CSV without ``data.options`` and split other rows)."""
    full = open_dataset(cfg, cfg.data.kind, data_root(cfg, cfg.data.root, "data.root"))
    train, tune, val = split_train_tune_val(cfg, full)
    val_base = full
    if cfg.data.val_root:
        val_base = open_dataset(
            cfg,
            cfg.data.val_kind or cfg.data.kind,
            data_root(cfg, cfg.data.val_root, "data.val_root"),
            cfg.data.val_options,
        )
        val = list(range(len(val_base)))
        if cfg.data.split.by == "none":
            train = train or list(range(len(full)))
    return RunSplit(full, train, tune, val, val_base)


def run_split_images(config: str, data: str | Path | None = None) -> tuple[set[str], set[str]]:
    """``(trained, held_out)``: resolved paths of the training images, and of the tuning and
    test images, of ``config``'s split of its data (of ``data`` read as ``data.root``), opened
    and split by :func:`open_split` (the same kind, CSV options such as ``max_abs_angle``,
    folds and filters): exactly the images a run of ``config`` trains on and holds out. The data
    tools that may only see a run's training images (a teacher's labels for distillation,
    synthesized faces) read them here."""
    split = open_split(load_config(config, [f"data.root={data}"] if data else []))
    return split.images("train"), split.held_out_images()


def split_images(cfg: Config, part: str = "val") -> tuple[list[str], np.ndarray]:
    """Image files and targets ``(N, 3)`` [yaw, pitch, roll] degrees (NaN = missing) of the
    ``"train"``, ``"tune"`` or ``"val"`` part of ``cfg``'s data split (the images themselves,
    whole; the same indices as :func:`split_train_tune_val`). Benchmarks and calibration read
    their images from here; an empty part raises :class:`ConfigError`."""
    parts = ("train", "tune", "val")
    if part not in parts:
        raise ConfigError(f"split part: expected one of {parts}, got {part!r}")
    full = open_dataset(cfg, cfg.data.kind, data_root(cfg, cfg.data.root, "data.root"))
    chosen = dict(zip(parts, split_train_tune_val(cfg, full), strict=True))[part]
    if not chosen:
        why = {
            "tune": "data.split.tune_fraction and tune_folds are 0",
            "val": "data.split.by is none",
        }
        raise ConfigError(
            f"config '{cfg.name}' has no {part} images ({why.get(part, 'empty training split')})"
        )
    records = [full.records[i] for i in chosen]
    target = np.stack([r.target for r in records]).astype(np.float64)
    return [r.image for r in records], target
