"""Exceptions raised by headpose. Every message names the offending file, field or value."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

_Options = TypeVar("_Options")


class HeadPoseError(Exception):
    """Base class of every error headpose raises on purpose."""


class InvalidImageError(HeadPoseError, ValueError):
    """An image that cannot be used: unreadable, empty, wrong dtype or channel count."""


class InvalidModelError(HeadPoseError, ValueError):
    """A model file that is missing, truncated, or not an exported headpose model."""


class InvalidInputError(HeadPoseError, ValueError):
    """Any other bad argument (boxes, options)."""


class IncompleteVideoError(InvalidImageError):
    """A video that ended before the frame count its container states (truncated, or a read
    failed mid-stream); the frames before were read."""

    def __init__(self, message: str, read: int, expected: int) -> None:
        super().__init__(message)
        self.read = read
        self.expected = expected


class IncompleteVideoWarning(UserWarning):
    """:meth:`Estimator.track <headpose.estimator.Estimator.track>` on a video file that ended
    before the frame count its container states."""


class DroppedBoxWarning(UserWarning):
    """:meth:`Estimator.predict(image, boxes=...) <headpose.estimator.Estimator.predict>` got
    boxes with nothing inside the image (outside it or of zero area): no face for them."""


class MissingDependencyError(HeadPoseError, ImportError):
    """An optional dependency is not installed; the message says which extra to install."""


def first_line(exc: BaseException | str, containing: str | None = None) -> str:
    """The first non-empty line of ``str(exc)`` (the first one containing ``containing`` when
    there is one), or the exception's class name (for text: ``"error"``) when it is empty."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if containing is not None:
        picked = [line for line in lines if containing in line]
        if picked:
            return picked[0]
    if lines:
        return lines[0]
    return "error" if isinstance(exc, str) else type(exc).__name__


def options_from_mapping(cls: type[_Options], value: Mapping[str, Any], what: str) -> _Options:
    """``cls(**value)`` for a dataclass ``cls``; a key it lacks is an :class:`InvalidInputError`
    naming ``what`` (the argument), the unknown keys and the expected ones."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(value) - known
    if unknown:
        raise InvalidInputError(
            f"{what}: unknown key(s) {sorted(unknown)}, expected {sorted(known)}"
        )
    return cls(**value)


def checked_number(
    what: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
) -> float:
    """``value`` as a float after checking it is a finite real number (not a bool) in
    ``[low, high]`` (``(low, high]`` with ``low_open``; a ``None`` bound is open-ended); else an
    :class:`InvalidInputError` naming ``what`` with the expected range and the value got."""
    if low is not None and high is not None:
        expected = f"a number in {'(' if low_open else '['}{low:g}, {high:g}]"
    elif low is not None:
        expected = f"a number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        expected = f"a number <= {high:g}"
    else:
        expected = "a finite number"
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    number = float(value) if ok else math.nan  # type: ignore[arg-type]
    ok = ok and math.isfinite(number)
    ok = ok and (low is None or (number > low if low_open else number >= low))
    ok = ok and (high is None or number <= high)
    if not ok:
        raise InvalidInputError(f"{what}: expected {expected}, got {value!r}")
    return number


def checked_count(what: str, value: object, low: int = 1) -> int:
    """``value`` as an int after checking it is an integer (not a bool, not ``2.5``) ``>= low``;
    else an :class:`InvalidInputError` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise InvalidInputError(f"{what}: expected an integer >= {low}, got {value!r}")
    return int(value)
