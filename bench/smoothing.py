"""Jitter against lag of the One Euro smoothing, for each pose model on the real clips.

    python bench/smoothing.py [--models default:1 fast fast:4:box_shift=false] [--choose-on CLIP ...]
                              [--clips DIR] [--out FILE.md]
                              [--plot FILE.png]

Smoothing trades jitter for lag: any jitter target can be met by smoothing more, so a jitter
number means little without the lag it cost. For every clip in ../shared/data/video, each model
(``NAME:DETECT_EVERY[:KEY=VALUE,...]``, video mode as ``Estimator.track`` runs it, with
those ``VideoOptions``) and YuNet + FSA-Net give their
raw per-frame angles once; then every One Euro setting of :data:`GRID` smooths them with
the runtime's own :class:`~headpose.smoothing.Tracker`. Reported per clip and pipeline: jitter
(``speed.jitter``, mean of the three angles and per angle) and lag (``speed.lag_ms``: how far
the smoothed angles trail the raw ones).

Choosing: the clips named by ``--choose-on`` pick, for every model, the setting with the least
lag whose jitter is no worse, on every angle of each of those clips, than the first model's at
the runtime's default setting (the jitter that model gives today); the other clips only check
that choice. Nothing here changes the runtime's defaults.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from headpose import Estimator, Face
from headpose.detectors import get_detector
from headpose.errors import InvalidInputError
from headpose.estimator import resolve_model_path
from headpose.smoothing import DEFAULT_SMOOTHING, Tracker
from headpose.tracking import VideoOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import SHARED, fsanet_method  # noqa: E402
from speed import (  # noqa: E402
    CREDITS,
    VIDEO_DIR,
    fsa_pipeline_of,
    jitter,
    lag_and_residual,
    read_frames,
    with_ids_of,
)

REPO = Path(__file__).resolve().parents[1]
FSA = "YuNet + FSA-Net"
MAX_LAG_FRAMES = 45  # lags are searched up to this many frames (1.5 s at 30 fps)
# One Euro settings tried: min_cutoff (Hz) x beta (1/deg) x d_cutoff (Hz).
GRID: list[dict[str, float]] = [
    {"min_cutoff": mc, "beta": b, "d_cutoff": dc}
    for mc, b, dc in itertools.product(
        (0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0),
        (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2),
        (1.0, 0.3),
    )
]
#: the runtime's earlier default: the reference jitter of the default rule
PREVIOUS_DEFAULT: dict[str, float] = {"min_cutoff": 0.5, "beta": 0.02, "d_cutoff": 1.0}
for _setting in (DEFAULT_SMOOTHING, PREVIOUS_DEFAULT):
    if _setting not in GRID:
        GRID.append(dict(_setting))
#: the rule for a new runtime default (fixed before its run; "Runtime default rule" in the output)
MIN_GAIN = 0.10  # the default model's jitter must fall by at least this share on each choosing clip
LAG_SLACK_MS = 10.0  # other pipelines may lag this much more than at the previous default


@dataclass(frozen=True)
class Point:
    """One pipeline smoothed with one setting on one clip."""

    jitter: np.ndarray  # (3,) degrees, yaw / pitch / roll
    lag: float  # ms
    residual: float = float("nan")  # degrees RMS, smoothed - raw at the lag (lag_and_residual)

    @property
    def mean_jitter(self) -> float:
        return float(np.mean(self.jitter))


def raw_angles(
    frames: list[np.ndarray], step: Callable[[np.ndarray], list[Face]]
) -> list[list[Face]]:
    """Each frame's faces from ``step`` (unsmoothed)."""
    return [step(frame) for frame in frames]


def smoothed(
    raw: list[list[Face]],
    setting: dict[str, float],
    fps: float,
    lag_reference: list[list[Face]] | None = None,
) -> Point:
    """``raw`` through the runtime's tracker with One Euro ``setting``: jitter and lag behind
    ``lag_reference`` (the same faces in the same order; default ``raw``). A pipeline that
    moves its boxes (box shift) is timed against its angles with the detector's boxes, so the
    lag the moved boxes add is counted too."""
    tracker = Tracker(**setting, freq=fps)  # type: ignore[arg-type]
    out = [tracker.update(faces, t=i / fps) for i, faces in enumerate(raw)]
    ref = with_ids_of(raw if lag_reference is None else lag_reference, out)
    lag, residual = lag_and_residual(out, ref, fps, MAX_LAG_FRAMES)
    return Point(jitter(out), lag, residual)


