"""The one rule for every file a headpose command writes.

* :func:`check_output` says whether a run may write a file: never an input of the run, with or
  without ``--overwrite``; an existing file only with ``--overwrite``; a device such as
  ``/dev/null`` always (it is not replaced, only written to). Inputs are the files a run reads,
  given as files or as folders it reads from: every file already inside an input folder counts
  as an input (the run may read it); a new file written there does not.
* :func:`atomic_write` and :class:`AtomicFile` write it: under the temporary name
  ``.NAME.tmp-PID`` in the target's folder (:func:`temp_path`), flushed and fsync'ed, then
  renamed over the target (:func:`os.replace`) and the folder fsync'ed. An error while writing
  removes the temporary file and leaves the old file as it was; a process killed mid-write
  leaves the old file and its temporary file, which :func:`remove_stale_temp_files` deletes
  later (the ``*.tmp-*`` pattern is in ``.gitignore``).

The runtime, the training toolkit and the exporter all write through here.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from headpose.errors import InvalidInputError

PathLike = str | os.PathLike[str]

#: The name :func:`temp_path` gives, as a pattern (group 1: the writing process's id).
TEMP_NAME = re.compile(r"^\..+\.tmp-(\d+)$")

#: What an existing file needs before a command replaces it.
OVERWRITE_HINT = "pass --overwrite to replace it, or choose another file"


class OutputError(InvalidInputError):
    """A file a command must not write: an input of the run, or an existing file without
    ``--overwrite``, or a folder where a file name was expected."""


def temp_path(path: PathLike) -> Path:
    """The temporary name a file is written under before it takes ``path``'s name:
    ``.NAME.tmp-PID`` in the same folder (so the final rename never crosses file systems)."""
    p = Path(path)
    return p.with_name(f".{p.name}.tmp-{os.getpid()}")


def is_device(path: PathLike) -> bool:
    """True when ``path`` exists and is neither a regular file nor a folder (``/dev/null``, a
    FIFO, a terminal): such a target is written in place, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


class Inputs:
    """The files and folders a run reads, resolved once: a run that checks many outputs against
    many inputs (headpose-predict's annotated copies) builds this once and passes it."""

    def __init__(self, items: Iterable[PathLike]) -> None:
        self.files: dict[Path, PathLike] = {}
        self.folders: list[tuple[PathLike, Path]] = []
        for item in items:
            source = Path(item).resolve()
            self.files.setdefault(source, item)
            if source.is_dir():
                self.folders.append((item, source))

    def __iter__(self) -> Iterator[PathLike]:
        return iter(self.files.values())


def input_clash(path: PathLike, inputs: Iterable[PathLike]) -> str | None:
    """Why writing ``path`` would write an input of the run (``inputs``: the files and folders
    it reads, or :class:`Inputs`), or ``None``. An existing file inside an input folder counts
    as an input."""
    read = inputs if isinstance(inputs, Inputs) else Inputs(inputs)
    resolved = Path(path).resolve()
    if resolved in read.files:
        return f"is an input of this run ({read.files[resolved]})"
    if read.folders and resolved.exists():
        for item, source in read.folders:
            if source in resolved.parents:
                return f"is inside the input folder {item}, which this run reads"
    return None


def holds_input(folder: PathLike, inputs: Iterable[PathLike]) -> str | None:
    """Why files written under the output folder ``folder`` could replace an input (it is an
    input folder, or an input lies inside it), or ``None``."""
    root = Path(folder).resolve()
    for item in inputs:
        source = Path(item).resolve()
        if source == root or root in source.parents:
            return f"holds the input {item}"
    return None


def check_output_folder(folder: PathLike, inputs: Iterable[PathLike] = (), what: str = "") -> Path:
    """``folder`` as a :class:`Path` once files may be written under it: it must not hold an
    input (:func:`holds_input`) or lie inside an input folder (:func:`input_clash`), with or
    without ``--overwrite``; else an :class:`OutputError` naming it. Whether files already in
    it may be replaced is the caller's (:func:`check_output` per file)."""
    p = Path(folder)
    read = list(inputs)
    clash = holds_input(p, read) or input_clash(p, read)
    if clash is not None:
        raise OutputError(
            f"{what}{p}: {clash}; an input is never written, even with --overwrite: "
            "choose another folder"
        )
    if p.exists() and not p.is_dir():
        raise OutputError(f"{what}{p}: is a file; expected a folder")
    return p


