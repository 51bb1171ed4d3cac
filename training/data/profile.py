"""Make a labelled large-pose data set by face profiling (``python -m headpose.training.data.profile``).

``python -m headpose.training.data.profile FACES... -o OUT --per-face N`` reads pose CSVs (a
folder with ``labels.csv`` or a ``.csv``: ``image,yaw,pitch,roll`` and optional box and
``spread_*`` columns, e.g. AFLW2000 labels or teacher pseudo-labels written by
``python -m headpose.training.data.pseudo_labels``), fits the face mesh to each face, and renders
each face ``N`` times turned to poses drawn from the target distribution (:func:`sample_pose`),
with the exact label ``delta @ R0`` (:mod:`.profiling`). ``OUT`` is a ``csv`` dataset
(``data.kind=csv``, ``data.root=OUT``): ``OUT/labels.csv`` with

``image,yaw,pitch,roll,x1,y1,x2,y2,spread_yaw,spread_pitch,spread_roll`` (what the ``csv``
reader uses: the label, the face box the crop rule cuts, the teacher's spread or empty) then
provenance columns it ignores: ``source`` (absolute path of the source image), ``origin``
(``label``: a human label; ``teacher``: a teacher's pose), ``source_yaw,source_pitch,
source_roll`` (R0), ``mirrored`` (1: the source was mirrored first, R0 given for the mirror),
``delta_x,delta_y,delta_z`` (delta as a rotation vector in degrees, camera axes),
``hidden`` (self-occlusion share of the rendered face), ``box_source`` (``yunet`` on the render,
or ``mesh``: the source's box carried by the turned mesh).

Sources are never validation or tuning images: every image of the tuning and validation parts of
``--split-config`` (default: the shipped fast model's recipe, its data read from
``--split-data`` exactly as a run of that config reads and splits it) is left out, by source
image. Teacher rows (with spreads) are used only when the
teacher is confident (every spread <= ``--max-spread``); every source must be near-frontal
(``--max-source-yaw``, ``--max-source-pitch``). A render whose ``hidden`` share exceeds
``--max-hidden`` is drawn again at the same yaw (new pitch and roll, up to ``--tries`` times, then
skipped), so that the yaw stays uniform. ``--pose-from labels`` draws the target's pitch and roll
from the human-labelled poses whose |yaw| is nearest the target's, instead of uniform: only
those of images the run of ``--split-config`` trains on.

The same arguments and seed give the same output. A finished source is recorded in
``OUT/done.txt`` with its rows, so ``--resume`` continues an interrupted run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
from tqdm import tqdm

from headpose.cli.options import command, dataclass_options, dataclass_values, run
from headpose.detectors import get_detector
from headpose.files import atomic_write, check_output, check_output_folder
from headpose.rotation import euler_to_matrix, matrix_to_euler

from .csv_folder import BOX_COLUMNS, DEFAULT_CSV_NAME, SPREAD_COLUMNS, read_pose_csv
from .csv_folder import HEADER as LABEL_HEADER
from .detector_boxes import best_box
from .errors import DataError
from .face_mesh import FaceMesh
from .profiling import lift, render
from .records import PoseRecord
from .run_split import run_split_images

PROG = "python -m headpose.training.data.profile"
PROVENANCE = (
    "source",
    "origin",
    "source_yaw",
    "source_pitch",
    "source_roll",
    "mirrored",
    "delta_x",
    "delta_y",
    "delta_z",
    "hidden",
    "box_source",
)
HEADER = (*LABEL_HEADER, *BOX_COLUMNS, *SPREAD_COLUMNS, *PROVENANCE)
DEFAULT_SPLIT_CONFIG = "default/semi_aa_lite0_112_long"
DEFAULT_SPLIT_DATA = "../shared/data/aflw2000-crops"
SETTINGS_FILE = "profile.json"
DONE_FILE = "done.txt"


POSE_FROM = ("uniform", "labels")


def _setting(default: Any, help_text: str | None = None, **meta: Any) -> Any:
    """A :class:`Settings` field: its default, and its option's help and range (``low``,
    ``high``, ``choices``) for :func:`headpose.cli.options.dataclass_options`."""
    return field(default=default, metadata={"help": help_text, **meta})


@dataclass(frozen=True)
class Settings:
    """What decides the output (stored in ``OUT/profile.json``; ``--resume`` must match). Each
    field is also the command's option of the same name (``per_face``: ``--per-face``)."""

    per_face: int = _setting(5, "renders per source face", low=1)
    seed: int = _setting(0)
    max_yaw: float = _setting(
        90.0, "target |yaw| is uniform in [0, this], degrees", low=0.0, high=90.0
    )
    max_pitch: float = _setting(40.0, "target pitch uniform in +-this", low=0.0, high=89.0)
    max_roll: float = _setting(30.0, "target roll uniform in +-this", low=0.0, high=180.0)
    max_hidden: float = _setting(
        0.06, "largest self-occluded share of the rendered face", low=0.0, high=1.0
    )
    tries: int = _setting(8, "draws per render before it is skipped", low=1)
    max_source_yaw: float = _setting(45.0, "sources must be within this |yaw|")
    max_source_pitch: float = _setting(30.0, "sources must be within this |pitch|")
    max_spread: float = _setting(15.0, "teacher rows: largest spread (degrees) of a usable pose")
    min_mesh_score: float = _setting(
        0.5, "a face mesh fit scoring less is not used", low=0.0, high=1.0
    )
    detector: str = _setting("yunet", "runtime detector for boxes")
    pose_from: str = _setting(
        "uniform",
        "target pitch and roll: uniform, or drawn from the labelled training poses of similar "
        "|yaw|",
        choices=POSE_FROM,
    )
    neighbours: int = _setting(
        10, "--pose-from labels: draw from this many labelled poses nearest in |yaw|", low=1
    )
    jitter: float = _setting(
        3.0, "--pose-from labels: add uniform +-this to the drawn pitch and roll, degrees", low=0.0
    )


