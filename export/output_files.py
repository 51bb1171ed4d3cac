"""ONNX files the export tools write, by the one rule of :mod:`headpose.files`: never an input,
never an existing file without ``overwrite``, written under a temporary name, checked there, and
moved into place only when done."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from headpose.errors import InvalidInputError
from headpose.files import AtomicFile, atomic_write, check_output
from headpose.metadata import METADATA_KEY, ModelMetadata, read_metadata
from headpose.pose_model import file_sha256


def save_new_onnx(
    model: object,
    output: Path,
    overwrite: bool = False,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Save the ONNX ``model`` to a temporary file beside ``output``, run ``verify(tmp)`` on it
    (it raises to refuse), and move it to ``output``, which must still not exist unless
    ``overwrite``. On any failure nothing is left behind."""
    import onnx  # onnx: optional, the [export] extra

    with AtomicFile(output, overwrite=overwrite) as tmp:
        onnx.save(model, str(tmp))
        if verify is not None:
            verify(tmp)
    return output


def copy_members(meta: ModelMetadata, source: Path, folder: Path) -> None:
    """A pooled model's member files, from ``source`` into ``folder`` (the folder of a copy of the
    pool, which loads them from there): each one absent there is copied (atomically); one present
    must be the same file (sha256), else :class:`InvalidInputError` before anything is written."""
    missing = []
    for member in meta.members:
        src, dst = source / member.file, folder / member.file
        if dst.exists():
            if file_sha256(dst) != member.sha256:
                raise InvalidInputError(
                    f"{dst}: a different file has the name of a member of the pooled model; "
                    "write the copy into another folder"
                )
        elif not src.is_file() or file_sha256(src) != member.sha256:
            raise InvalidInputError(f"{src}: member of the pooled model missing or changed")
        else:
            missing.append((src, dst))
    for src, dst in missing:
        atomic_write(dst, src.read_bytes(), overwrite=False)


def save_with_metadata(
    model_path: str | Path,
    output: str | Path,
    change: Callable[[ModelMetadata], ModelMetadata],
    overwrite: bool = False,
) -> Path:
    """Copy the ONNX model ``model_path`` to the NEW file ``output`` with its headpose metadata
    replaced by ``change(metadata)``; the graph and weights are copied byte for byte (checked on
    the written file). Refuses to write over the input model, and over any existing file unless
    ``overwrite`` (then replaced atomically). A pooled model's member files go along
    (:func:`copy_members`)."""
    import onnx  # onnx: optional, the [export] extra

    model_path = Path(model_path)
    output = check_output(output, overwrite, inputs=[model_path])
    model = onnx.load(str(model_path))
    props = {p.key: p.value for p in model.metadata_props}
    new = change(read_metadata(props, str(model_path)))
    copy_members(new, model_path.parent, output.parent)
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            entry.value = new.to_json()
    graph = model.graph.SerializeToString()

    def same_graph(path: Path) -> None:
        if onnx.load(str(path)).graph.SerializeToString() != graph:
            raise InvalidInputError(f"{output}: the written graph differs from {model_path}")

    return save_new_onnx(model, output, overwrite, verify=same_graph)
