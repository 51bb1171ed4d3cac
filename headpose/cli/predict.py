"""headpose-predict: head pose of every face in images, folders and videos.

    headpose-predict photo.jpg folder/ clip.mp4 --output poses.jsonl --annotate out/

One record per face: file, frame (video frame index; empty for images), face (index in its
image), box, score, yaw, pitch, roll, uncertainty (degrees). Files that cannot be read are
reported on stderr and skipped; the exit code is then 1 (2 for a bad model or bad options).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import click
import cv2
import numpy as np

from headpose.cli.options import (
    COUNT,
    OUTPUT_DIR,
    OUTPUT_FILE,
    SCORE,
    command,
    headpose_errors_as_usage,
    native_stderr,
    print_problem,
    run,
    runtime_options,
    usage_error,
    video_options,
    video_settings,
)
from headpose.draw import draw
from headpose.errors import HeadPoseError, IncompleteVideoError, InvalidImageError
from headpose.estimator import Estimator
from headpose.files import (
    AtomicFile,
    Inputs,
    OutputError,
    atomic_write,
    check_output,
    holds_input,
    is_device,
)
from headpose.image_io import IMAGE_SUFFIXES, read_image_file
from headpose.tracking import check_complete, frame_count, open_video

PROG = "headpose-predict"

VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
CSV_FIELDS = [
    "file",
    "frame",
    "face",
    "x1",
    "y1",
    "x2",
    "y2",
    "score",
    "yaw",
    "pitch",
    "roll",
    "uncertainty",
]
LONG_INPUT = 20  # show progress for more items than this


# ---------------------------------------------------------------------------- inputs
def expand_inputs(
    inputs: Sequence[str], exclude: Path | None = None
) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """``(files, empty folders)``. Files are ``(file, relative name)`` to process: each file as
    given (relative name: its file name), and the images and videos in each folder (recursive,
    sorted; relative name: the path inside the folder), leaving out the folder ``exclude``
    (this run's ``--annotate`` output) where it lies inside one. A missing path is kept as is so
    that it is reported. Empty folders: folders given that hold no image or video."""
    files: list[tuple[Path, Path]] = []
    empty: list[Path] = []
    skip = None if exclude is None else exclude.resolve()
    for item in inputs:
        path = Path(item)
        if not path.is_dir():
            files.append((path, Path(path.name)))
            continue
        inside = skip is not None and skip != path.resolve() and path.resolve() in skip.parents
        found = [
            (f, f.relative_to(path))
            for f in sorted(path.rglob("*"))
            if f.is_file()
            and f.suffix.lower() in (*IMAGE_SUFFIXES, *VIDEO_EXTS)
            and not (inside and skip in f.resolve().parents)
        ]
        files.extend(found)
        if not found:
            empty.append(path)
    return files, empty


def annotate_clash(annotate: Path, inputs: Sequence[str], overwrite: bool) -> str | None:
    """Why ``--annotate annotate`` may not be used with these inputs, or ``None``: a folder that
    holds an input (its copies could replace the originals) never, even with ``overwrite``; a
    folder inside an input folder (a later run would read its copies as inputs; this run never
    reads them) only with ``overwrite``."""
    held = holds_input(annotate, inputs)
    if held is not None:
        return (
            f"--annotate {annotate}: {held}, so the annotated copies could replace the "
            "originals; an input is never written, even with --overwrite: choose another folder"
        )
    ann = annotate.resolve()
    folders = [item for item in inputs if Path(item).is_dir()]
    inside = next((item for item in folders if Path(item).resolve() in ann.parents), None)
    if inside is not None and not overwrite:
        return (
            f"--annotate {annotate}: is inside the input folder {inside}, so a later run would "
            "read its annotated copies as inputs; choose another folder (or pass --overwrite)"
        )
    return None


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS


def iter_video(
    path: Path, every: int = 1, show_progress: bool = False
) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame index, BGR frame)`` of a video; :class:`InvalidImageError` naming the file if it
    cannot be opened or has no readable frame, and :class:`IncompleteVideoError` after the last
    frame when the video ended before the frame count its container states."""
    if not path.is_file():
        raise InvalidImageError(f"{path}: no such file")
    cap = open_video(path)
    progress: Progress | None = None
    try:
        progress = Progress(frame_count(cap), show_progress, unit="frame")
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            if index % every == 0:
                yield index, frame
            index += 1
            progress.step()
        if index == 0:
            raise InvalidImageError(f"{path}: no frame could be read (corrupt or empty video)")
        check_complete(cap, index, str(path))
    finally:
        cap.release()
        if progress is not None:
            progress.close()


# ---------------------------------------------------------------------------- outputs
def face_record(file: str, frame: int | None, index: int, face: Any) -> dict[str, Any]:
    """One output record (JSON-safe)."""
    d = face.to_dict()
    return {
        "file": file,
        "frame": frame,
        "face": index,
        "box": [None if v is None else round(v, 2) for v in d["box"]],
        "score": _round(d["score"]),
        "yaw": _round(d["yaw"]),
        "pitch": _round(d["pitch"]),
        "roll": _round(d["roll"]),
        "uncertainty": _round(d["uncertainty"]),
    }


def _round(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(v, digits)


class RecordWriter:
    """Writes records to a .jsonl / .csv file and/or stdout.

    The file is written under a temporary name beside ``output`` and takes its name on
    :meth:`close` only when at least one input was read (:attr:`inputs_read`, counted by the
    caller): a run whose every input fails leaves no file, and a run stopped half-way keeps the
    records written so far. The caller checks that ``output`` may be written
    (:func:`headpose.files.check_output`); a file that appeared there meanwhile is replaced only
    with ``overwrite``.
    """

    def __init__(self, output: Path | None, to_stdout: bool, overwrite: bool = False) -> None:
        self._file: IO[Any] | None = None
        self._csv: Any = None
        self._stdout = to_stdout
        self.output = output
        self.inputs_read = 0
        self._atomic: AtomicFile | None = None
        if output is not None:
            suffix = output.suffix.lower()
            if suffix not in (".jsonl", ".json", ".csv") and not is_device(output):
                raise ValueError(f"--output {output}: expected a .jsonl or .csv file name")
            self._atomic = AtomicFile(output, overwrite=overwrite)
            self._file = self._atomic.open("w", newline="", encoding="utf-8")
            if suffix == ".csv":
                self._csv = csv.DictWriter(self._file, fieldnames=CSV_FIELDS)
                self._csv.writeheader()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record)
        if self._stdout:
            print(line)
        if self._file is None:
            return
        if self._csv is not None:
            row = {k: record[k] for k in CSV_FIELDS if k in record}
            row.update(zip(("x1", "y1", "x2", "y2"), record["box"], strict=True))
            self._csv.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_FIELDS})
        else:
            self._file.write(line + "\n")

    def close(self) -> None:
        """Close the file and give it its name, or remove it when no input was read."""
        if self._file is None or self._atomic is None:
            return
        self._file.close()
        self._file = None
        if not self.inputs_read:
            self._atomic.discard()
            return
        try:
            self._atomic.commit()
        except OutputError as exc:  # a file appeared at --output during the run: kept
            print_problem(PROG, exc)


