"""What every headpose command line shares (click): option types, ``--version``, the runner that
turns every usage error into one line and exit code 2, and the "install this extra" message.

Every command (the console scripts and the ``python -m headpose...`` tools) is a click command
made by :func:`command` (``-h`` and ``--version``) whose callback returns an exit code; :func:`run`
calls one the way a console script does and returns that code, so tests call ``main([...])``
and get an int back (tests/test_entry_points.py walks them all). Settings that are a
dataclass become options with :func:`dataclass_options`, so each default lives once.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from headpose._version import DIST_NAME, __version__
from headpose.errors import HeadPoseError, first_line

#: Exit code of every usage error (bad option, bad value, missing file, bad config key).
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])
_Settings = TypeVar("_Settings")

#: An existing file or folder, as a :class:`pathlib.Path`.
EXISTING_PATH = click.Path(exists=True, path_type=Path)
#: An existing file.
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
#: An existing folder.
EXISTING_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
#: A file to write (its folder is created when needed).
OUTPUT_FILE = click.Path(dir_okay=False, path_type=Path)
#: A folder to write into.
OUTPUT_DIR = click.Path(file_okay=False, path_type=Path)
#: A count of at least one.
COUNT = click.IntRange(min=1)
#: A score threshold in [0, 1].
SCORE = click.FloatRange(0.0, 1.0)


class KeyValue(click.ParamType):  # type: ignore[type-arg]
    """``key=value`` text -> ``(key, value)`` strings (the value may be empty, never the key)."""

    name = "key=value"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        key, sep, rest = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"expected key=value, got {value!r}", param, ctx)
        return key.strip(), rest


class CommaList(click.ParamType):  # type: ignore[type-arg]
    """``"cuda,cpu"`` -> ``["cuda", "cpu"]`` (blanks dropped)."""

    name = "a,b,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, list):
            return value
        items = [part.strip() for part in str(value).split(",") if part.strip()]
        if not items:
            self.fail(f"expected a comma-separated list, got {value!r}", param, ctx)
        return items


class LiveChoice(click.ParamType):  # type: ignore[type-arg]
    """One of the names ``names()`` returns when the value is checked (a registry read at parse
    time, so entries registered by plug-ins count)."""

    name = "choice"

    def __init__(self, names: Callable[[], list[str]]) -> None:
        self.names = names

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        valid = self.names()
        if value not in valid:
            self.fail(f"{value!r} is not one of {', '.join(valid)}", param, ctx)
        return value

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self.names()) + "]"


class ModelName(click.ParamType):  # type: ignore[type-arg]
    """A shipped pose model's name (:data:`headpose.estimator.BUNDLED_MODELS`) or an existing
    model file."""

    name = "model"

    def convert(self, value: Any, param: Any, ctx: Any) -> str | Path:
        # import cost: the estimator loads OpenCV; every command (and -h) imports this module
        from headpose.estimator import BUNDLED_MODELS, is_unknown_model_name

        if isinstance(value, str) and value in BUNDLED_MODELS:
            return value
        if is_unknown_model_name(value):
            self.fail(
                f"{value!r} is neither a file nor a shipped model "
                f"({', '.join(sorted(BUNDLED_MODELS))})",
                param,
                ctx,
            )
        path: Path = EXISTING_FILE.convert(value, param, ctx)
        return path


class DetectorName(click.ParamType):  # type: ignore[type-arg]
    """A face detector name from :func:`headpose.detectors.registered` (read when the value is
    checked, so detectors registered by a plug-in count), ``auto``, or ``none`` when
    ``allow_none``."""

    name = "detector"

    def __init__(self, allow_none: bool = True) -> None:
        self.allow_none = allow_none

    def choices(self) -> list[str]:
        from headpose.detectors import registered  # import cost: loads OpenCV, see ModelName

        return ["auto", *registered(), *(["none"] if self.allow_none else [])]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip()
        valid = self.choices()
        if text.lower() in ("auto", "none"):
            text = text.lower()
        if text == "none" and not self.allow_none:
            self.fail(f"'none': this command needs a face detector, one of {', '.join(valid)}")
        if text not in valid:
            self.fail(f"{value!r} is not one of {', '.join(valid)}", param, ctx)
        return text

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self.choices()) + "]"


KEY_VALUE = KeyValue()
COMMA_LIST = CommaList()


def detector_option(
    help_text: str = "runtime face detector", allow_none: bool = False, default: str = "yunet"
) -> Callable[[F], F]:
    """``--detector NAME``: a registered face detector (``none`` too with ``allow_none``)."""
    return click.option(
        "--detector",
        type=DetectorName(allow_none=allow_none),
        default=default,
        show_default=True,
        help=help_text,
    )


def runtime_options(detector_help: str, allow_no_detector: bool) -> Callable[[F], F]:
    """The options every runtime command shares: ``--model``, ``--detector``, ``--providers``,
    ``--threads`` (the :class:`~headpose.Estimator` arguments)."""

    def decorate(fn: F) -> F:
        for option in reversed(
            [
                click.option(
                    "--model",
                    type=ModelName(),
                    help="a shipped model (default, fast) or an exported headpose .onnx "
                    "(default: default)",
                ),
                detector_option(detector_help, allow_no_detector, default="auto"),
                click.option(
                    "--providers", type=COMMA_LIST, help="onnxruntime providers, e.g. cuda,cpu"
                ),
                click.option(
                    "--threads",
                    type=click.IntRange(min=0),
                    help="onnxruntime threads per network (default: half the cores, 1 to 4; "
                    "0 = onnxruntime decides)",
                ),
            ]
        ):
            fn = option(fn)
        return fn

    return decorate


def video_options(fn: F) -> F:
    """``--video KEY=VALUE`` (repeatable): changes to video mode's settings, the model's own by
    default (:class:`~headpose.tracking.VideoOptions`), on commands that read videos."""
    return click.option(
        "--video",
        type=KEY_VALUE,
        multiple=True,
        metavar="KEY=VALUE",
        help="video mode setting, repeatable (default: the model's own), e.g. detect_every=2, "
        "box_shift=false, roi=false (search the whole frame every frame); keys: see "
        "docs/USAGE.md",
    )(fn)


def video_settings(options: Any) -> dict[str, Any]:
    """The changes to :attr:`Estimator.video <headpose.estimator.Estimator.video>` that
    :func:`video_options` gave (empty: the model's own settings)."""
    from headpose.tracking import VideoOptions  # import cost: loads OpenCV, see ModelName

    try:
        return VideoOptions.parse(getattr(options, "video", ()) or (), "--video")
    except HeadPoseError as exc:
        raise click.BadParameter(first_line(exc), param_hint="'--video'") from None


def dataclass_options(cls: type[Any], names: Sequence[str] | None = None) -> Callable[[F], F]:
    """Click options made from the fields of the dataclass ``cls`` (``names``: only these, in
    this order; default all), so that each setting's default, range and help live once, in the
    dataclass. A field ``max_yaw`` becomes ``--max-yaw`` with the field's default; a ``bool``
    field a flag. The field's ``metadata`` gives ``help``, ``choices`` (a
    tuple), ``low`` / ``high`` / ``low_open`` (a range of an int or float) and ``metavar``; a
    ``bool`` field with default True becomes ``--NAME/--no-NAME``."""
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    chosen = [by_name[n] for n in names] if names is not None else list(by_name.values())

    def option(f: dataclasses.Field[Any]) -> Callable[[F], F]:
        meta, default = f.metadata, f.default
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):  # a True default is turned off with --no-NAME
            name = f"{flag}/--no-{flag[2:]}" if default else flag
            return click.option(name, f.name, is_flag=True, default=default, help=meta.get("help"))
        kind: Any = type(default)
        if "choices" in meta:
            kind = click.Choice(list(meta["choices"]))
        elif "low" in meta or "high" in meta:
            ranged = click.IntRange if isinstance(default, int) else click.FloatRange
            kind = ranged(meta.get("low"), meta.get("high"), min_open=meta.get("low_open", False))
        return click.option(
            flag,
            f.name,
            type=kind,
            default=default,
            show_default=True,
            metavar=meta.get("metavar"),
            help=meta.get("help"),
        )

    def decorate(fn: F) -> F:
        for f in reversed(chosen):
            fn = option(f)(fn)
        return fn

    return decorate


