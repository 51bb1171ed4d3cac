"""Exceptions raised by headpose. Every message names the offending file, field or value."""

from __future__ import annotations


class HeadPoseError(Exception):
    """Base class of every error headpose raises on purpose."""


class InvalidImageError(HeadPoseError, ValueError):
    """An image that cannot be used: unreadable, empty, wrong dtype or channel count."""


class InvalidModelError(HeadPoseError, ValueError):
    """A model file that is missing, truncated, or not an exported headpose model."""


class InvalidInputError(HeadPoseError, ValueError):
    """Any other bad argument (boxes, options)."""


class MissingDependencyError(HeadPoseError, ImportError):
    """An optional dependency is not installed; the message says which extra to install."""


class CheckpointError(InvalidModelError):
    """A torch checkpoint or weights file that is missing, unreadable, not a headpose
    checkpoint, holds pickled objects that were not trusted, or does not build a model."""


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