def choose(
    points: dict[str, list[Point]], reference: dict[str, Point], clips: list[str]
) -> int | None:
    """Index in :data:`GRID` of the least-lag setting (mean over ``clips``) whose jitter is no
    worse than ``reference`` on every angle of each of ``clips``; ``None`` if none is."""
    best: tuple[float, int] | None = None
    for i in range(len(GRID)):
        if all((points[c][i].jitter <= reference[c].jitter + 1e-12).all() for c in clips):
            lag = float(np.mean([points[c][i].lag for c in clips]))
            if best is None or lag < best[0]:
                best = (lag, i)
    return None if best is None else best[1]


def choose_default(
    points: dict[str, dict[str, list[Point]]], first: str, previous_i: int, clips: list[str]
) -> tuple[int, list[str]]:
    """The runtime-default rule: for pipeline ``first`` (the default model), among the settings
    that lag no more than the previous default on each of ``clips``, the one whose worst clip
    keeps the smallest share of the previous default's jitter (min over settings of max over
    ``clips`` of new / previous jitter); and what keeps it from becoming the default (empty:
    nothing):
    its jitter must be at least :data:`MIN_GAIN` lower than the previous default's on each of
    ``clips`` for ``first``, and lower for every other pipeline there at no more than
    :data:`LAG_SLACK_MS` more lag."""
    ours = points[first]
    ok = [
        i
        for i in range(len(GRID))
        if all(ours[c][i].lag <= ours[c][previous_i].lag + 1e-9 for c in clips)
    ]
    best = min(
        ok,
        key=lambda i: max(ours[c][i].mean_jitter / ours[c][previous_i].mean_jitter for c in clips),
    )
    misses = []
    for p, by_clip in points.items():
        for c in clips:
            new, old = by_clip[c][best], by_clip[c][previous_i]
            if p == first and new.mean_jitter > (1.0 - MIN_GAIN) * old.mean_jitter:
                misses.append(f"{p} on {c}: jitter {old.mean_jitter:.3f} -> {new.mean_jitter:.3f}")
            if p != first and new.mean_jitter >= old.mean_jitter:
                misses.append(f"{p} on {c}: jitter {old.mean_jitter:.3f} -> {new.mean_jitter:.3f}")
            if p != first and new.lag > old.lag + LAG_SLACK_MS:
                misses.append(f"{p} on {c}: lag {old.lag:.0f} -> {new.lag:.0f} ms")
    return best, misses


def model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME_OR_ONNX[:DETECT_EVERY][:KEY=VALUE,...]`` -> (model, video options): e.g.
    ``fast:3`` or ``fast:3:box_shift=true,box_shift_gain=0.5`` (keys of ``VideoOptions``); without
    them the model's recommended settings (its metadata) hold."""
    name, *parts = spec.split(":")
    video: dict[str, Any] = {}
    for part in parts:
        if part.isdigit():
            video["detect_every"] = int(part)
            continue
        pairs = []
        for item in filter(None, part.split(",")):
            key, eq, value = item.partition("=")
            if not eq:
                raise SystemExit(f"--models {spec}: expected KEY=VALUE, got {item!r}")
            pairs.append((key.strip(), value.strip()))
        try:
            video.update(VideoOptions.parse(pairs, f"--models {spec}"))
        except InvalidInputError as exc:
            raise SystemExit(str(exc)) from None
    return name, video


BOX_KEYS = ("box_shift", "box_shift_gain")


def short_name(name: str) -> str:
    """A model's label: a shipped model by its name, an .onnx by its folder and stem (run
    folders hold files of the same name)."""
    return f"{Path(name).parent.name}/{Path(name).stem}" if name.endswith(".onnx") else name


def changed_options(video: VideoOptions) -> dict[str, Any]:
    """The fields of ``video`` that differ from ``VideoOptions()``'s, in field order (the box
    shift gain only while the box shift is on: otherwise it does nothing)."""
    default = VideoOptions()
    out = {
        f.name: getattr(video, f.name)
        for f in fields(VideoOptions)
        if getattr(video, f.name) != getattr(default, f.name)
    }
    if not video.box_shift:
        out.pop("box_shift_gain", None)
    return out


def moves_boxes(video: dict[str, Any]) -> bool:
    """Whether video options ``video`` change the detector's face boxes over time (box shift: the
    boxes follow the image); their lag is measured behind a twin without."""
    return bool(video.get("box_shift", False))


