"""Face detectors, by name.

>>> from headpose.detectors import get_detector, available
>>> det = get_detector()            # "auto": the default chosen by bench/detectors.py
>>> faces = det.detect(image_bgr)   # Detections: boxes (N, 4), scores (N,), landmarks (N, 5, 2)

Built in: ``"yunet"`` (YuNet in onnxruntime, boxes + 5 landmarks) and ``"blazeface"`` (MediaPipe
BlazeFace short-range converted to ONNX, boxes only). New detectors plug in with
:func:`register`.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from headpose.detectors.base import Detections, Detector
from headpose.detectors.blazeface import BlazeFaceDetector
from headpose.detectors.yunet import YuNetDetector
from headpose.errors import InvalidInputError, MissingDependencyError
from headpose.runtime import install_hint

__all__ = [
    "DEFAULT_DETECTOR",
    "Detections",
    "Detector",
    "available",
    "accepts_option",
    "get_detector",
    "register",
    "registered",
]

# Chosen by bench/detectors.py (bench/results/detectors.md): YuNet and BlazeFace tie on the
# AFLW2000 crops (99.1%) and the pose photos (15/15), but BlazeFace short-range misses small faces
# (about 50 px in a 640x480 frame: YuNet ~94%, BlazeFace ~8%). BlazeFace is 2-3x faster: use
# get_detector("blazeface") for close-up webcam video.
DEFAULT_DETECTOR = "yunet"

Factory = Callable[..., Detector]


@dataclass(frozen=True)
class _Entry:
    factory: Factory
    requires: tuple[tuple[str, str], ...]  # (importable module, pip install hint)


_REGISTRY: dict[str, _Entry] = {}


def register(
    name: str, factory: Factory, requires: Sequence[tuple[str, str]] = (), replace: bool = False
) -> None:
    """Make ``get_detector(name, **opts)`` call ``factory(**opts)``.

    ``requires``: ``(module, install hint)`` pairs checked before the factory runs, e.g.
    ``[("mediapipe", 'pip install mediapipe')]``; a missing module raises
    :class:`MissingDependencyError` with that hint. ``replace=True`` overrides an existing name.
    """
    if not isinstance(name, str) or not name or name == "auto":
        raise InvalidInputError(
            f"detector name: expected a non-empty string other than 'auto', got {name!r}"
        )
    if not callable(factory):
        raise InvalidInputError(f"detector {name!r}: factory must be callable, got {factory!r}")
    if name in _REGISTRY and not replace:
        raise InvalidInputError(f"detector {name!r} is already registered (pass replace=True)")
    _REGISTRY[name] = _Entry(factory, tuple((str(m), str(h)) for m, h in requires))


def registered() -> list[str]:
    """Every registered detector name, sorted (installed or not)."""
    return sorted(_REGISTRY)


def _missing(entry: _Entry) -> list[tuple[str, str]]:
    return [(m, h) for m, h in entry.requires if importlib.util.find_spec(m) is None]


def available() -> list[str]:
    """Registered detector names whose dependencies are installed here, sorted."""
    return [name for name in registered() if not _missing(_REGISTRY[name])]


def get_detector(name: str = "auto", **opts: object) -> Detector:
    """A new detector by name (``"auto"`` = :data:`DEFAULT_DETECTOR`); ``opts`` go to its
    constructor (e.g. ``score_threshold=0.5``, ``threads=1``)."""
    key = DEFAULT_DETECTOR if name == "auto" else name
    entry = _REGISTRY.get(key)
    if entry is None:
        valid = ", ".join(["auto", *registered()])
        raise InvalidInputError(f"unknown detector {name!r}; valid names: {valid}")
    missing = _missing(entry)
    if missing:
        module, hint = missing[0]
        raise MissingDependencyError(f"detector {key!r} needs the {module!r} package: {hint}")
    try:
        inspect.signature(entry.factory).bind(**opts)
    except TypeError as exc:
        raise InvalidInputError(f"detector {key!r}: bad options {sorted(opts)}: {exc}") from None
    return entry.factory(**opts)


def accepts_option(name: str, option: str) -> bool:
    """Whether detector ``name`` (``"auto"`` allowed) takes the constructor option ``option``."""
    entry = _REGISTRY.get(DEFAULT_DETECTOR if name == "auto" else name)
    return entry is not None and option in inspect.signature(entry.factory).parameters


def _register_builtins() -> None:
    needs_ort = [("onnxruntime", install_hint())]
    register("yunet", YuNetDetector, requires=needs_ort)
    register("blazeface", BlazeFaceDetector, requires=needs_ort)


_register_builtins()
