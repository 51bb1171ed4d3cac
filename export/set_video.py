"""Set the video-mode settings a model recommends, in a copy of the model (metadata only).

``headpose-export --video KEY=VALUE`` records the settings (:class:`headpose.VideoOptions`
fields) that the runtime uses with a model in video mode unless told otherwise. For a model
already exported::

    python -m headpose.export.set_video MODEL.onnx -o NEW.onnx --video detect_every=4 \\
        --video box_shift=true --video box_shift_gain=0.5

writes a new file whose recommended video settings are exactly the ones given (none given: the
model recommends none). The network and every other metadata field are copied unchanged (the
graph is checked byte for byte on the written file); nothing is overwritten.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from headpose.cli.options import KEY_VALUE, command, headpose_errors_as_usage
from headpose.cli.options import run as run_command
from headpose.metadata import ModelMetadata
from headpose.tracking import VideoOptions

from .output_files import save_with_metadata


def set_video(
    model_path: str | Path, output: str | Path, video: dict[str, Any], overwrite: bool = False
) -> Path:
    """Copy ``model_path`` to the NEW file ``output`` recommending the video settings ``video``
    (``VideoOptions`` fields; checked; empty: none). Returns ``output``."""
    VideoOptions.make(dict(video))  # a bad key or value is named before any work

    def with_video(meta: ModelMetadata) -> ModelMetadata:
        extra = {k: v for k, v in meta.extra.items() if k != "video"}
        if video:
            extra["video"] = dict(video)
        return dataclasses.replace(meta, extra=extra)

    return save_with_metadata(model_path, output, with_video, overwrite)


PROG = "python -m headpose.export.set_video"


@command(PROG, (__doc__ or "").split("\n\n")[0])
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="new file")
@click.option(
    "--video",
    type=KEY_VALUE,
    metavar="KEY=VALUE",
    multiple=True,
    help="a VideoOptions field, e.g. detect_every=4; repeatable; none: recommend nothing",
)
def cli(model: Path, output: Path, video: tuple[tuple[str, str], ...]) -> int:
    with headpose_errors_as_usage():
        settings = VideoOptions.parse(video, "--video")
        set_video(model, output, settings)
    click.echo(f"wrote {output}: recommended video settings {settings or 'none'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (bad input: one line ``PROG: error: ...`` and 2)."""
    return run_command(cli, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
