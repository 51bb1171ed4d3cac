"""Jitter against lag of the One Euro smoothing, for each pose model on the real clips.

    python bench/smoothing.py [--models default:1 fast:3] [--choose-on CLIP ...]
                              [--clips DIR] [--out FILE.md] [--plot FILE.png]

Smoothing trades jitter for lag: any jitter target can be met by smoothing more, so a jitter
number means little without the lag it cost. For every clip in ../shared/data/video, each model
(``NAME:DETECT_EVERY``, video mode as ``Estimator.track`` runs it) and YuNet + FSA-Net give their
raw per-frame angles once; then every One Euro setting of :data:`GRID` smooths them with the
runtime's own :class:`~headpose.smoothing.Tracker`. Reported per clip and pipeline: jitter
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
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from headpose import Estimator, Face
from headpose.detectors import get_detector
from headpose.estimator import resolve_model_path
from headpose.smoothing import DEFAULT_SMOOTHING, Tracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import SHARED, fsanet_method  # noqa: E402
from speed import (  # noqa: E402
    CREDITS,
    VIDEO_DIR,
    fsa_pipeline_of,
    jitter,
    lag_ms,
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
        (0.1, 0.2, 0.3, 0.5, 1.0, 2.0), (0.0, 0.005, 0.01, 0.02, 0.05, 0.1), (1.0, 0.3)
    )
]
if DEFAULT_SMOOTHING not in GRID:
    GRID.append(dict(DEFAULT_SMOOTHING))


@dataclass(frozen=True)
class Point:
    """One pipeline smoothed with one setting on one clip."""

    jitter: np.ndarray  # (3,) degrees, yaw / pitch / roll
    lag: float  # ms

    @property
    def mean_jitter(self) -> float:
        return float(np.mean(self.jitter))


def raw_angles(
    frames: list[np.ndarray], step: Callable[[np.ndarray], list[Face]]
) -> list[list[Face]]:
    """Each frame's faces from ``step`` (unsmoothed)."""
    return [step(frame) for frame in frames]


def smoothed(raw: list[list[Face]], setting: dict[str, float], fps: float) -> Point:
    """``raw`` through the runtime's tracker with One Euro ``setting``: jitter and lag."""
    tracker = Tracker(**setting, freq=fps)
    out = [tracker.update(faces, t=i / fps) for i, faces in enumerate(raw)]
    return Point(jitter(out), lag_ms(out, with_ids_of(raw, out), fps, MAX_LAG_FRAMES))


def choose(
    points: dict[str, dict[str, list[Point]]], reference: dict[str, Point], clips: list[str]
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


def fmt(setting: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in setting.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["default:1", "fast:3"],
        help="NAME_OR_ONNX:DETECT_EVERY; the first sets the reference jitter",
    )
    parser.add_argument(
        "--choose-on",
        nargs="+",
        default=["carphone_qcif.mp4", "two_faces_small.mp4"],
        help="clips that choose each model's setting (the others check it)",
    )
    parser.add_argument("--clips", type=Path, default=VIDEO_DIR, help="folder of .mp4 clips")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "bench/results/smoothing.md"))
    parser.add_argument("--plot", default=str(REPO / "bench/results/smoothing.png"))
    args = parser.parse_args(argv)

    clips = sorted(args.clips.glob("*.mp4"))
    names = [c.name for c in clips]
    unknown = sorted(set(args.choose_on) - set(names))
    if unknown:
        parser.error(f"--choose-on: no such clip(s) {unknown} in {args.clips}, have {names}")
    models: dict[str, Estimator] = {}
    for spec in args.models:
        name, _, every = spec.partition(":")
        # a shipped model by its name, an .onnx by its folder and stem (run folders hold
        # files of the same name)
        short = f"{Path(name).parent.name}/{Path(name).stem}" if name.endswith(".onnx") else name
        models[f"{short} (detect every {every or 1})"] = Estimator(
            resolve_model_path(name), threads=args.threads, video={"detect_every": int(every or 1)}
        )
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
        for label, est in models.items():
            video = est.video_tracker(fps, smooth=False)
            raw = raw_angles(frames, video.process)
            points[label][path.name] = [smoothed(raw, s, fps) for s in GRID]
            print(f"{path.name}: {label} done", flush=True)
        raw = raw_angles(frames, fsa)
        points[FSA][path.name] = [smoothed(raw, s, fps) for s in GRID]

    default_i = GRID.index(DEFAULT_SMOOTHING)
    ref_label = pipelines[0]
    reference = {c: points[ref_label][c][default_i] for c in names}
    chosen = {p: choose(points[p], reference, args.choose_on) for p in pipelines}
    lines = report(args, points, pipelines, names, default_i, chosen)
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
    chosen: dict[str, int | None],
) -> list[str]:
    ref_label = pipelines[0]
    checks = [c for c in names if c not in args.choose_on]
    lines = [
        "# Smoothing: jitter against lag",
        "",
        f"Command: `python bench/smoothing.py --models {' '.join(args.models)} --choose-on "
        f"{' '.join(args.choose_on)}`  ",
        "Raw angles of each pipeline in video mode, then the runtime's `Tracker` (One Euro) with "
        f"each of {len(GRID)} settings. Jitter: mean |a_t - (a_t-1 + a_t+1)/2|, degrees, yaw / "
        "pitch / roll; lag: ms by which the smoothed angles trail the raw ones (`speed.lag_ms`). "
        f"Runtime default: {fmt(DEFAULT_SMOOTHING)}.",
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
        "| clip | pipeline | setting | jitter yaw / pitch / roll | mean | lag ms |",
        "| --- | --- | --- | --- | ---: | ---: |",
    ]
    for clip in names:
        role = "choosing" if clip in args.choose_on else "check"
        for p in pipelines:
            rows = [("default", default_i)]
            if chosen[p] is not None and chosen[p] != default_i:
                rows.append(("chosen", chosen[p]))
            for tag, i in rows:
                pt = points[p][clip][i]
                jit = " / ".join(f"{v:.3f}" for v in pt.jitter)
                lines.append(
                    f"| {clip} ({role}) | {p} | {tag}: {fmt(GRID[i])} | {jit} | "
                    f"{pt.mean_jitter:.3f} | {pt.lag:.0f} |"
                )
    lines += ["", "Chosen settings:", ""]
    for p in pipelines:
        i = chosen[p]
        lines.append(f"- {p}: " + ("none of the grid" if i is None else fmt(GRID[i])))
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
            lag0 = points[p][clip][default_i].lag
            i = min(
                (i for i in range(len(GRID)) if points[p][clip][i].lag <= lag0 + 1e-9),
                key=lambda i: points[p][clip][i].mean_jitter,  # noqa: B023
            )
            pt = points[p][clip][i]
            lines.append(f"| {clip} | {p} | {fmt(GRID[i])} | {pt.mean_jitter:.3f} | {pt.lag:.0f} |")
    credits = [f"`{n}`: {t}" for n, t in CREDITS.items() if n in names]
    lines += ["", f"Plot: `{Path(args.plot).name}`.", ""]
    if credits:
        lines += ["Clip credits: " + "; ".join(credits) + ".", ""]
    return lines


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
            if chosen[p] is not None:
                c = pts[chosen[p]]
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