def dataclass_values(cls: type[_Settings], values: dict[str, Any]) -> _Settings:
    """``cls`` made from the values of its fields in a click callback's ``values`` (which it
    takes out of ``values``): the other half of :func:`dataclass_options`."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: values.pop(name) for name in names if name in values})


def version_option(prog: str) -> Callable[[F], F]:
    """``--version``: prints ``PROG, version X (distribution DIST)`` and exits 0."""
    return click.version_option(
        __version__,
        "--version",
        prog_name=prog,
        message=f"%(prog)s %(version)s (distribution {DIST_NAME})",
    )


def command(prog: str, help_text: str | None = None) -> Callable[[F], click.Command]:
    """A click command named ``prog`` with ``-h/--help`` and ``--version``."""

    def decorate(fn: F) -> click.Command:
        fn = version_option(prog)(fn)
        return click.command(
            prog,
            help=help_text or fn.__doc__,
            context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
        )(fn)

    return decorate


def print_problem(prog: str, message: str | BaseException, kind: str = "error") -> None:
    """Print ``PROG: KIND: MESSAGE`` (the message's first line) on stderr: the one form of every
    line a command prints about a problem (``kind``: ``error``, ``warning``)."""
    print(f"{prog}: {kind}: {first_line(message)}", file=sys.stderr)


def usage_error(prog: str, message: str) -> int:
    """Print ``PROG: error: MESSAGE`` (first line only) on stderr; return :data:`EXIT_USAGE`."""
    print_problem(prog, message)
    return EXIT_USAGE


@contextmanager
def native_stderr(sink: list[str]) -> Iterator[None]:
    """Inside, what C libraries (libjpeg's "Corrupt JPEG data: ...", libpng's warnings) write
    straight to file descriptor 2 is collected in ``sink``, one entry per non-empty line,
    instead of reaching the terminal, so that a command can say it in its own line. For a
    command's own single-threaded code: it swaps the process's stderr for the block."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (e.g. a GUI launcher): nothing to catch
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode("utf-8", errors="replace")
            sink.extend(line.strip() for line in text.splitlines() if line.strip())


@contextmanager
def headpose_errors_as_usage() -> Iterator[None]:
    """Inside, a :class:`~headpose.errors.HeadPoseError` becomes a one-line click error (under
    :func:`run`: the message's first line and :data:`EXIT_USAGE`)."""
    try:
        yield
    except HeadPoseError as exc:
        raise click.ClickException(first_line(exc)) from exc


def run(cmd: click.Command, argv: Sequence[str] | None, prog: str) -> int:
    """Call ``cmd`` like a console script and return its exit code: the callback's return value,
    0 for ``--help``/``--version``, :data:`EXIT_USAGE` with one line on stderr for any usage
    error (no usage block, no traceback), 130 for Ctrl+C. Python warnings print as one line
    ``PROG: warning: MESSAGE``."""
    args = list(sys.argv[1:] if argv is None else argv)

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        print_problem(prog, str(message), "warning")

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show  # a Python warning is the command's own line
            result = cmd.main(args=args, prog_name=prog, standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code)
    except click.ClickException as exc:
        return usage_error(prog, exc.format_message())
    except click.Abort:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def missing_extra(prog: str, exc: ImportError, extra: str) -> int:
    """One line saying which extra to install when ``prog`` lacks a module; returns exit 2.

    The commands of the training toolkit and exporter are installed with the runtime (one
    distribution), so a runtime-only install still has them: they say what is missing instead of
    printing a traceback.
    """
    name = getattr(exc, "name", None) or str(exc)
    print(
        f"{prog}: error: this command needs the [{extra}] extra (missing Python module "
        f"'{name}'): pip install \"{DIST_NAME}[{extra}]\" (from a checkout: pip install "
        f'".[cpu,{extra}]")',
        file=sys.stderr,
    )
    return EXIT_USAGE
