"""Training configuration: dataclasses, YAML files with ``base:`` inheritance, dotted overrides.

A config is a tree of dataclasses (:class:`Config`). YAML files name only what they change; a
file may start from another with ``base: other.yaml`` (a path relative to the file, or the name
of a built-in config such as ``cpu/sl_resnet18_128``). Command-line overrides are
``section.key=value`` strings whose value is parsed as YAML and checked against the field's type.

Every mistake is a :class:`ConfigError` with a one-line message naming the key (and the file):
an unknown key lists the closest valid keys, a wrong type says what was expected and what came.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from headpose.errors import HeadPoseError
from headpose.training import plugins

BUILTIN_DIR = Path(__file__).resolve().parent / "configs"

ANGLES = ("yaw", "pitch", "roll")


class ConfigError(HeadPoseError, ValueError):
    """A config file or override that cannot be used; the message names the key and file."""


# --------------------------------------------------------------------------- sections


@dataclass
class ModelConfig:
    """Network: backbone, input size (pixels, square), angle bins, SSL flag point, initial weights."""

    backbone: str = "resnet50"
    input_size: int = 224
    angles: list[str] = field(default_factory=lambda: list(ANGLES))
    bin_width: float = 3.0  # degrees
    bin_low: float = -99.0  # degrees, left edge of the first bin
    bin_count: int = 66
    flag_point: int = 3  # backbone tap (1..4) where the SSL branch starts
    init: str = "imagenet"  # random | imagenet | a named weight source | weights file | checkpoint
    dropout: float = 0.5
    ssl_dropout: float = 0.2


@dataclass
class SplitConfig:
    """How the labelled data is split into train / validation."""

    by: str = "file"  # file | subject | kfold | none (use data.val_root)
    val_fraction: float = 0.1
    seed: int = 0
    folds: int = 5
    fold: int = 0
    # >0: this fraction of the training split is set aside as a tuning split (seed + 1000): never
    # trained on, for choices and calibration, so the validation split stays untouched
    tune_fraction: float = 0.0
    # >0 (instead of tune_fraction): the tuning split is fold ``tune_fold`` of a seeded
    # ``tune_folds``-way partition of the training split (seed + 1000), so k runs with
    # tune_fold 0..k-1 each leave out another part: out-of-fold rows over the whole training
    # split, e.g. for calibrating a model trained on all of it
    tune_folds: int = 0
    tune_fold: int = 0
    # which split picks best.pt: val (the validation split) | tune (the tuning split; the
    # validation split is then only reported, as test/ metrics: the paper configs and the study)
    select_on: str = "val"
    # by=subject: hold out these subjects (empty: a val_fraction of them)
    val_subjects: list[str] = field(default_factory=list)


@dataclass
class BoxJitterConfig:
    """Random change of the face box before the crop rule (training only; csv data with boxes).

    Each is the half-width of a uniform range: ``shift`` moves the box centre by up to that
    fraction of the box side in x and y; ``scale`` and ``aspect`` multiply the side and the
    width/height ratio by ``exp(u)``, ``u`` uniform in +-value. All 0: the runtime's crop exactly.
    """

    shift: float = 0.0
    scale: float = 0.0
    aspect: float = 0.0


@dataclass
class DataConfig:
    """Training data (and optional separate validation data)."""

    kind: str = "csv"
    root: str = ""
    csv: str = "labels.csv"  # for kind=csv: the labels file inside root
    val_kind: str = ""  # empty: same as kind
    val_root: str = ""  # empty: validation comes from the split of root
    split: SplitConfig = field(default_factory=SplitConfig)
    low_data: int = 0  # >0: train on only this many training images (chosen with split.seed)
    train_fraction: float = 1.0  # <1: train on this seeded fraction of the training images (nested)
    low_data_subjects: int = 0  # >0: train on the images of only this many subjects (split.seed)
    options: dict[str, Any] = field(default_factory=dict)  # extra dataset options for data.kind
    # ... for data.val_kind, e.g. {subset: full} for all 2,000 AFLW2000 images ({subset: reduced}: 1,969)
    val_options: dict[str, Any] = field(default_factory=dict)
    # drop training images with a known |angle| above this (degrees; None keeps all). Applied after
    # the split, so the validation images do not change; AFLW2000 has a few absurd labels (|roll|
    # up to 972 deg) that HopeNet-style training filters at 99.
    train_max_abs_angle: float | None = None
    augmentation: int = 1  # 0 none; 1 zoom + contrast; 2 also blur, low resolution, cutout
    augmentation_options: dict[str, Any] = field(default_factory=dict)
    flip: bool = True  # horizontal flip (negates yaw and roll)
    crop_scale: float = 1.5  # runtime crop rule matching these training crops (box side x scale)
    crop_shift_y: float = 0.0  # ... and downward shift of the crop centre (x box height)
    box_jitter: BoxJitterConfig = field(default_factory=BoxJitterConfig)
    license: str = "unknown"  # licence of the data, copied into the checkpoint metadata
    name: str = ""  # short data name for the metadata (default: kind)


@dataclass
class SSLConfig:
    """Self-supervised task: its name, grid (tiles per side) and loss weight."""

    task: str = "puzzle"
    grid: int = 3
    weight: float = 50.0
    # hmtl only. shared: the paper's single pass of the transformed image feeds the pose heads and
    # the SSL branch; separate: the pose heads see the clean image and the SSL branch a transformed
    # copy (one batched pass of 2N images: twice the compute, no puzzled pose inputs)
    input: str = "shared"
    # share of training images that get the SSL transform (the rest go through clean and carry
    # no SSL labels): 1 = all, as in the paper; with a shared pass, the share of puzzled pose inputs
    share: float = 1.0
    # the SSL loss weight ramps linearly from 0 to ``weight`` over this many epochs (0: off)
    warmup_epochs: float = 0.0


@dataclass
class SemiConfig:
    """Semi-supervised training on pseudo-labelled faces (off while ``pseudo_labels`` is empty).

    ``pseudo_labels``: a pose CSV written by ``python -m headpose.training.data.pseudo_labels``
    (a teacher's angles, boxes and spreads on unlabelled faces); its rows join the training set
    and go through the same (strong) augmentation as the labelled images, with per-angle weight
    ``weight / (1 + (spread / spread_ref)^2)`` in the pose loss (``spread_ref`` 0: no spread
    weighting). ``labelled_repeat``: each labelled image appears this many times per epoch.

    ``teacher_labels`` (distillation): a pseudo-label CSV of a teacher's answers on the run's own
    labelled training images (``pseudo_labels --split-config``); every row joins every epoch
    with weight ``teacher_weight`` (spread-weighted as above), so the student learns both the
    label and the teacher's answer for a face. A row showing a tuning or test image is refused.
    """

    pseudo_labels: str = ""
    weight: float = 1.0
    spread_ref: float = 0.0  # degrees
    labelled_repeat: int = 1
    per_epoch: int = 0  # >0: pseudo-labelled rows per epoch, resampled every epoch
    teacher_labels: str = ""
    teacher_weight: float = 1.0


@dataclass
class SynthConfig:
    """Synthesized labelled faces (off while ``labels`` is empty): a pose CSV folder of faces
    made from labelled ones (e.g. turned to new head poses) with their labels. Its rows join the
    training set through the same augmentation, with per-angle loss weight ``weight``; rows with
    spread columns (labels that came from a teacher) get ``weight / (1 + (spread /
    spread_ref)^2)`` as pseudo-labels do. ``per_epoch``: rows per epoch, drawn anew every epoch
    (0: all of them every epoch). Make them from the run's training images only
    (:func:`headpose.training.data.run_split.run_split_images`): the run refuses a row whose
    image, or ``source`` (the image it was made from), is one of its tuning or test images."""

    labels: str = ""
    weight: float = 1.0
    spread_ref: float = 0.0  # degrees
    per_epoch: int = 0


@dataclass
class LossConfig:
    """Pose loss: cross-entropy over bins + ``alpha`` * RMSE of the expectation."""

    alpha: float = 2.0
    regression_only: bool = False
    reduction: str = "mean"  # over angles: mean | sum (the paper's rule: CE + alpha*RMSE summed)


@dataclass
class OptimConfig:
    """Optimizer and step-decay schedule (the scheduler steps once per epoch)."""

    name: str = "adabelief"  # adabelief | adamw
    lr: float = 1e-3
    weight_decay: float = 0.0
    eps: float = 1e-16
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    # adabelief: RAdam-style rectification (timm's default), a built-in warm-up: with beta2 0.999
    # the first 5 steps are plain SGD steps and later updates are scaled by about sqrt(step/2000)
    # (0.22 at step 100, 0.48 at step 500, 0.65 at step 1000)
    rectify: bool = True
    batch_size: int = 64  # per process
    epochs: int = 110
    step_size: int = 30  # epochs between decays
    gamma: float = 0.1
    scheduler: str = "step"  # step (every step_size epochs) | multistep (at milestones)
    # multistep: the epochs after which the lr is multiplied by gamma
    milestones: list[int] = field(default_factory=list)
    # >0: keep an exponential moving average of the weights (and BatchNorm statistics), updated
    # after every step with decay min(ema_decay, (1 + t) / (10 + t)); validation, export and
    # evaluation use the average (the raw weights stay in the checkpoint for resuming)
    ema_decay: float = 0.0


@dataclass
class RuntimeConfig:
    """Where and how the run executes."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "auto"  # auto (fp16 on CUDA, off on CPU) | fp16 | bf16 | off
    workers: int = 4
    seed: int = 0
    out_dir: str = "runs/${name}"
    overwrite: bool = False  # start a new run in an out_dir that already holds one
    log_every: int = 20  # steps between CSV/TensorBoard rows
    checkpoint_every_steps: int = 0  # 0: checkpoint at epoch ends only
    max_steps: int = 0  # 0: no limit (smoke tests set a few)
    tensorboard: bool = True  # used when the tensorboard package is installed
    progress: bool = True  # tqdm bar
    val_batch_size: int = 0  # 0: same as optim.batch_size
    dist_timeout_min: float = 60.0  # DDP: how long ranks wait for each other (rank-0 validation)


@dataclass
class Config:
    """A whole training run."""

    name: str = "run"
    method: str = "sl"  # a registered method: sl | sl-puzzled | hmtl | ssl-pretrain | plug-ins
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    ssl: SSLConfig = field(default_factory=SSLConfig)
    semi: SemiConfig = field(default_factory=SemiConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML/JSON/torch.save friendly)."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- typing helpers


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def all_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every dotted key of the config tree, e.g. ``["name", "model.backbone", ...]``."""
    keys: list[str] = []
    for name, tp in _hints(cls).items():
        dotted = f"{prefix}{name}"
        if dataclasses.is_dataclass(tp):
            keys.append(dotted)
            keys.extend(all_keys(tp, dotted + "."))
        else:
            keys.append(dotted)
    return keys


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and not typing.get_args(tp):
        return {
            "str": "a string",
            "int": "an integer",
            "float": "a number",
            "bool": "true/false",
        }.get(tp.__name__, tp.__name__)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is list:
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if origin is dict:
        return "a mapping"
    return str(tp)


class _Mismatch(Exception):
    pass


def _coerce(value: Any, tp: Any) -> Any:
    """Return ``value`` as type ``tp`` or raise :class:`_Mismatch` (no lossy conversions)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            try:
                return _coerce(value, arg)
            except _Mismatch:
                continue
        raise _Mismatch
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if origin is list:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise _Mismatch
        return [_coerce(v, args[0]) for v in value] if args else list(value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _Mismatch
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise _Mismatch
    raise _Mismatch


def _where(source: str | None) -> str:
    return f" in {source}" if source else ""


def _unknown_key_error(dotted: str, valid: Iterable[str], source: str | None) -> ConfigError:
    valid = list(valid)
    close = difflib.get_close_matches(dotted, valid, n=3, cutoff=0.5)
    if not close:  # compare the last component only (e.g. "lr" -> optim.lr)
        last = dotted.rsplit(".", 1)[-1]
        names = difflib.get_close_matches(
            last, [k.rsplit(".", 1)[-1] for k in valid], n=3, cutoff=0.6
        )
        close = [k for k in valid if k.rsplit(".", 1)[-1] in names][:3]
    hint = f"; closest valid keys: {', '.join(close)}" if close else ""
    return ConfigError(f"unknown config key '{dotted}'{_where(source)}{hint}")


def _apply_mapping(obj: Any, data: Mapping[str, Any], prefix: str, source: str | None) -> None:
    """Set the fields of dataclass ``obj`` from a nested mapping, validating names and types."""
    hints = _hints(type(obj))
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if not isinstance(key, str) or key not in hints:
            raise _unknown_key_error(dotted, all_keys(), source)
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"config key '{dotted}'{_where(source)}: expected a mapping of "
                    f"{', '.join(_hints(tp))}, got {value!r}"
                )
            _apply_mapping(getattr(obj, key), value, dotted + ".", source)
        else:
            setattr(obj, key, _checked(dotted, value, tp, source))


def _checked(dotted: str, value: Any, tp: Any, source: str | None) -> Any:
    try:
        return _coerce(value, tp)
    except _Mismatch:
        raise ConfigError(
            f"config key '{dotted}'{_where(source)}: expected {_type_name(tp)}, "
            f"got {value!r} ({type(value).__name__})"
        ) from None


# --------------------------------------------------------------------------- files


def resolve_config_path(name: str | os.PathLike[str]) -> Path:
    """A config file path, or the name of a built-in one (``cpu/sl_resnet18_128`` [.yaml])."""
    path = Path(os.path.expandvars(os.path.expanduser(str(name))))
    if path.is_file():
        return path
    for candidate in (BUILTIN_DIR / path, BUILTIN_DIR / f"{path}.yaml"):
        if candidate.is_file():
            return candidate
    available = ", ".join(list_builtin_configs()[:8])
    raise ConfigError(f"config file not found: {name} (built-in configs include: {available}, ...)")


def list_builtin_configs() -> list[str]:
    """Names of the built-in configs, e.g. ``cpu/sl_resnet18_128``."""
    return sorted(
        str(p.relative_to(BUILTIN_DIR).with_suffix("")) for p in BUILTIN_DIR.rglob("*.yaml")
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"config file {path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path}: expected a mapping at the top, got {type(data).__name__}"
        )
    return data


def _layers(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[dict[str, Any], str]]:
    """The chain of YAML mappings from the oldest base to ``path``, each with its file name."""
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"config file {path}: 'base' inheritance loops back to itself")
    data = _read_yaml(path)
    base = data.pop("base", None)
    chain: list[tuple[dict[str, Any], str]] = []
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"config key 'base' in {path}: expected a file name, got {base!r}")
        local = path.parent / base
        base_path = local if local.is_file() else resolve_config_path(base)
        chain = _layers(base_path, (*seen, path))
    chain.append((data, str(path)))
    return chain


