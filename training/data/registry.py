"""``build_dataset(kind, root, **opts)``: one entry point for every dataset format."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from .base import PoseDataset
from .errors import DataError

DatasetFactory = Callable[..., PoseDataset]
_REGISTRY: dict[str, DatasetFactory] = {}


def register_dataset(kind: str) -> Callable[[DatasetFactory], DatasetFactory]:
    """Decorator: make ``factory(root, **opts) -> PoseDataset`` available as ``kind``."""

    def decorate(factory: DatasetFactory) -> DatasetFactory:
        if kind in _REGISTRY and _REGISTRY[kind] is not factory:
            raise ValueError(f"dataset kind {kind!r} is already registered")
        _REGISTRY[kind] = factory
        return factory

    return decorate


def available_datasets() -> list[str]:
    """The registered kinds, sorted."""
    return sorted(_REGISTRY)


def _accepted_options(factory: DatasetFactory) -> set[str] | None:
    """Keyword options a factory accepts (None when it takes ``**opts`` and forwards them)."""
    names: set[str] = set()
    target = factory
    while True:
        params = inspect.signature(target).parameters.values()
        names |= {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names - {"root"}
        forwards = getattr(target, "forwards_to", None)
        if forwards is None:
            return None
        target = forwards


def build_dataset(kind: str, root: str | Path, **opts) -> PoseDataset:
    """Build the dataset ``kind`` (``csv``, ``300wlp``, ``aflw2000``, ``biwi``, ``eth_xgaze``,
    ``unlabeled``, or any registered later) from ``root`` with format options ``opts``.

    Every format accepts ``transform`` (``(image, target) -> anything``) and ``train`` (bool).
    """
    factory = _REGISTRY.get(kind)
    if factory is None:
        raise DataError(f"dataset kind: expected one of {available_datasets()}, got {kind!r}")
    accepted = _accepted_options(factory)
    if accepted is not None:
        unknown = sorted(set(opts) - accepted)
        if unknown:
            raise DataError(
                f"dataset {kind!r}: unknown option(s) {unknown}, expected some of {sorted(accepted)}"
            )
    return factory(root, **opts)
