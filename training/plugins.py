"""The registries a training config selects from: methods, SSL tasks, backbones (and dataset
kinds, :mod:`headpose.training.data.registry`; face detectors, :mod:`headpose.detectors`).

Config validation (:func:`headpose.training.config.validate`), ``headpose-train
--list-plugins`` and the engine all read these tables, so a name registered here (e.g. by a
plug-in module imported before training) can be selected in a YAML config or an override
(``ssl.task=mytask``). This module imports no torch: a config can be checked without it.

Adding an SSL task is one file plus one call (docs/ARCHITECTURE.md, "Plug-ins")::

    from headpose.training.plugins import register_task
    register_task("mytask", "mypackage.mytask:MyTask")   # or the class itself
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from headpose.detectors import registered
from headpose.errors import InvalidInputError
from headpose.training.data.registry import available_datasets


def resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    """A callable, or ``"module:attribute"`` imported on first use (so registering costs no
    import of torch)."""
    if not isinstance(target, str):
        return target
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise InvalidInputError(f"plug-in target {target!r}: expected 'module:attribute'")
    obj: Any = import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- SSL tasks


@dataclass(frozen=True)
class TaskSpec:
    """A self-supervised task: ``factory(grid)`` returns the task object (a callable
    ``task(image (C, H, W), generator) -> (image', {branch: labels})`` with ``.heads``).

    ``keeps_pose``: the transformed image has the pose of the original (puzzles, tile
    rotations). False for a task that changes the head's pose (rotating the whole image changes
    roll): it cannot feed the pose heads (``sl-puzzled``, ``hmtl`` with ``ssl.input=shared``).
    """

    name: str
    factory: str | Callable[[int], Any]
    keeps_pose: bool = True

    def build(self, grid: int) -> Any:
        """The task on a ``grid x grid`` cut of the image."""
        return resolve(self.factory)(grid)


TASKS: dict[str, TaskSpec] = {}


def register_task(
    name: str,
    factory: str | Callable[[int], Any],
    keeps_pose: bool = True,
    replace: bool = True,
) -> TaskSpec:
    """Make ``ssl.task=name`` select ``factory(grid)``; see :class:`TaskSpec`."""
    return _register(TASKS, "ssl task", name, TaskSpec(name, factory, keeps_pose), replace)


# --------------------------------------------------------------------------- methods


@dataclass(frozen=True)
class MethodSpec:
    """A training method, described by what it does instead of by its name.

    ``task_input``: the network input is ``ssl.task(image)`` (else the plain image);
    ``pose_loss`` / ``ssl_loss``: which losses are optimised (``ssl_loss`` adds the SSL branches
    of the task to the model); ``ssl_weight``: the SSL loss weight, or None to use
    ``ssl.weight`` from the config; ``separate_input``: supports ``ssl.input=separate`` (pose heads
    on the clean image, SSL branch on a transformed copy).
    """

    name: str
    task_input: bool
    pose_loss: bool
    ssl_loss: bool
    ssl_weight: float | None = None
    separate_input: bool = False
    summary: str = ""

    @property
    def needs_labels(self) -> bool:
        """Pose labels are needed (any pose loss)."""
        return self.pose_loss

    def pose_sees_task_image(self, ssl_input: str) -> bool:
        """Whether the pose heads are fed the task-transformed image."""
        return (
            self.pose_loss
            and self.task_input
            and not (self.separate_input and ssl_input == "separate")
        )


METHODS: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec, replace: bool = True) -> MethodSpec:
    """Make ``method=spec.name`` select ``spec``."""
    if not (spec.pose_loss or spec.ssl_loss):
        raise InvalidInputError(f"method {spec.name!r}: needs a pose loss, an SSL loss or both")
    if spec.ssl_loss and not spec.task_input:
        raise InvalidInputError(f"method {spec.name!r}: an SSL loss needs the task's input")
    return _register(METHODS, "method", spec.name, spec, replace)


# --------------------------------------------------------------------------- backbones


@dataclass(frozen=True)
class BackboneSpec:
    """How to build a registered backbone with timm: model ``timm_name`` tapped at
    ``out_indices`` (four feature levels; None: the last four), ``timm_kwargs`` passed on."""

    timm_name: str
    out_indices: tuple[int, ...] | None = None
    timm_kwargs: Mapping[str, Any] | None = None


BACKBONES: dict[str, BackboneSpec] = {}


def register_backbone(
    name: str,
    timm_name: str | None = None,
    out_indices: tuple[int, ...] | None = None,
    **timm_kwargs: Any,
) -> BackboneSpec:
    """Make ``model.backbone=name`` build timm model ``timm_name`` (default: ``name``)."""
    if out_indices is not None and len(out_indices) != 4:
        raise InvalidInputError(f"register_backbone('{name}'): out_indices must have 4 entries")
    spec = BackboneSpec(timm_name or name, out_indices, dict(timm_kwargs))
    return _register(BACKBONES, "backbone", name, spec, True)


def is_backbone(name: str) -> bool:
    """Registered, or (when timm is installed) any timm model name."""
    if name in BACKBONES:
        return True
    try:
        import timm  # optional here: the registries import no torch (timm loads it)
    except ImportError:
        return False
    return bool(timm.is_model(name))


# --------------------------------------------------------------------------- helpers


def _register(table: dict[str, Any], what: str, name: str, value: Any, replace: bool) -> Any:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"{what} name: expected a non-empty string, got {name!r}")
    if name in table and not replace and table[name] != value:
        raise InvalidInputError(f"{what} {name!r} is already registered")
    table[name] = value
    return value


def dataset_kinds() -> list[str]:
    """The registered dataset kinds (``data.kind``)."""
    return available_datasets()


def describe_registries() -> str:
    """Every registry as text (``headpose-train --list-plugins``)."""
    lines = ["methods:"]
    lines += [f"  {m.name}: {m.summary}" for m in METHODS.values()]
    lines.append("ssl tasks (ssl.task): " + ", ".join(TASKS))
    lines.append("dataset kinds (data.kind): " + ", ".join(dataset_kinds()))
    lines.append("backbones (model.backbone; or any timm model): " + ", ".join(BACKBONES))
    lines.append("face detectors (headpose-predict --detector): " + ", ".join(registered()))
    return "\n".join(lines)


# --------------------------------------------------------------------------- built-ins

register_task("puzzle", "headpose.training.ssl.tasks:PuzzleTask")
register_task("rotation", "headpose.training.ssl.tasks:TileRotationTask")
register_task("puzzle_rotation", "headpose.training.ssl.tasks:PuzzleRotationTask")
register_task("image_rotation", "headpose.training.ssl.tasks:ImageRotationTask", keeps_pose=False)

register_method(MethodSpec("sl", False, True, False, 0.0, summary="pose loss on the image"))
register_method(
    MethodSpec("sl-puzzled", True, True, False, 0.0, summary="pose loss on ssl.task(image)")
)
register_method(
    MethodSpec(
        "hmtl",
        True,
        True,
        True,
        None,
        separate_input=True,
        summary="pose loss + ssl.weight x SSL loss (the paper's hybrid multi-task learning)",
    )
)
register_method(
    MethodSpec("ssl-pretrain", True, False, True, 1.0, summary="SSL loss only, no labels")
)

for _name in (
    "resnet18",
    "resnet34",
    "resnet50",
    "mobilenetv3_large_100",
    "mobilenetv3_small_100",
    "efficientnet_lite0",
    "efficientnet_b0",
):
    register_backbone(_name)
register_backbone("mobilenetv3", "mobilenetv3_large_100")
# EfficientNet-Lite0 with anti-aliased downsampling (the shipped one-pass model's): each
# stride-2 depthwise convolution runs at stride 1 and a 3x3 binomial blur subsamples
# (BlurPool, Zhang 2019, "Making convolutional networks shift-invariant again"), so a crop moved
# by a pixel changes the features less. Same weights as efficientnet_lite0 (the blur has none);
# about 1.3x its time per face (ONNX, one thread, 112 px).
register_backbone("efficientnet_lite0_aa", "efficientnet_lite0", aa_layer="blurpc")