def parse_override(text: str) -> tuple[str, Any]:
    """``"optim.lr=0.01"`` -> ``("optim.lr", 0.01)`` (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}': expected key=value, e.g. optim.lr=0.01")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override '{text}': empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, (dict, list)) or value is None:
        return key, value
    # keep the raw text for strings (so name=007 stays "007"); typed later
    return key, value if not isinstance(value, str) else raw


def apply_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    """Apply ``key=value`` overrides in place (typed by the dataclass field) and return ``cfg``."""
    for text in overrides:
        key, value = parse_override(text)
        parts = key.split(".")
        obj: Any = cfg
        for i, part in enumerate(parts):
            hints = _hints(type(obj))
            if part not in hints:
                raise _unknown_key_error(key, all_keys(), "command-line overrides")
            tp = hints[part]
            if i < len(parts) - 1:
                if not dataclasses.is_dataclass(tp):
                    raise _unknown_key_error(key, all_keys(), "command-line overrides")
                obj = getattr(obj, part)
                continue
            if dataclasses.is_dataclass(tp):
                if not isinstance(value, Mapping):
                    raise ConfigError(
                        f"override '{key}': a section; set one of its keys, e.g. {key}.{next(iter(_hints(tp)))}=..."
                    )
                _apply_mapping(getattr(obj, part), value, key + ".", "command-line overrides")
            else:
                if tp is str and not isinstance(value, str) and not isinstance(value, (list, dict)):
                    value = text.split("=", 1)[1]
                setattr(obj, part, _checked(key, value, tp, "command-line overrides"))
    return cfg


def load_config(
    path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()
) -> Config:
    """Defaults, then the YAML chain of ``path`` (if any), then ``overrides``; validated."""
    cfg = Config()
    if path is not None:
        resolved = resolve_config_path(path)
        layers = _layers(resolved)
        for data, source in layers:
            _apply_mapping(cfg, data, "", source)
        if not any("name" in data for data, _ in layers):
            cfg.name = resolved.stem
    apply_overrides(cfg, overrides)
    validate(cfg)
    return cfg


#: config keys since removed that a checkpoint written before still holds (``to_dict`` writes
#: every key), with the value that meant "off": read back, such an entry is dropped; any other
#: value stays and is refused as an unknown key
REMOVED_KEYS_OFF: dict[str, Any] = {"semi.max_images": 0}


def config_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Config:
    """Rebuild a :class:`Config` from :meth:`Config.to_dict` output (e.g. from a checkpoint)."""
    data = copy.deepcopy(dict(data))
    for dotted, off in REMOVED_KEYS_OFF.items():
        *parents, key = dotted.split(".")
        section: Any = data
        for name in parents:
            section = section.get(name) if isinstance(section, Mapping) else None
        if isinstance(section, dict) and key in section and section[key] == off:
            del section[key]
    cfg = Config()
    _apply_mapping(cfg, data, "", source)
    validate(cfg)
    return cfg


# --------------------------------------------------------------------------- values


def _choice(key: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"config key '{key}': expected one of {list(choices)}, got {value!r}{hint}"
        )


def _positive(key: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(
            f"config key '{key}': expected {'>= 0' if allow_zero else '> 0'}, got {value!r}"
        )


def validate(cfg: Config) -> None:
    """Check values (choices, ranges, combinations); raise :class:`ConfigError` on the first bad one."""
    _choice("method", cfg.method, list(plugins.METHODS))
    method = plugins.METHODS[cfg.method]
    m = cfg.model
    if not plugins.is_backbone(m.backbone):
        close = difflib.get_close_matches(m.backbone, list(plugins.BACKBONES), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"config key 'model.backbone': expected a registered backbone "
            f"{list(plugins.BACKBONES)} or a timm model name, got {m.backbone!r}{hint}"
        )
    _positive("model.input_size", m.input_size)
    if not m.angles or len(set(m.angles)) != len(m.angles) or not set(m.angles) <= set(ANGLES):
        raise ConfigError(
            f"config key 'model.angles': expected distinct names from {list(ANGLES)}, got {m.angles!r}"
        )
    _positive("model.bin_width", m.bin_width)
    if cfg.data.train_max_abs_angle is not None:
        _positive("data.train_max_abs_angle", cfg.data.train_max_abs_angle)
    _positive("model.bin_count", m.bin_count)
    _choice("model.flag_point", m.flag_point, (1, 2, 3, 4))
    for key in ("dropout", "ssl_dropout"):
        if not 0.0 <= getattr(m, key) < 1.0:
            raise ConfigError(
                f"config key 'model.{key}': expected 0 <= value < 1, got {getattr(m, key)!r}"
            )
    d = cfg.data
    kinds = plugins.dataset_kinds()
    _choice("data.kind", d.kind, kinds)
    if d.val_kind:
        _choice("data.val_kind", d.val_kind, kinds)
    _choice("data.split.by", d.split.by, ("file", "subject", "kfold", "none"))
    if not 0.0 <= d.split.val_fraction < 1.0:
        raise ConfigError(
            f"config key 'data.split.val_fraction': expected 0 <= value < 1, got {d.split.val_fraction!r}"
        )
    if not 0.0 <= d.split.tune_fraction < 1.0:
        raise ConfigError(
            f"config key 'data.split.tune_fraction': expected 0 <= value < 1, got {d.split.tune_fraction!r}"
        )
    if d.split.tune_folds:
        if d.split.tune_folds < 2 or not 0 <= d.split.tune_fold < d.split.tune_folds:
            raise ConfigError(
                "config keys 'data.split.tune_folds' / 'tune_fold': expected tune_folds >= 2 and "
                f"0 <= tune_fold < tune_folds, got {d.split.tune_folds} / {d.split.tune_fold}"
            )
        if d.split.tune_fraction > 0:
            raise ConfigError(
                "config keys 'data.split.tune_fraction' and 'tune_folds': give one of them, "
                f"got {d.split.tune_fraction} and {d.split.tune_folds}"
            )
    _choice("data.split.select_on", d.split.select_on, ("val", "tune"))
    if d.split.select_on == "tune" and d.split.tune_fraction <= 0 and not d.split.tune_folds:
        raise ConfigError(
            "config key 'data.split.select_on': 'tune' needs data.split.tune_fraction > 0 "
            "or data.split.tune_folds"
        )
    if d.split.by == "kfold" and not 0 <= d.split.fold < d.split.folds:
        raise ConfigError(
            f"config key 'data.split.fold': expected 0 <= fold < data.split.folds={d.split.folds}, got {d.split.fold}"
        )
    _positive("data.low_data", d.low_data, allow_zero=True)
    _positive("data.low_data_subjects", d.low_data_subjects, allow_zero=True)
    if not 0.0 < d.train_fraction <= 1.0:
        raise ConfigError(
            f"config key 'data.train_fraction': expected 0 < value <= 1, got {d.train_fraction!r}"
        )
    _choice("data.augmentation", d.augmentation, (0, 1, 2))
    _positive("data.crop_scale", d.crop_scale)
    for key in ("shift", "scale", "aspect"):
        value = getattr(d.box_jitter, key)
        if not 0.0 <= value <= 0.5:
            raise ConfigError(
                f"config key 'data.box_jitter.{key}': expected 0 <= value <= 0.5, got {value!r}"
            )
    s, y = cfg.semi, cfg.synth
    for key, path, what in (
        ("semi.pseudo_labels", s.pseudo_labels, "pseudo-labels"),
        ("semi.teacher_labels", s.teacher_labels, "a teacher's labels"),
        ("synth.labels", y.labels, "synthesized faces"),
    ):
        if path and not method.pose_loss:
            pose_methods = [n for n, spec in plugins.METHODS.items() if spec.pose_loss]
            raise ConfigError(
                f"config key '{key}': {what} train the pose heads, so the method must be one "
                f"with a pose loss ({', '.join(pose_methods)}), got '{cfg.method}'"
            )
    _positive("semi.weight", s.weight, allow_zero=True)
    _positive("semi.spread_ref", s.spread_ref, allow_zero=True)
    _positive("semi.labelled_repeat", s.labelled_repeat)
    _positive("semi.per_epoch", s.per_epoch, allow_zero=True)
    _positive("semi.teacher_weight", s.teacher_weight, allow_zero=True)
    _positive("synth.weight", y.weight, allow_zero=True)
    _positive("synth.spread_ref", y.spread_ref, allow_zero=True)
    _positive("synth.per_epoch", y.per_epoch, allow_zero=True)
    _choice("ssl.task", cfg.ssl.task, list(plugins.TASKS))
    task = plugins.TASKS[cfg.ssl.task]
    if not task.keeps_pose and method.pose_sees_task_image(cfg.ssl.input):
        keeping = [t.name for t in plugins.TASKS.values() if t.keeps_pose]
        raise ConfigError(
            f"config key 'ssl.task': '{task.name}' changes the pose label, so it cannot feed the "
            f"pose heads of method '{cfg.method}' (use one of {', '.join(keeping)})"
        )
    _positive("ssl.grid", cfg.ssl.grid)
    _positive("ssl.weight", cfg.ssl.weight, allow_zero=True)
    _choice("ssl.input", cfg.ssl.input, ("shared", "separate"))
    if not 0.0 < cfg.ssl.share <= 1.0:
        raise ConfigError(
            f"config key 'ssl.share': expected a number in (0, 1], got {cfg.ssl.share}"
        )
    _positive("ssl.warmup_epochs", cfg.ssl.warmup_epochs, allow_zero=True)
    if not method.needs_labels and d.kind != "unlabeled" and not d.root:
        raise ConfigError(f"config key 'data.root': {cfg.method} needs a folder of images")
    if method.needs_labels and d.kind == "unlabeled":
        raise ConfigError(
            f"config key 'data.kind': method '{cfg.method}' needs labels, got 'unlabeled'"
        )
    _positive("loss.alpha", cfg.loss.alpha, allow_zero=True)
    _choice("loss.reduction", cfg.loss.reduction, ("mean", "sum"))
    o = cfg.optim
    _choice("optim.name", o.name, ("adabelief", "adamw"))
    _positive("optim.lr", o.lr)
    _positive("optim.weight_decay", o.weight_decay, allow_zero=True)
    _positive("optim.batch_size", o.batch_size)
    _positive("optim.epochs", o.epochs)
    _positive("optim.step_size", o.step_size)
    _positive("optim.gamma", o.gamma)
    if not 0.0 <= o.ema_decay < 1.0:
        raise ConfigError(
            f"config key 'optim.ema_decay': expected 0 <= value < 1 (0: off), got {o.ema_decay!r}"
        )
    if o.scheduler == "multistep" and (
        not o.milestones or o.milestones[0] < 1 or sorted(set(o.milestones)) != o.milestones
    ):
        raise ConfigError(
            f"config key 'optim.milestones': multistep needs increasing epochs >= 1, got {o.milestones!r}"
        )
    if len(o.betas) != 2:
        raise ConfigError(f"config key 'optim.betas': expected two numbers, got {o.betas!r}")
    r = cfg.runtime
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", r.device):
        raise ConfigError(
            f"config key 'runtime.device': expected auto, cpu, cuda or cuda:N, got {r.device!r}"
        )
    _choice("runtime.amp", r.amp, ("auto", "fp16", "bf16", "off"))
    _positive("runtime.dist_timeout_min", r.dist_timeout_min)
    for key in ("workers", "log_every", "checkpoint_every_steps", "max_steps", "val_batch_size"):
        _positive(f"runtime.{key}", getattr(r, key), allow_zero=True)
    if r.log_every == 0:
        raise ConfigError("config key 'runtime.log_every': expected > 0, got 0")


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_path(value: str, cfg: Config | None = None) -> str:
    """Expand ``${VAR}``, ``${VAR:-default}``, ``${name}`` (the run name) and ``~`` in a path."""

    def repl(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        if var == "name" and cfg is not None:
            return cfg.name
        if var in os.environ:
            return os.environ[var]
        if default is not None:
            return default
        raise ConfigError(
            f"path '{value}': environment variable {var} is not set (use ${{{var}:-default}})"
        )

    return os.path.expanduser(_ENV.sub(repl, value))