def check_output(
    path: PathLike,
    overwrite: bool = False,
    inputs: Iterable[PathLike] = (),
    what: str = "",
) -> Path:
    """``path`` as a :class:`Path` once it may be written, else an :class:`OutputError` naming
    it (prefixed by ``what``, e.g. ``"--output "``).

    Refused always: an input of the run or a file inside an input folder (``inputs``), even
    with ``overwrite``; a folder. Refused unless ``overwrite``: an existing file. Allowed: a new
    file, and a device such as ``/dev/null``.
    """
    p = Path(path)
    clash = input_clash(p, inputs)
    if clash is not None:
        raise OutputError(
            f"{what}{p}: {clash}; an input is never written, even with --overwrite: "
            "choose another file"
        )
    if is_device(p):
        return p
    if p.is_dir():
        raise OutputError(f"{what}{p}: is a folder; expected a file name")
    if p.exists() and not overwrite:
        raise OutputError(f"{what}{p}: already exists; {OVERWRITE_HINT}")
    return p


def _fsync_path(path: Path, folder: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY if folder else os.O_RDWR)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicFile:
    """Write one file atomically: ``with AtomicFile(path) as tmp: write(tmp)``.

    Inside the block, write the temporary file ``tmp`` (:func:`temp_path`; a library that
    takes a file name writes it directly). When the block ends normally the file is fsync'ed
    and renamed to ``path``; when it raises (or :meth:`discard` is called) the temporary file
    is removed and ``path`` is left as it was. ``path``'s folder is created when missing.
    ``overwrite=False``: a file that appeared at ``path`` meanwhile is not replaced (an
    :class:`OutputError`). A device (``/dev/null``) is written in place.
    """

    def __init__(self, path: PathLike, overwrite: bool = True) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self.direct = is_device(self.path)
        self.tmp = self.path if self.direct else temp_path(self.path)
        self.done = False

    def __enter__(self) -> Path:
        if not self.direct:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.tmp

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def open(self, mode: str = "wb", **kwargs: Any) -> IO[Any]:
        """Open the temporary file (creating the folder) for writing."""
        self.__enter__()
        return open(self.tmp, mode, **kwargs)  # noqa: SIM115 - closed by the caller

    def commit(self) -> Path:
        """fsync the temporary file, rename it to ``path`` and fsync the folder."""
        if self.done:
            return self.path
        self.done = True
        if self.direct:
            return self.path
        try:
            if not self.overwrite and self.path.exists():
                raise OutputError(f"{self.path}: appeared while it was written; {OVERWRITE_HINT}")
            _fsync_path(self.tmp)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        _fsync_path(self.path.parent, folder=True)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file; ``path`` stays as it was."""
        self.done = True
        if not self.direct:
            self.tmp.unlink(missing_ok=True)


Content = bytes | str | Callable[[IO[bytes]], object]


def atomic_write(path: PathLike, content: Content, overwrite: bool = True) -> Path:
    """Write ``content`` to ``path`` atomically (:class:`AtomicFile`): ``bytes``, ``str``
    (UTF-8) or a function called with the open binary file. Returns ``path``."""
    with AtomicFile(path, overwrite=overwrite) as tmp, open(tmp, "wb") as handle:
        if isinstance(content, bytes):
            handle.write(content)
        elif isinstance(content, str):
            handle.write(content.encode("utf-8"))
        else:
            content(handle)
        handle.flush()
    return Path(path)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours, or no signals (Windows): keep its file
        return True
    return True


def remove_stale_temp_files(folder: PathLike) -> list[Path]:
    """Delete the temporary files (:func:`temp_path`) in ``folder`` that processes killed
    mid-write left behind; files of a process still running are kept. Returns them."""
    root = Path(folder)
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in sorted(root.iterdir()):
        match = TEMP_NAME.match(path.name)
        if match and path.is_file() and not _pid_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
