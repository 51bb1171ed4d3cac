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
