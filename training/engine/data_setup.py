"""Datasets of a run: train/val from the config, with per-sample randomness tied to (seed, epoch, index).

The split itself (which rows train, tune and validate) is :mod:`headpose.training.data.run_split`.

Each training sample is ``{"image": float32 (3, S, S), "target": float32 (A,), "ssl": {branch:
int64 (heads,)}}``: the data transform (augmentation, flip, resize, normalisation) runs first, then
the method's SSL task. All randomness of sample ``i`` in epoch ``e`` comes from generators seeded
by ``(seed, e, i)``, so a sample is the same whichever worker, rank or resumed run makes it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from headpose.errors import first_line
from headpose.training.config import Config, expand_path
from headpose.training.data.errors import DataError
from headpose.training.data.run_split import data_root, open_dataset, open_split, split_train_val
from headpose.training.data.transforms import build_transform
from headpose.training.engine.methods import Method
from headpose.training.losses import spread_weight


def sample_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (e.g. seed, epoch, index)."""
    return int(
        np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(2, np.uint64)[0]
        >> 1
    )


def seeded_call(seed: int, fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn(*args)`` with Python/NumPy/torch global generators seeded by ``seed``, then restore them.

    Makes transforms that draw from the global generators reproducible per sample without
    disturbing the training loop's own random state.
    """
    py, nps, ts = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    try:
        return fn(*args)
    finally:
        random.setstate(py)
        np.random.set_state(nps)
        torch.set_rng_state(ts)


class MethodSamples(Dataset):
    """``base[i]`` -> data transform -> method input task -> a training/validation sample dict."""

    def __init__(
        self,
        base: Any,
        transform: Callable,
        method: Method,
        seed: int,
        fixed_epoch: int | None = None,
        apply_task: bool = True,
        weights: np.ndarray | None = None,
    ) -> None:
        self.base = base
        self.transform = transform
        self.method = method
        self.seed = int(seed)
        self.epoch = 0 if fixed_epoch is None else fixed_epoch
        self.fixed = fixed_epoch is not None
        self.apply_task = apply_task
        self.index = torch.tensor(method.angle_index)
        # per-sample, per-angle loss weights (N, 3) [yaw, pitch, roll]; None: every label weighs 1
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float32)
        rows = getattr(base, "source_len", len(base))
        if self.weights is not None and self.weights.shape != (rows, 3):
            raise ValueError(f"weights: expected shape ({rows}, 3), got {self.weights.shape}")

    def set_epoch(self, epoch: int) -> None:
        if not self.fixed:
            self.epoch = int(epoch)
            if hasattr(self.base, "set_epoch"):  # e.g. pseudo-labels resampled every epoch
                self.base.set_epoch(self.epoch)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, Any]:
        seed = sample_seed(self.seed, self.epoch, i)

        def make() -> dict[str, Any]:
            image, target = self.base.load(i)
            gen = torch.Generator().manual_seed(seed)
            image, target = self.transform(image, target, generator=gen)
            labels: dict[str, torch.Tensor] = {}
            sample: dict[str, Any] = {}
            if self.apply_task and self.method.separate_input:
                sample["ssl_image"], labels = self.method.prepare(image, gen)
            elif self.apply_task:
                image, labels = self.method.prepare(image, gen)
            target = torch.as_tensor(np.asarray(target, dtype=np.float32))[self.index]
            if self.weights is not None:
                row = self.base.source_index(i) if hasattr(self.base, "source_index") else i
                sample["weight"] = torch.from_numpy(self.weights[row])[self.index]
            return {"image": image, "target": target, "ssl": labels, **sample}

        try:
            return seeded_call(seed, make)
        except DataError as exc:
            if _names_file(exc, self._file(i)):
                raise
            raise DataError(f"{self._file(i)}: {first_line(exc)}") from exc
        except Exception as exc:  # a transform or task failing on this sample: name its file
            raise DataError(
                f"{self._file(i)}: sample {i} failed ({type(exc).__name__}: {first_line(exc)})"
            ) from exc

    def _file(self, i: int) -> str:
        record = getattr(self.base, "record", None)
        return str(record(i).image) if record is not None else f"sample {i}"


def _names_file(exc: BaseException, file: str) -> bool:
    return file in str(exc)


_WORKER = re.compile(r"^Caught (\w+) in DataLoader worker process \d+")
_ORIGINAL = re.compile(r"^[A-Za-z_][\w.]*: (.+)$")


def worker_error(exc: BaseException) -> BaseException | None:
    """The error a DataLoader worker raised, as a one-line :class:`DataError` naming the file
    (torch re-raises it as "Caught DataError in DataLoader worker process 0" with the original
    message buried under a traceback); None if ``exc`` did not come from a worker."""
    text = str(exc).strip()
    match = _WORKER.match(text)
    if match is None:
        return None
    last = text.splitlines()[-1].strip()
    original = _ORIGINAL.match(last)
    message = original.group(1) if original else last
    return DataError(f"{message} (in a DataLoader worker)")


def iterate_loader(loader: Any) -> Any:
    """Iterate ``loader``; an error in a worker process is re-raised by :func:`worker_error`."""
    try:
        yield from loader
    except Exception as exc:
        unwrapped = worker_error(exc)
        if unwrapped is None:
            raise
        raise unwrapped from None


def check_data(
    cfg: Config, progress: Callable[[int, int], None] | None = None
) -> tuple[int, list[str]]:
    """Read every training and validation image of ``cfg`` once (``headpose-train
    --check-data``) so that a bad file stops the run before it starts, not mid-epoch.

    Returns ``(images read, one message per unreadable sample, each naming its file)``.
    """
    full = open_dataset(cfg, cfg.data.kind, data_root(cfg, cfg.data.root, "data.root"))
    train_idx, val_idx = split_train_val(cfg, full)
    views = [full.view(sorted(set(train_idx) | set(val_idx)))]
    if cfg.data.val_root:
        val = open_dataset(
            cfg,
            cfg.data.val_kind or cfg.data.kind,
            data_root(cfg, cfg.data.val_root, "data.val_root"),
        )
        views.append(val.view(range(len(val))))
    total = sum(len(v) for v in views)
    problems: list[str] = []
    done = 0
    for view in views:
        for i in range(len(view)):
            try:
                view.load(i)
            except Exception as exc:
                file = str(view.record(i).image)
                message = first_line(exc)
                problems.append(message if file in message else f"{file}: {message}")
            done += 1
            if progress is not None:
                progress(done, total)
    return total, problems


@dataclass
class RunData:
    """The datasets of a run and their raw targets (N, 3) [yaw, pitch, roll] for baselines."""

    train: MethodSamples
    val: MethodSamples | None  # picks best.pt: the tuning split if any, else the held-out part
    train_targets: np.ndarray
    val_targets: np.ndarray | None
    train_name: str
    test: MethodSamples | None = None  # the held-out part when a tuning split picks best.pt
    test_targets: np.ndarray | None = None


class EpochSubset:
    """``count`` rows of ``view``, drawn anew (without replacement) every epoch from ``seed`` and
    the epoch number, so a large pseudo-labelled set adds a fixed share to each epoch while all of
    it is seen over the run. Resumes exactly: the rows depend only on (seed, epoch)."""

    def __init__(self, view: Any, count: int, seed: int) -> None:
        if count < 1:
            raise ValueError(f"EpochSubset: expected count >= 1, got {count}")
        self.view = view
        self.count = min(int(count), len(view))
        self.seed = int(seed)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, int(epoch)])
        self.rows = np.sort(rng.permutation(len(self.view))[: self.count])

    def __len__(self) -> int:
        return self.count

    @property
    def source_len(self) -> int:
        return len(self.view)

    def source_index(self, index: int) -> int:
        """The row of ``view`` that ``index`` reads this epoch."""
        return int(self.rows[index])

    def load(self, index: int, train: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.view.load(self.source_index(index), train)

    @property
    def records(self) -> list[Any]:
        records = self.view.records
        return [records[r] for r in self.rows]

    def targets(self) -> np.ndarray:
        return self.view.targets()[self.rows]


class ConcatView:
    """Several dataset views as one: ``load(i)``, ``records``, ``targets()`` and ``len``.

    Views with ``set_epoch`` (an :class:`EpochSubset`) are told the epoch; ``source_index(i)``
    is the row of ``i`` in the concatenation of the views' full sources (for per-row weights).
    """

    def __init__(self, views: list[Any]) -> None:
        self.views = list(views)
        self.offsets = np.cumsum([0] + [len(v) for v in self.views])
        self.source_offsets = np.cumsum(
            [0] + [getattr(v, "source_len", len(v)) for v in self.views]
        )

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def source_len(self) -> int:
        return int(self.source_offsets[-1])

    def set_epoch(self, epoch: int) -> None:
        for view in {id(v): v for v in self.views}.values():
            if hasattr(view, "set_epoch"):
                view.set_epoch(epoch)

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range 0..{len(self) - 1}")
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return k, index - int(self.offsets[k])

    def source_index(self, index: int) -> int:
        k, j = self._locate(index)
        view = self.views[k]
        return int(self.source_offsets[k]) + (
            view.source_index(j) if hasattr(view, "source_index") else j
        )

    def load(self, index: int, train: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        k, j = self._locate(index)
        return self.views[k].load(j, train)

    @property
    def records(self) -> list[Any]:
        return [r for v in self.views for r in v.records]

    def targets(self) -> np.ndarray:
        return np.concatenate([v.targets() for v in self.views])


def pseudo_label_weights(records: list[Any], weight: float, spread_ref: float) -> np.ndarray:
    """Per-angle loss weights (N, 3) of pseudo-labelled records: ``weight`` times
    ``1 / (1 + (spread / spread_ref)^2)`` (``spread_ref`` 0 or no spread: ``weight``)."""
    out = np.full((len(records), 3), float(weight), dtype=np.float32)
    if spread_ref > 0:
        for i, r in enumerate(records):
            if r.spread is not None:
                s = np.nan_to_num(r.spread, nan=0.0)
                out[i] *= spread_weight(s, spread_ref)
    return out


def refuse_held_out_rows(records: list[Any], held_out: set[str], key: str, path: Path) -> None:
    """Raise :class:`DataError` when a row of the extra training data ``records`` (read from
    ``path``, the value of config key ``key``) shows an image of the run's tuning or test split:
    its own image, or the image it was made from (a ``source`` column of synthesized faces)."""
    for rec in records:
        for what, image in (("is", rec.image), ("was made from", rec.source)):
            if image and str(Path(image).resolve()) in held_out:
                raise DataError(
                    f"{key}={path}: row {rec.image} {what} {image}, a tuning or test image of "
                    "this run's split; make the data from the run's training images only "
                    "(--split-config <this config> of python -m "
                    "headpose.training.data.pseudo_labels; run_split.run_split_images)"
                )


def add_pseudo_labels(
    cfg: Config, train_view: Any, held_out: set[str] | None = None
) -> tuple[Any, np.ndarray | None]:
    """The training view (repeated ``semi.labelled_repeat`` times) with ``cfg.semi``'s
    pseudo-labelled rows and teacher's labels and ``cfg.synth``'s synthesized faces added, and
    the loss weights (None when none is on). ``held_out``: resolved paths of the run's tuning
    and test images; a row of any of these files showing one of them, or made from one, is
    refused (:func:`refuse_held_out_rows`)."""
    s, y = cfg.semi, cfg.synth
    views = [train_view] * s.labelled_repeat
    weights = [np.ones((len(train_view) * s.labelled_repeat, 3), dtype=np.float32)]
    # (csv, config key, weight, spread_ref, rows per epoch, seed offset)
    extra = [
        (s.pseudo_labels, "semi.pseudo_labels", s.weight, s.spread_ref, s.per_epoch, 7919),
        (s.teacher_labels, "semi.teacher_labels", s.teacher_weight, s.spread_ref, 0, 0),
        (y.labels, "synth.labels", y.weight, y.spread_ref, y.per_epoch, 104729),
    ]
    for path, key, weight, spread_ref, per_epoch, offset in extra:
        if not path:
            continue
        root = data_root(cfg, path, key)
        rows = open_dataset(cfg, "csv", root, options={})
        if held_out:
            refuse_held_out_rows(rows.records, held_out, key, root)
        view = rows.view(list(range(len(rows))), train=True)
        weights.append(pseudo_label_weights(view.records, weight, spread_ref))
        if per_epoch:
            view = EpochSubset(view, per_epoch, cfg.runtime.seed + offset)
        views.append(view)
    if len(views) == 1:
        return train_view, None
    if len(weights) == 1:  # labelled rows repeated, nothing added
        return ConcatView(views), None
    return ConcatView(views), np.concatenate(weights)


def build_run_data(cfg: Config, method: Method) -> RunData:
    """Open, split and wrap the datasets of ``cfg`` (raises ConfigError / DataError on bad input)."""
    size = cfg.model.input_size
    split = open_split(cfg)
    full, val_base = split.full, split.val_base
    train_idx, tune_idx, val_idx = split.train, split.tune, split.val
    train_view = full.view(train_idx, train=True)
    train_tf = build_transform(
        size,
        train=True,
        level=cfg.data.augmentation,
        flip_p=0.5 if cfg.data.flip else 0.0,
        **cfg.data.augmentation_options,
    )
    eval_tf = build_transform(size, train=False)
    train_base, weights = add_pseudo_labels(cfg, train_view, split.held_out_images())
    train = MethodSamples(train_base, train_tf, method, cfg.runtime.seed, weights=weights)

    def held_out(base: Any, idx: list[int]) -> tuple[MethodSamples | None, np.ndarray | None]:
        if not idx:
            return None, None
        view = base.view(idx, train=False)
        samples = MethodSamples(
            view,
            eval_tf,
            method,
            cfg.runtime.seed + 1,
            fixed_epoch=0,
            apply_task=not method.uses_pose_loss,
        )
        return samples, view.targets()

    val, val_targets = held_out(val_base, val_idx)
    test, test_targets = None, None
    if tune_idx and cfg.data.split.select_on == "tune":  # best.pt on tuning; held-out reported
        test, test_targets = val, val_targets
        val, val_targets = held_out(full, tune_idx)
    name = cfg.data.name or f"{cfg.data.kind}:{Path(expand_path(cfg.data.root, cfg)).name}"
    return RunData(train, val, train_view.targets(), val_targets, name, test, test_targets)