def sample_pose(
    rng: np.random.Generator,
    s: Settings,
    yaw: float | None = None,
    poses: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """A target ``(yaw, pitch, roll)`` in degrees: |yaw| uniform in [0, max_yaw] with a random
    sign (or the ``yaw`` given); pitch and roll uniform in +-max_pitch, +-max_roll, or, with
    ``s.pose_from == "labels"``, those of one of the ``s.neighbours`` labelled ``poses``
    ``(N, 3)`` nearest in |yaw| (roll's sign turned with yaw's, as a mirror does) plus uniform
    +-``s.jitter``."""
    if yaw is None:
        yaw = float(rng.uniform(0.0, s.max_yaw)) * (1.0 if rng.random() < 0.5 else -1.0)
    if s.pose_from == "labels":
        if poses is None or len(poses) == 0:
            raise DataError("--pose-from labels: no labelled training pose to draw from")
        near = np.argsort(np.abs(np.abs(poses[:, 0]) - abs(yaw)), kind="stable")
        y, p, r = poses[int(rng.choice(near[: s.neighbours]))]
        side = 1.0 if y * yaw >= 0.0 else -1.0
        j = rng.uniform(-s.jitter, s.jitter, size=2)
        return float(yaw), float(p + j[0]), float(side * r + j[1])
    return (
        float(yaw),
        float(rng.uniform(-s.max_pitch, s.max_pitch)),
        float(rng.uniform(-s.max_roll, s.max_roll)),
    )


def plan_turn(
    source: tuple[float, float, float], target: tuple[float, float, float]
) -> tuple[bool, tuple[float, float, float], np.ndarray]:
    """How to reach ``target`` (yaw, pitch, roll) from a face at ``source``: ``(mirror, start,
    delta)``. The source is mirrored first (``start``: its pose then) when the target's yaw has
    the other sign, so the turn shows the side the source saw, never its hidden one; ``delta``
    ``(3, 3)`` turns ``start`` into ``target``."""
    y0, p0, r0 = source
    mirror = y0 * target[0] < 0.0
    start = (-y0, p0, -r0) if mirror else (y0, p0, r0)
    return mirror, start, euler_to_matrix(*target) @ euler_to_matrix(*start).T


def held_out_images(config: str, data: str | Path) -> set[str]:
    """Resolved paths of the tuning and test images of ``config``'s split of ``data``
    (:func:`run_split_images`)."""
    return run_split_images(config, data)[1]


@dataclass
class Source:
    """One face to profile: its record, the label's origin and its index in the run."""

    record: PoseRecord
    origin: str
    index: int


def select_sources(
    faces: Sequence[str | Path],
    held_out: set[str],
    s: Settings,
    trained: set[str] | None = None,
) -> tuple[list[Source], dict[str, int], np.ndarray]:
    """The usable rows of the pose CSVs ``faces``, counts of the rows left out by reason, and
    the human-labelled poses ``(N, 3)`` that ``--pose-from labels`` draws from.

    Rows whose image is in ``held_out`` are left out. ``trained``: the run's training images
    (``None``: no split); a human-labelled row must then be one of them, both as a source and
    as a pose to draw (a row the run leaves out, e.g. beyond the config's ``max_abs_angle``,
    is "not trained on"); teacher rows (with spreads, e.g. UTKFace) are not in the split and
    stay usable. The poses are every usable labelled row's, near-frontal or not."""
    sources: list[Source] = []
    poses: list[np.ndarray] = []
    skipped = {
        "held out": 0,
        "not trained on": 0,
        "angle missing": 0,
        "not near-frontal": 0,
        "teacher unsure": 0,
    }
    seen: set[str] = set()
    for face in faces:
        path = Path(face)
        csv_path = path if path.suffix.lower() == ".csv" else path / DEFAULT_CSV_NAME
        for rec in read_pose_csv(csv_path):
            image = str(Path(rec.image).resolve())
            if image in held_out:
                skipped["held out"] += 1
                continue
            if image in seen:
                raise DataError(f"{csv_path}: {rec.image} is listed twice among the sources")
            seen.add(image)
            t = np.asarray(rec.target, dtype=np.float64)
            if not np.isfinite(t).all():
                skipped["angle missing"] += 1
                continue
            labelled = rec.spread is None or not np.isfinite(rec.spread).any()
            if labelled and trained is not None and image not in trained:
                skipped["not trained on"] += 1
                continue
            if labelled:
                poses.append(t)
            if abs(t[0]) > s.max_source_yaw or abs(t[1]) > s.max_source_pitch:
                skipped["not near-frontal"] += 1
                continue
            origin = "label"
            if not labelled:
                origin = "teacher"
                if not float(np.nanmax(rec.spread)) <= s.max_spread:
                    skipped["teacher unsure"] += 1
                    continue
            sources.append(Source(rec, origin, len(sources)))
    return sources, skipped, np.array(poses, dtype=np.float64).reshape(-1, 3)


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Profiler:
    """Fits, lifts and renders the faces of a run (one process)."""

    def __init__(self, s: Settings, poses: np.ndarray | None = None) -> None:
        self.s = s
        self.poses = poses
        self.detector = get_detector(s.detector)
        self.mesh = FaceMesh()

    def detect(self, image: np.ndarray) -> tuple[float, float, float, float] | None:
        return best_box(self.detector, image)

    def renders(self, source: Source) -> tuple[list[tuple[np.ndarray, dict[str, str]]], str]:
        """The renders of one source with their CSV cells (image name not set), or a reason
        why there are none."""
        s = self.s
        rec = source.record
        image = cv2.imread(rec.image, cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(f"{rec.image}: unreadable image")
        box = rec.box if rec.box is not None else self.detect(image)
        if box is None:
            return [], "no face found"
        fit = self.mesh(image, box)
        if fit.score < s.min_mesh_score:
            return [], "face mesh unsure"
        model = lift(fit.points, image.shape[:2])
        mirrored_model = model.mirrored()
        mirrored_image = image[:, ::-1].copy()
        side = max(box[2] - box[0], box[3] - box[1])
        offset = np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0]) - fit.points[
            :, :2
        ].mean(axis=0)
        y0, p0, r0 = (float(v) for v in rec.target)
        spread = rec.spread if rec.spread is not None else np.full(3, np.nan)
        out: list[tuple[np.ndarray, dict[str, str]]] = []
        for k in range(s.per_face):
            rng = np.random.default_rng([s.seed, source.index, k])
            yaw = None  # a render too occluded is drawn again at the same yaw: yaw stays uniform
            for _ in range(s.tries):
                target = sample_pose(rng, s, yaw, self.poses)
                yaw = target[0]
                mirror, start, delta = plan_turn((y0, p0, r0), target)
                m, img = (mirrored_model, mirrored_image) if mirror else (model, image)
                r_start = euler_to_matrix(*start)
                rendered = render(img, m, delta)
                if rendered.hidden <= s.max_hidden:
                    break
            else:
                continue
            label = matrix_to_euler(delta @ r_start)
            face = rendered.face_points
            centre = face[:, :2].mean(axis=0) + (offset * [-1.0, 1.0] if mirror else offset)
            mesh_box = (
                centre[0] - side / 2,
                centre[1] - side / 2,
                centre[0] + side / 2,
                centre[1] + side / 2,
            )
            found = self.detect(rendered.image)
            use_found = found is not None and _iou(found, mesh_box) > 0.3
            final_box = found if use_found else mesh_box
            rvec = np.degrees(cv2.Rodrigues(delta)[0].ravel())
            cells = {
                "yaw": f"{label[0]:.4f}",
                "pitch": f"{label[1]:.4f}",
                "roll": f"{label[2]:.4f}",
                **{c: f"{v:.2f}" for c, v in zip(BOX_COLUMNS, final_box, strict=True)},
                **{
                    c: ("" if not np.isfinite(v) else f"{v:.4f}")
                    for c, v in zip(SPREAD_COLUMNS, spread, strict=True)
                },
                "source": str(Path(rec.image).resolve()),
                "origin": source.origin,
                "source_yaw": f"{start[0]:.4f}",
                "source_pitch": f"{start[1]:.4f}",
                "source_roll": f"{start[2]:.4f}",
                "mirrored": str(int(mirror)),
                "delta_x": f"{rvec[0]:.4f}",
                "delta_y": f"{rvec[1]:.4f}",
                "delta_z": f"{rvec[2]:.4f}",
                "hidden": f"{rendered.hidden:.4f}",
                "box_source": "yunet" if use_found else "mesh",
            }
            out.append((rendered.image, cells))
        return out, "" if out else "every render too occluded"


