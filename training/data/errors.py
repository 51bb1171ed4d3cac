"""The one error class of the data layer."""

from __future__ import annotations

from headpose.errors import HeadPoseError


class DataError(HeadPoseError, ValueError):
    """Bad training data: a missing/corrupt file, a malformed label file, a bad option.

    Messages name the file and the row/field, and say what was expected and what was found.
    """