def front_at(points: list[Point], lag: float) -> int | None:
    """Index of the least mean jitter among ``points`` with no more than ``lag`` ms of lag."""
    ok = [i for i, pt in enumerate(points) if pt.lag <= lag + 1e-9]
    return min(ok, key=lambda i: points[i].mean_jitter) if ok else None


def equal_lag(
    points: dict[str, list[Point]], reference: dict[str, Point], clips: list[str]
) -> dict[str, tuple[int | None, float]]:
    """Per clip: the grid index of a pipeline's least mean jitter at no more lag than
    ``reference`` (the first pipeline at the runtime's default setting) has there, and that
    jitter over the reference's (``nan`` if no setting lags so little). Each clip takes its own
    best setting, so this is the best case: a ratio above 1 means no setting of the grid matches
    the reference's jitter at its lag on that clip."""
    out: dict[str, tuple[int | None, float]] = {}
    for clip in clips:
        best = front_at(points[clip], reference[clip].lag)
        ratio = (
            float("nan")
            if best is None
            else points[clip][best].mean_jitter / reference[clip].mean_jitter
        )
        out[clip] = (best, ratio)
    return out


def choose_at_lag(
    points: dict[str, list[Point]], reference: dict[str, Point], clips: list[str]
) -> int | None:
    """Index in :data:`GRID` of the setting that lags no more than ``reference`` on each of
    ``clips`` and has the lowest worse ratio of mean jitter to the reference's over them;
    ``None`` if no setting lags so little."""
    ok = [
        i
        for i in range(len(GRID))
        if all(points[c][i].lag <= reference[c].lag + 1e-9 for c in clips)
    ]
    if not ok:
        return None
    return min(
        ok, key=lambda i: max(points[c][i].mean_jitter / reference[c].mean_jitter for c in clips)
    )