def keep_finished_rows(csv_path: Path, done: set[str]) -> None:
    """Rewrite ``csv_path`` (atomically) without the rows of sources not in ``done`` (a source
    interrupted mid-way is rendered again on resume, not twice)."""
    if not csv_path.is_file():
        return
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kept = [r for r in rows if r.get("source") in done and None not in r.values()]
    if len(kept) == len(rows):
        return
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(kept)
    atomic_write(csv_path, text.getvalue())


def prepare_output(
    out: Path,
    settings: dict[str, object],
    overwrite: bool,
    resume: bool,
    inputs: Sequence[str | Path] = (),
) -> set[str]:
    """Create or check ``out`` (``settings``: what decides the output, stored in
    ``profile.json``); returns the sources already done (``--resume``). ``out`` never holds or
    lies inside an input (``inputs``: the files and folders read), even with ``overwrite``."""
    check_output_folder(out, inputs, "-o ")
    settings_path = out / SETTINGS_FILE
    if out.exists() and any(out.iterdir()):
        if resume:
            if not settings_path.is_file():
                raise DataError(
                    f"{out}: not a profiling output ({SETTINGS_FILE} missing); cannot resume"
                )
            stored = json.loads(settings_path.read_text(encoding="utf-8"))
            if stored != settings:
                diff = sorted(k for k in settings if stored.get(k) != settings[k])
                raise DataError(
                    f"{out}: --resume with other settings than the run there ({', '.join(diff)})"
                )
            done_path = out / DONE_FILE
            done = set()
            if done_path.is_file():
                done = set(done_path.read_text(encoding="utf-8").split("\n")) - {""}
            keep_finished_rows(out / DEFAULT_CSV_NAME, done)
            return done
        if not overwrite:
            raise DataError(f"{out}: exists and is not empty; pass --overwrite or --resume")
        earlier = [out / name for name in (DEFAULT_CSV_NAME, DONE_FILE, SETTINGS_FILE)]
        earlier += sorted((out / "images").glob("*.jpg"))
        for path in earlier:  # the earlier run's files; never an input of this one
            check_output(path, overwrite, inputs, "-o ")
        for path in earlier:
            path.unlink(missing_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    atomic_write(settings_path, json.dumps(settings, indent=1))
    return set()


def profile_faces(
    faces: Sequence[str | Path],
    out: str | Path,
    s: Settings,
    split_config: str | None = DEFAULT_SPLIT_CONFIG,
    split_data: str | Path = DEFAULT_SPLIT_DATA,
    overwrite: bool = False,
    resume: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, object]:
    """Profile the faces of ``faces`` into the ``csv`` dataset ``out``; returns a summary
    (counts, time per render in ms)."""
    out = Path(out)
    trained, held = run_split_images(split_config, split_data) if split_config else (None, set())
    sources, skipped, poses = select_sources(faces, held, s, trained)
    if limit is not None:
        sources = sources[:limit]
    settings = {
        **asdict(s),
        "faces": [str(Path(f).resolve()) for f in faces],
        "split_config": split_config,
        "split_data": str(Path(split_data).resolve()) if split_config else None,
    }
    read = [*faces, *([split_data] if split_config else [])]
    done = prepare_output(out, settings, overwrite, resume, read)
    csv_path = out / DEFAULT_CSV_NAME
    new_file = not csv_path.is_file()
    profiler = Profiler(s, poses)
    counts = {"sources": len(sources), "renders": 0, "resumed": 0}
    failed: dict[str, int] = {}
    started = time.perf_counter()
    todo = [src for src in sources if str(Path(src.record.image).resolve()) not in done]
    counts["resumed"] = len(sources) - len(todo)
    bar = None
    if progress:
        bar = tqdm(total=len(todo), unit="face", file=sys.stderr)
    with (
        open(csv_path, "a", newline="", encoding="utf-8") as handle,
        open(out / DONE_FILE, "a", encoding="utf-8") as done_file,
    ):
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        if new_file:
            writer.writeheader()
        for src in todo:
            rendered, reason = profiler.renders(src)
            if reason:
                failed[reason] = failed.get(reason, 0) + 1
            stem = f"{src.index:06d}_{Path(src.record.image).stem}"
            for k, (image, cells) in enumerate(rendered):
                name = f"images/{stem}_{k:02d}.jpg"
                ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
                if not ok:
                    raise DataError(f"{out / name}: could not encode the image")
                atomic_write(out / name, jpeg.tobytes())
                writer.writerow({"image": name, **cells})
            handle.flush()  # labels.csv and done.txt are append-only logs: a row per render
            os.fsync(handle.fileno())
            done_file.write(str(Path(src.record.image).resolve()) + "\n")
            done_file.flush()
            counts["renders"] += len(rendered)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - started
    return {
        **counts,
        "labelled poses": len(poses),
        "left out": skipped,
        "no renders": failed,
        "seconds": round(seconds, 1),
        "ms per render": round(1000.0 * seconds / max(counts["renders"], 1), 1),
    }


@command(PROG)
@click.argument("faces", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="output folder (a csv dataset)",
)
@dataclass_options(Settings)
@click.option(
    "--split-config",
    default=DEFAULT_SPLIT_CONFIG,
    show_default=True,
    help="config whose tuning and validation images are never used ('none': no exclusion)",
)
@click.option(
    "--split-data",
    default=DEFAULT_SPLIT_DATA,
    show_default=True,
    type=click.Path(exists=True),
    help="the pose CSV data that config splits, in its row order",
)
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="only the first N usable sources"
)
@click.option("--overwrite", is_flag=True, help="replace the output of an earlier run in OUTPUT")
@click.option(
    "--resume", is_flag=True, help="continue an interrupted run in OUTPUT (same settings)"
)
@click.option("--quiet", is_flag=True, help="no progress bar")
def main_command(
    faces, out, split_config, split_data, limit, overwrite, resume, quiet, **opts
) -> int:
    """Render source faces (pose CSVs FACES...) turned to new poses, with exact labels, into the
    csv dataset OUTPUT (labels.csv + images/)."""
    if overwrite and resume:
        raise click.UsageError("give at most one of --overwrite and --resume")
    s = dataclass_values(Settings, opts)
    config = None if split_config.lower() == "none" else split_config
    try:
        summary = profile_faces(
            faces, out, s, config, split_data, overwrite, resume, limit, not quiet
        )
    except (DataError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    print(json.dumps(summary))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(main_command, argv, PROG)


if __name__ == "__main__":
    raise SystemExit(main())