def print_human(record: dict[str, Any]) -> None:
    where = record["file"] + ("" if record["frame"] is None else f" [frame {record['frame']}]")

    def f(v: float | None) -> str:
        return "   n/a" if v is None else f"{v:+6.1f}"

    print(
        f"{where} face {record['face']}: yaw {f(record['yaw'])} pitch {f(record['pitch'])} "
        f"roll {f(record['roll'])} (+-{record['uncertainty'] or 0:.1f}) box {record['box']}"
    )


class Progress:
    """tqdm when installed, else a plain counter on stderr; silent for short inputs."""

    def __init__(self, total: int | None, enabled: bool, unit: str = "file") -> None:
        self.enabled = enabled and (total is None or total > LONG_INPUT)
        self.count = 0
        self.total = total
        self._bar = None
        self._last = 0.0
        if self.enabled:
            try:
                from tqdm import tqdm  # optional: in the [train] extra, not the runtime

                self._bar = tqdm(total=total, unit=unit, file=sys.stderr, leave=False)
            except ImportError:
                self._bar = None

    def step(self, n: int = 1) -> None:
        self.count += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
        elif time.monotonic() - self._last > 0.5:
            self._last = time.monotonic()
            total = "" if self.total is None else f"/{self.total}"
            print(f"\r{self.count}{total}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            print(file=sys.stderr)


# ---------------------------------------------------------------------------- main
class AnnotationPaths:
    """Where ``--annotate DIR`` writes: the input tree mirrored under DIR.

    An image ``folder/a/x.jpg`` given as ``folder`` is written to ``DIR/a/x.jpg`` (an image
    given directly: ``DIR/x.jpg``); a name whose suffix OpenCV cannot write in colour gets
    ``.jpg`` appended (``x.pgm`` -> ``x.pgm.jpg``); video frames go to
    ``DIR/a/clip.mp4/frame_000012.jpg``. Two inputs that map to one name (``a/x.jpg`` and
    ``b/x.jpg`` given as two folders) never overwrite each other: the later one is written as
    ``x-2.jpg`` and a note goes to stderr. A file left by an earlier run is replaced only with
    ``overwrite`` (counted in :attr:`replaced`); without it, it is an :class:`OSError` naming it.
    """

    WRITABLE = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

    def __init__(
        self,
        out_dir: Path,
        quiet: bool = False,
        overwrite: bool = False,
        inputs: Iterable[Path] = (),
    ) -> None:
        self.out_dir = out_dir
        self.quiet = quiet
        self.overwrite = overwrite
        self.inputs = Inputs(inputs)  # the files this run reads: never written
        self.claimed: dict[tuple[Path, int | None], Path] = {}  # (input file, frame) -> path
        self.used: set[Path] = set()
        self.replaced = 0

    def _base(self, rel: Path, frame: int | None) -> Path:
        if frame is not None:
            return self.out_dir / rel / f"frame_{frame:06d}.jpg"
        if rel.suffix.lower() in self.WRITABLE:
            return self.out_dir / rel
        return self.out_dir / rel.with_name(rel.name + ".jpg")

    def path(self, source: Path, rel: Path, frame: int | None = None) -> Path:
        """The file for ``source`` (frame ``frame`` of a video), unique within this run."""
        key = (source, frame)
        if key in self.claimed:
            return self.claimed[key]
        target = base = self._base(rel, frame)
        n = 1
        while target in self.used:
            n += 1
            target = base.with_name(f"{base.stem}-{n}{base.suffix}")
        if target != base and not self.quiet:
            print(
                f"note: --annotate: {source} maps to {base}, already written in this run; "
                f"writing {target}",
                file=sys.stderr,
            )
        self.used.add(target)
        self.claimed[key] = target
        existed = target.exists()
        try:
            check_output(target, self.overwrite, self.inputs)
        except OutputError as exc:
            raise OSError(str(exc)) from None
        self.replaced += existed
        return target

    def earlier(self, files: Sequence[tuple[Path, Path]]) -> list[Path]:
        """The files this run would write over for ``files`` (``(file, relative name)``): an
        image's annotated copy, or a video's folder of frames when it holds any."""
        probe = AnnotationPaths(self.out_dir, quiet=True, overwrite=True)
        found = []
        for source, rel in files:
            if is_video(source):
                folder = self.out_dir / rel
                if folder.is_dir() and any(folder.glob("frame_*.jpg")):
                    found.append(folder)
            elif (target := probe.path(source, rel)).exists():
                found.append(target)
        return found

    def write(self, source: Path, rel: Path, image: np.ndarray, frame: int | None = None) -> None:
        """Write the annotated ``image``; :class:`OSError` naming the file when it fails."""
        target = self.path(source, rel, frame)
        ok, encoded = cv2.imencode(target.suffix or ".jpg", image)
        if not ok:
            raise OSError(f"{target}: OpenCV could not encode the annotated image")
        atomic_write(target, encoded.tobytes())


@command(PROG)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", type=OUTPUT_FILE, help="write records to FILE.jsonl or FILE.csv")
@click.option(
    "--annotate",
    type=OUTPUT_DIR,
    metavar="DIR",
    help="write annotated copies to DIR, mirroring the input tree (never one name twice)",
)
@runtime_options(
    "face detector, or 'none' to take each whole image as one face crop", allow_no_detector=True
)
@click.option("--json", "json_out", is_flag=True, help="print one JSON record per face on stdout")
@click.option(
    "--min-score",
    type=SCORE,
    help="detector score threshold (default: the detector's own, yunet 0.6, blazeface 0.5)",
)
@click.option("--max-faces", type=COUNT, help="keep at most this many faces per image")
@click.option("--every", type=COUNT, default=1, metavar="N", help="videos: every N-th frame")
@video_options
@click.option(
    "--overwrite",
    "--force",
    is_flag=True,
    help="replace an existing --output file and annotated copies from an earlier run, and "
    "allow an --annotate folder inside an input folder; an input is never replaced",
)
@click.option("-q", "--quiet", is_flag=True, help="no progress or summary on stderr")
def cli(**options: Any) -> int:
    """Head pose (yaw, pitch, roll in degrees) of every face in images, folders (recursive) and
    videos."""
    args = SimpleNamespace(**options)
    args.json = args.json_out
    if args.annotate is not None:
        clash = annotate_clash(args.annotate, args.inputs, args.overwrite)
        if clash is not None:
            raise click.UsageError(clash)
    video = video_settings(args)
    files, empty = expand_inputs(args.inputs, args.annotate)
    args.read = Inputs(path for path, _ in files)  # never written, even with --overwrite
    if args.output is not None:
        with headpose_errors_as_usage():
            check_output(args.output, args.overwrite, args.read, "--output ")
    if args.annotate is not None and not args.overwrite:
        earlier = AnnotationPaths(args.annotate).earlier(files)
        if earlier:
            raise click.UsageError(
                f"--annotate {args.annotate}: {len(earlier)} file(s) from an earlier run would be "
                f"replaced (e.g. {earlier[0]}); pass --overwrite or choose another folder"
            )
    try:
        writer = RecordWriter(args.output, to_stdout=args.json, overwrite=args.overwrite)
    except (ValueError, OSError) as exc:
        return usage_error(PROG, str(exc))
    try:
        est = Estimator(
            None if args.model is None else str(args.model),
            detector=None if args.detector == "none" else args.detector,
            providers=args.providers,
            min_score=args.min_score,
            max_faces=args.max_faces,
            threads=args.threads,
        )
        est.video = est.video.merged(video)
    except HeadPoseError as exc:
        writer.close()
        return usage_error(PROG, str(exc))
    if args.annotate is not None:
        try:
            args.annotate.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            writer.close()
            return usage_error(PROG, f"--annotate {args.annotate}: {exc.strerror}")
    try:
        return _run(args, est, writer, files, empty)
    except BrokenPipeError:  # e.g. `headpose-predict ... --json | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    finally:
        writer.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    return run(cli, argv, PROG)


def _run(
    args: SimpleNamespace,
    est: Any,
    writer: RecordWriter,
    files: list[tuple[Path, Path]],
    empty: list[Path],
) -> int:
    def predict(image: np.ndarray) -> list[Any]:
        faces: list[Any] = (
            est.predict_crops([image]) if est.detector is None else est.predict(image)
        )
        return faces

    def emit(file: str, frame: int | None, faces: list[Any]) -> None:
        for i, face in enumerate(faces):
            record = face_record(file, frame, i, face)
            writer.write(record)
            if not args.json and args.output is None:
                print_human(record)

    annotations = (
        None
        if args.annotate is None
        else AnnotationPaths(args.annotate, args.quiet, args.overwrite, args.read)
    )
    progress = Progress(len(files), enabled=not args.quiet)
    failed = n_faces = n_images = incomplete = 0
    for folder in empty:
        failed += 1
        kinds = ", ".join(sorted({*IMAGE_SUFFIXES, *VIDEO_EXTS}))
        print_problem(PROG, f"{folder}: no image or video in this folder (looked for {kinds})")
    start = time.perf_counter()
    for path, rel in files:
        try:
            if is_video(path):
                # video mode (ROI search around the last boxes, track ids), raw angles
                video = None if est.detector is None else est.video_tracker(smooth=False)
                for index, frame in iter_video(path, args.every, not args.quiet):
                    faces = predict(frame) if video is None else video.process(frame)
                    emit(str(path), index, faces)
                    n_faces += len(faces)
                    n_images += 1
                    if annotations is not None:
                        annotations.write(path, rel, draw(frame, faces), index)
            else:
                noise: list[str] = []  # libjpeg's own lines about a damaged file
                try:
                    with native_stderr(noise):
                        image = read_image_file(path)
                finally:
                    for line in noise:
                        print_problem(PROG, f"{path}: {line} (decoder message)", "warning")
                faces = predict(image)
                emit(str(path), None, faces)
                n_faces += len(faces)
                n_images += 1
                if annotations is not None:
                    annotations.write(path, rel, draw(image, faces))
            writer.inputs_read += 1
        except IncompleteVideoError as exc:  # its frames up to the end were processed
            incomplete += 1
            writer.inputs_read += 1
            print_problem(PROG, exc, "warning")
        except HeadPoseError as exc:
            failed += 1
            msg = str(exc)
            print_problem(PROG, msg if str(path) in msg else f"{path}: {msg}")
        except BrokenPipeError:
            raise
        except OSError as exc:  # an annotated copy that cannot be written
            failed += 1
            print_problem(PROG, str(exc))
        except cv2.error as exc:
            failed += 1
            print_problem(PROG, f"{path}: OpenCV: {str(exc).strip().splitlines()[-1]}")
        progress.step()
    progress.close()
    if not args.quiet:
        took = time.perf_counter() - start
        replaced = (
            ""
            if annotations is None or not annotations.replaced
            else (f", {annotations.replaced} annotated file(s) from an earlier run replaced")
        )
        cut = "" if not incomplete else f", {incomplete} video(s) ended early (named above)"
        print(
            f"{n_images} image(s)/frame(s), {n_faces} face(s), {failed} failed{cut}, "
            f"{took:.1f} s{replaced}",
            file=sys.stderr,
        )
    return 1 if failed or incomplete else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
