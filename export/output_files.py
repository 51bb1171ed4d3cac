"""The rules for files the export tools write: a new file in an existing folder, never an
existing file silently, written under a temporary name and moved into place only when done."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from headpose.errors import InvalidInputError
from headpose.metadata import METADATA_KEY, ModelMetadata, read_metadata


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


def save_with_metadata(
    model_path: str | Path,
    output: str | Path,
    change: Callable[[ModelMetadata], ModelMetadata],
    overwrite: bool = False,
) -> Path:
    """Copy the ONNX model ``model_path`` to the NEW file ``output`` with its headpose metadata
    replaced by ``change(metadata)``; the graph and weights are copied byte for byte (checked on
    the written file). Refuses to write over the input model, and over any existing file unless
    ``overwrite`` (then replaced atomically)."""
    import onnx

    model_path, output = Path(model_path), Path(output)
    if output.resolve() == model_path.resolve():
        raise InvalidInputError(f"{output}: is the input model; write a new file")
    check_new_output(output, overwrite)
    model = onnx.load(str(model_path))
    props = {p.key: p.value for p in model.metadata_props}
    new = change(read_metadata(props, str(model_path)))
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            entry.value = new.to_json()
    graph = model.graph.SerializeToString()

    def same_graph(path: Path) -> None:
        if onnx.load(str(path)).graph.SerializeToString() != graph:
            raise InvalidInputError(f"{output}: the written graph differs from {model_path}")

    return save_new_onnx(model, output, overwrite, verify=same_graph)
