"""The rules for files the export tools write: a new file in an existing folder, never an
existing file silently, written under a temporary name and moved into place only when done."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from headpose.errors import InvalidInputError


def check_new_output(output: str | Path, overwrite: bool = False) -> Path:
    """``output`` as a :class:`Path` after checking it may be written: it must not exist (unless
    ``overwrite``) and its folder must. Raises :class:`InvalidInputError` naming the file."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise InvalidInputError(f"{output}: already exists; not overwriting (choose a new -o file)")
    if not output.parent.is_dir():
        raise InvalidInputError(f"{output}: folder {output.parent} does not exist")
    return output


def save_new_onnx(
    model: object,
    output: Path,
    overwrite: bool = False,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Save the ONNX ``model`` to a temporary file beside ``output``, run ``verify(tmp)`` on it
    (it raises to refuse), and move it to ``output``, which must still not exist unless
    ``overwrite``. On any failure nothing is left behind."""
    import onnx

    tmp = output.with_name(f".{output.name}.tmp")
    try:
        onnx.save(model, str(tmp))
        if verify is not None:
            verify(tmp)
        if output.exists() and not overwrite:  # appeared meanwhile
            raise InvalidInputError(f"{output}: already exists; not overwriting")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output