def at_lag_lines(
    points: dict[str, list[Point]], reference: dict[str, Point], names: list[str], clips: list[str]
) -> list[str]:
    """The report of :func:`choose_at_lag` for one pipeline: its setting, and on every clip its
    jitter and lag against the reference's; the clips that did not choose test it."""
    best = choose_at_lag(points, reference, clips)
    lines = [
        "",
        f"One setting at no more lag, chosen on {', '.join(clips)} for the second pipeline "
        "(`--choose-at-lag-on`): "
        + ("none lags so little" if best is None else f"**{fmt(GRID[best])}**"),
    ]
    if best is None:
        return lines
    tests = [c for c in names if c not in clips]
    passed = all(
        points[c][best].mean_jitter <= reference[c].mean_jitter + 1e-12
        and points[c][best].lag <= reference[c].lag + 1e-9
        for c in tests
    )
    lines += [
        "",
        f"Test (no more jitter and no more lag than the reference on every other clip): "
        f"**{'holds' if passed else 'fails'}**.",
        "",
        "| clip | role | jitter: this / reference | ratio | lag ms: this / reference |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for c in names:
        pt, ref = points[c][best], reference[c]
        role = "choosing" if c in clips else "test"
        lines.append(
            f"| {c} | {role} | {pt.mean_jitter:.3f} / {ref.mean_jitter:.3f} | "
            f"{pt.mean_jitter / ref.mean_jitter:.2f}x | {pt.lag:.0f} / {ref.lag:.0f} |"
        )
    return lines


def role_of(clip: str, choose_on: list[str]) -> str:
    """How a clip serves in the report: it chooses settings or only checks them."""
    return "choosing" if clip in choose_on else "check"


def rel(path: Path) -> str:
    """``path`` as given on a command line from the repo (relative when it is inside it)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def fmt(setting: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k} {v}"
        for k, v in setting.items()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["default:1", "fast", "fast:4:box_shift=false"],
        help="NAME_OR_ONNX[:DETECT_EVERY][:KEY=VALUE,...] (video options); the first sets the "
        "reference jitter; a pipeline that moves its boxes (fast: box_shift) needs its twin that "
        "keeps the detector's (fast:4:box_shift=false) for its lag",
    )
    parser.add_argument(
        "--choose-on",
        nargs="+",
        default=["carphone_qcif.mp4", "two_faces_small.mp4"],
        help="clips that choose each model's setting (the others check it)",
    )
    parser.add_argument(
        "--clips", type=Path, nargs="+", default=[VIDEO_DIR], help="folder(s) of .mp4 clips"
    )
    parser.add_argument(
        "--choose-at-lag-on",
        nargs="+",
        default=[],
        help="clips that choose one setting for the second pipeline: no more lag than the "
        "reference there, least worse jitter ratio; every other clip tests it",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "bench/results/smoothing.md"))
    parser.add_argument("--plot", default=str(REPO / "bench/results/smoothing.png"))
    args = parser.parse_args(argv)
    clips = sorted((c for folder in args.clips for c in folder.glob("*.mp4")), key=lambda c: c.name)
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        parser.error(f"--clips: two clips share a file name in {args.clips}")
    for option in ("choose_on", "choose_at_lag_on"):
        unknown = sorted(set(getattr(args, option)) - set(names))
        if unknown:
            parser.error(
                f"--{option.replace('_', '-')}: no such clip(s) {unknown} in "
                f"{[str(c) for c in args.clips]}, have {names}"
            )
    models: dict[str, Estimator] = {}
    wanted: dict[str, tuple[str, str]] = {}  # a pipeline that moves boxes -> its twin's key
    twins: dict[tuple[str, str], str] = {}  # (model, other video options) -> pipeline
    for spec in args.models:
        name, video = model_spec(spec)
        short = short_name(name)
        est = Estimator(resolve_model_path(name), threads=args.threads)
        est.video = est.video.merged(video)
        # the options in force (the model's recommended ones with the spec's on top) name the
        # pipeline and decide its twin, so a model whose metadata moves the boxes is measured so
        effective = changed_options(est.video)
        extra = "".join(f", {k} {v:g}" for k, v in effective.items() if k != "detect_every")
        label = f"{short} (detect every {est.video.detect_every}{extra})"
        models[label] = est
        rest = repr(sorted((k, v) for k, v in effective.items() if k not in BOX_KEYS))
        if moves_boxes(effective):
            wanted[label] = (name, rest)
        else:
            twins[(name, rest)] = label
    missing = [label for label, key in wanted.items() if key not in twins]
    if missing:
        parser.error(
            f"{missing}: also give each model without box shift (the same other options) in "
            "--models"
        )
    base_of = {label: twins[key] for label, key in wanted.items()}
    first = next(iter(models.values()))
    fsa_predict, fsa_rule = fsanet_method(SHARED / "peers")
    detector = get_detector("auto", threads=args.threads)
    fsa = fsa_pipeline_of(detector, first.min_score, fsa_predict, fsa_rule)

    pipelines = [*models, FSA]
    # points[pipeline][clip][grid index]
    points: dict[str, dict[str, list[Point]]] = {p: {} for p in pipelines}
    for path in clips:
        fps = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) or 30.0
        frames = list(read_frames(path))
        raws: dict[str, list[list[Face]]] = {}
        # pipelines that keep the detector's boxes first: their raw angles (the same detections,
        # boxes as found) are the lag reference of their twins that move the boxes
        for label in sorted(models, key=lambda p: p in base_of):
            raws[label] = raw_angles(frames, models[label].video_tracker(fps, smooth=False).process)
            ref = raws[base_of[label]] if label in base_of else None
            points[label][path.name] = [smoothed(raws[label], s, fps, ref) for s in GRID]
            print(f"{path.name}: {label} done", flush=True)
        raw = raw_angles(frames, fsa)
        points[FSA][path.name] = [smoothed(raw, s, fps) for s in GRID]

    default_i = GRID.index(DEFAULT_SMOOTHING)
    ref_label = pipelines[0]
    reference = {c: points[ref_label][c][default_i] for c in names}
    chosen = {p: choose(points[p], reference, args.choose_on) for p in pipelines}
    lines = report(args, points, pipelines, names, default_i, reference, chosen, base_of)
    if args.choose_at_lag_on and len(pipelines) > 2:
        lines += at_lag_lines(points[pipelines[1]], reference, names, args.choose_at_lag_on)
    lines += default_rule(args, points, pipelines, names)
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    plot(points, pipelines, names, default_i, chosen, Path(args.plot))
    print(text)
    return 0


def report(
    args: argparse.Namespace,
    points: dict[str, dict[str, list[Point]]],
    pipelines: list[str],
    names: list[str],
    default_i: int,
    reference: dict[str, Point],
    chosen: dict[str, int | None],
    base_of: dict[str, str],
) -> list[str]:
    ref_label = pipelines[0]
    checks = [c for c in names if c not in args.choose_on]
    lines = [
        "# Smoothing: jitter against lag",
        "",
        f"Command: `python bench/smoothing.py --models {' '.join(args.models)} --choose-on "
        f"{' '.join(args.choose_on)}"
        + ("" if args.clips == [VIDEO_DIR] else f" --clips {' '.join(map(rel, args.clips))}")
        + (
            f" --choose-at-lag-on {' '.join(args.choose_at_lag_on)}"
            if args.choose_at_lag_on
            else ""
        )
        + "`  ",
        "Raw angles of each pipeline in video mode, then the runtime's `Tracker` with "
        f"each of {len(GRID)} settings (one_euro). Jitter: mean |a_t - (a_t-1 + "
        "a_t+1)/2|, degrees, yaw / pitch / roll; lag: ms by which the smoothed angles trail the "
        "raw ones; residual: RMS of smoothed - raw at that lag, degrees "
        f"(`speed.lag_and_residual`). Runtime default: {fmt(DEFAULT_SMOOTHING)}.",
        "",
        "At the runtime's default setting, mean jitter (degrees) / lag (ms) per clip:",
        "",
        "| pipeline | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
        *(
            f"| {p} | "
            + " | ".join(
                f"{points[p][c][default_i].mean_jitter:.3f} / {points[p][c][default_i].lag:.0f}"
                for c in names
            )
            + " |"
            for p in pipelines
        ),
        "",
        f"Chosen per pipeline on {', '.join(args.choose_on)} (checked on "
        f"{', '.join(checks) or 'no other clip'}): the least-lag setting whose jitter is no "
        f"worse on any angle than {ref_label}'s at the default setting.",
        "",
        "| clip | pipeline | setting | jitter yaw / pitch / roll | mean | lag ms | residual |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for clip in names:
        role = role_of(clip, args.choose_on)
        for p in pipelines:
            rows = [("default", default_i)]
            pick = chosen[p]
            if pick is not None and pick != default_i:
                rows.append(("chosen", pick))
            for tag, i in rows:
                pt = points[p][clip][i]
                jit = " / ".join(f"{v:.3f}" for v in pt.jitter)
                lines.append(
                    f"| {clip} ({role}) | {p} | {tag}: {fmt(GRID[i])} | {jit} | "
                    f"{pt.mean_jitter:.3f} | {pt.lag:.0f} | {pt.residual:.2f} |"
                )
    lines += ["", "Chosen settings:", ""]
    for p in pipelines:
        pick = chosen[p]
        lines.append(f"- {p}: " + ("none of the grid" if pick is None else fmt(GRID[pick])))
    lines += [
        "",
        "Least jitter at no more lag than each pipeline's default setting has (the Pareto front "
        "at that lag), per clip:",
        "",
        "| clip | pipeline | setting | mean jitter | lag ms |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for clip in names:
        for p in pipelines:
            best = front_at(points[p][clip], points[p][clip][default_i].lag)
            assert best is not None  # the default setting itself qualifies
            pt = points[p][clip][best]
            lines.append(
                f"| {clip} | {p} | {fmt(GRID[best])} | {pt.mean_jitter:.3f} | {pt.lag:.0f} |"
            )
    lines += [
        "",
        f"At equal lag (the jitter target): each pipeline's least jitter at no more lag than "
        f"{ref_label} has at the default setting, any setting of the grid, chosen per clip (a best "
        "case); ratio to that pipeline's jitter, 1.00 or less meets it.",
        "",
        "| clip | pipeline | setting | mean jitter | lag ms | residual | vs reference |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for p in pipelines[1:]:
        for clip, (best, ratio) in equal_lag(points[p], reference, names).items():
            if best is None:
                lines.append(f"| {clip} | {p} | none lags so little | | | | |")
                continue
            pt = points[p][clip][best]
            lines.append(
                f"| {clip} | {p} | {fmt(GRID[best])} | {pt.mean_jitter:.3f} | {pt.lag:.0f} | "
                f"{pt.residual:.2f} | {ratio:.2f}x |"
            )
    lines += [
        "",
        f"Worse equal-lag ratio over the choosing clips ({', '.join(args.choose_on)}), per "
        "pipeline (lower: steadier at the reference's lag):",
        "",
        "| pipeline | worse ratio |",
        "| --- | ---: |",
    ]
    for p in pipelines[1:]:
        # no setting lagging so little (NaN) counts as the worst
        ratios = [
            r if np.isfinite(r) else np.inf
            for _, r in equal_lag(points[p], reference, args.choose_on).values()
        ]
        lines.append(f"| {p} | {max(ratios):.2f}x |")
    if base_of:
        lines += [
            "",
            "Moved boxes (box shift, `box_shift`: the box follows the image) against smoothing "
            "the angles alone: each pipeline at the default angle setting, lag measured behind "
            "the angles of the detector's boxes, and the least jitter its twin that keeps those "
            "boxes reaches at no more lag with any of the settings. `better`: less jitter at no "
            "more lag than angle smoothing alone can give.",
            "",
            "| clip | pipeline | mean jitter | lag ms | detector's boxes, at no more lag "
            "| better |",
            "| --- | --- | ---: | ---: | --- | --- |",
        ]
        for clip in names:
            for p, base in base_of.items():
                pt = points[p][clip][default_i]
                best = front_at(points[base][clip], pt.lag)
                alone = (
                    "none at that lag"
                    if best is None
                    else f"{points[base][clip][best].mean_jitter:.3f} ({fmt(GRID[best])})"
                )
                won = best is None or pt.mean_jitter < points[base][clip][best].mean_jitter
                lines.append(
                    f"| {clip} | {p} | {pt.mean_jitter:.3f} | {pt.lag:.0f} | {alone} | "
                    f"{'yes' if won else 'no'} |"
                )
    credits = [f"`{n}`: {t}" for n, t in CREDITS.items() if n in names]
    lines += ["", f"Plot: `{Path(args.plot).name}`.", ""]
    if credits:
        lines += ["Clip credits: " + "; ".join(credits) + ".", ""]
    return lines


def default_rule(
    args: argparse.Namespace,
    points: dict[str, dict[str, list[Point]]],
    pipelines: list[str],
    names: list[str],
) -> list[str]:
    """The runtime-default rule's verdict (:func:`choose_default`) and the candidate against the
    previous default on every clip and pipeline."""
    previous_i = GRID.index(PREVIOUS_DEFAULT)
    best, misses = choose_default(points, pipelines[0], previous_i, args.choose_on)
    verdict = "qualifies" if not misses else "does not qualify: " + "; ".join(misses)
    lines = [
        "",
        f"Runtime default rule, on {', '.join(args.choose_on)} with {pipelines[0]}: among the "
        "settings lagging no more than the previous default "
        f"({fmt(PREVIOUS_DEFAULT)}) on each of those clips, the one with the lowest worst-clip "
        f"ratio of jitter to the previous default's: **{fmt(GRID[best])}**, which "
        f"{verdict} (it needs {MIN_GAIN:.0%} less jitter there for {pipelines[0]}, and less "
        f"jitter at no more than {LAG_SLACK_MS:.0f} ms more lag for every other pipeline). The "
        f"runtime's default now: {fmt(DEFAULT_SMOOTHING)}.",
        "",
        "| clip | pipeline | previous default: jitter / lag ms | candidate: jitter / lag ms |",
        "| --- | --- | ---: | ---: |",
    ]
    for clip in names:
        role = role_of(clip, args.choose_on)
        for p in pipelines:
            old, new = points[p][clip][previous_i], points[p][clip][best]
            lines.append(
                f"| {clip} ({role}) | {p} | {old.mean_jitter:.3f} / {old.lag:.0f} | "
                f"{new.mean_jitter:.3f} / {new.lag:.0f} |"
            )
    return lines + [""]


def plot(
    points: dict[str, dict[str, list[Point]]],
    pipelines: list[str],
    names: list[str],
    default_i: int,
    chosen: dict[str, int | None],
    out: Path,
) -> None:
    """Mean jitter against lag, one panel per clip, every setting a dot per pipeline."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * len(names), 4.2))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, clip in zip(axes, names, strict=True):
        for k, p in enumerate(pipelines):
            color = f"C{k}"
            pts = points[p][clip]
            ax.scatter([q.lag for q in pts], [q.mean_jitter for q in pts], s=8, c=color, label=p)
            d = pts[default_i]
            ax.scatter([d.lag], [d.mean_jitter], s=70, marker="o", facecolors="none", ec=color)
            pick = chosen[p]
            if pick is not None:
                c = pts[pick]
                ax.scatter([c.lag], [c.mean_jitter], s=90, marker="*", c=color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("lag behind the raw angles, ms")
        ax.set_ylabel("jitter, degrees (mean of 3 angles)")
        ax.set_title(clip)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, title="circle: default, star: chosen", title_fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    sys.exit(main())
