"""Per-frame cost of the runtime, side by side with YuNet + FSA-Net, on photos and on real clips.

    python bench/speed.py [--model M.onnx] [--runs 10] [--threads 1] [--video-runs 1]
                          [--clips DIR] [--out FILE.md]

Image mode: the 640x480 photos in ../shared/data/pose-photos (one face each), ``--runs`` rounds,
pipelines interleaved, median ms per frame and the ratio to FSA-Net in the same run.
``headpose`` is the public API, ``Estimator.predict`` (detect, crop, pose); the FSA-Net pipeline
uses the same detector and crop, then its two ONNX models on a 64 px crop. Pose-network-only
times and ``predict_crops`` per crop for several chunk sizes are also printed.

Video mode: every clip in ../shared/data/video, decoded once per pass; each frame goes to every
pipeline in turn (so they share the machine's load): ``Estimator.predict`` on each frame,
``Estimator.track`` (video mode: ROI search around the last boxes), ``track`` with the ROI
search off (the whole frame every frame, as before video mode) and YuNet + FSA-Net. Reported:
mean ms per frame (decoding excluded), the ratio to YuNet + FSA-Net, jitter (mean
|a_t - (a_{t-1} + a_{t+1}) / 2| per angle over consecutive frames of the same face; per-frame
pipelines are linked by box overlap only, without smoothing) and the agreement of video mode
before smoothing with per-frame ``predict`` (mean |track - predict| per angle, faces paired by
box overlap), with the faces that ``predict`` found and video mode did not.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from headpose import Estimator, Face
from headpose.detectors import get_detector
from headpose.errors import InvalidInputError
from headpose.estimator import CROP_CHUNK, make_face, resolve_model_path
from headpose.pose_model import PoseModel
from headpose.preprocess import crop_face
from headpose.smoothing import Tracker, box_iou
from headpose.tracking import VideoOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import SHARED, fsanet_method  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VIDEO_DIR = SHARED / "data/video"
CHUNKS = (1, 8, 32, 128)
# Clips whose footage must never be shown (numbers only) and credits owed where a clip is shown.
CREDITS = {"two_faces_small.mp4": "© Intel, CC BY 4.0 (intel-iot-devkit/sample-videos)"}


def median_ms(fn: Callable[[Any], Any], frames: list[np.ndarray], runs: int) -> float:
    times = []
    for _ in range(runs):
        for frame in frames:
            t0 = time.perf_counter()
            fn(frame)
            times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


# ------------------------------------------------------------------------------- video
@dataclass
class Run:
    """One pipeline over one clip: time per frame, faces per frame (raw angles, with ids)."""

    seconds: float = 0.0
    pose_seconds: float = 0.0  # of which in the headpose pose model (crops + networks)
    frames: list[list[Face]] = field(default_factory=list)
    counters: tuple[int, int] = (0, 0)  # video mode: whole-frame searches, ROI searches
    reused: int = 0  # video mode: frames whose faces kept their last boxes (detect_every)

    def ms(self) -> float:
        return 1000.0 * self.seconds / max(len(self.frames), 1)

    def pose_ms(self) -> float:
        return 1000.0 * self.pose_seconds / max(len(self.frames), 1)


def jitter(frames: list[list[Face]]) -> np.ndarray:
    """Mean |a_t - (a_{t-1} + a_{t+1}) / 2| per angle [yaw, pitch, roll] over every face present
    (same ``track_id``) in three consecutive frames."""
    by_id = [{f.track_id: f.angles for f in faces} for faces in frames]
    diffs = [
        np.abs(cur[k] - (prev[k] + nxt[k]) / 2.0)
        for prev, cur, nxt in zip(by_id, by_id[1:], by_id[2:], strict=False)
        for k in cur
        if k in prev and k in nxt
    ]
    return np.nanmean(diffs, axis=0) if diffs else np.full(3, np.nan)


def lag_ms(
    smoothed: list[list[Face]], raw: list[list[Face]], fps: float, max_frames: int = 15
) -> float:
    """How far smoothed angles trail the raw ones, in ms (:func:`lag_and_residual`)."""
    return lag_and_residual(smoothed, raw, fps, max_frames)[0]


def lag_and_residual(
    smoothed: list[list[Face]], raw: list[list[Face]], fps: float, max_frames: int = 15
) -> tuple[float, float]:
    """How far smoothed angles trail the raw ones, in ms: the shift ``k`` (whole frames from -2
    to ``max_frames``, then refined by a parabola through the three best) that minimises the
    mean of (s_t - r_(t-k))^2 over every face and angle (``smoothed[i][j]`` is ``raw[i][j]``
    after smoothing; faces linked by ``track_id`` of ``smoothed``). Whole-frame shifts only:
    interpolating ``r`` between frames would average its noise and pull the minimum to half
    frames. Jitter alone can be lowered by any amount of lag; this is the other side of the
    trade-off. A lag beyond ``max_frames`` reads as ``max_frames``. Also the residual: the RMS
    of s_t - r_(t-k) (degrees) at the best whole-frame ``k``, how much the smoothed angles differ
    from the raw ones apart from the delay. Both NaN when no face is seen in three frames or
    more."""
    tracks: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    for t, (sf, rf) in enumerate(zip(smoothed, raw, strict=True)):
        for s, r in zip(sf, rf, strict=True):
            if np.isfinite(s.angles).all() and np.isfinite(r.angles).all():
                tracks.setdefault(s.track_id, {})[t] = (s.angles, r.angles)
    long_tracks = [rows for rows in tracks.values() if len(rows) >= 3]
    shifts = np.arange(-2, max_frames + 1)
    cost = np.full(len(shifts), np.inf)
    for i, k in enumerate(shifts):
        diffs = [
            s_ang - rows[t - k][1]
            for rows in long_tracks
            for t, (s_ang, _) in rows.items()
            if t - k in rows
        ]
        if diffs:
            cost[i] = float(np.mean(np.square(diffs)))
    if not np.isfinite(cost).any():
        return float("nan"), float("nan")
    i = int(np.argmin(cost))
    k = float(shifts[i])
    if 0 < i < len(shifts) - 1 and np.isfinite(cost[i - 1 : i + 2]).all():
        left, mid, right = cost[i - 1 : i + 2]
        curve = left - 2.0 * mid + right
        if curve > 0:
            k += 0.5 * (left - right) / curve
    return 1000.0 * k / fps, float(np.sqrt(cost[i]))


def with_ids_of(raw: list[list[Face]], smoothed: list[list[Face]]) -> list[list[Face]]:
    """``raw``'s faces with the ``track_id`` of their smoothed twins (``smoothed[i][j]`` is
    ``raw[i][j]`` after the tracker), so raw and smoothed angles follow the same tracks."""
    return [
        [replace(r, track_id=s.track_id) for r, s in zip(rf, sf, strict=True)]
        for rf, sf in zip(raw, smoothed, strict=True)
    ]


def agreement(a: list[list[Face]], b: list[list[Face]]) -> tuple[np.ndarray, int, int]:
    """Mean |a - b| per angle over faces paired by box IoU >= 0.5 in the same frame, the number
    of pairs and the faces of ``b`` with no partner in ``a``."""
    diffs, missing = [], 0
    for fa, fb in zip(a, b, strict=True):
        if not fb:
            continue
        if not fa:
            missing += len(fb)
            continue
        iou = box_iou(np.array([f.box for f in fa]), np.array([f.box for f in fb]))
        for j in range(len(fb)):
            i = int(np.argmax(iou[:, j]))
            if iou[i, j] >= 0.5:
                diffs.append(np.abs(fa[i].angles - fb[j].angles))
            else:
                missing += 1
    mean = np.nanmean(diffs, axis=0) if diffs else np.full(3, np.nan)
    return mean, len(diffs), missing


def read_frames(path: Path) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f"{path}: cannot open as a video")
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            yield frame
    finally:
        cap.release()


def video_pass(
    path: Path,
    est: Estimator,
    fsa_pipeline: Callable[[np.ndarray], list[Face]],
    fps: float,
) -> dict[str, Run]:
    """Every pipeline on every frame of one clip, interleaved frame by frame."""
    video = est.video_tracker(fps)
    whole = est.video_tracker(fps, video=False)
    ids = {"predict": Tracker(smooth=False), "fsa": Tracker(smooth=False)}
    runs = {k: Run() for k in ("predict", "track", "track_raw", "whole", "fsa")}
    current = ["predict"]
    model = est.model
    pose_call = model.predict_boxes

    def timed_pose(image: Any, boxes: Any) -> Any:  # the pose share (crops + networks)
        t0 = time.perf_counter()
        out = pose_call(image, boxes)
        runs[current[0]].pose_seconds += time.perf_counter() - t0
        return out

    def timed(key: str, fn: Callable[[], list[Face]]) -> list[Face]:
        current[0] = key
        t0 = time.perf_counter()
        out = fn()
        runs[key].seconds += time.perf_counter() - t0
        return out

    model.predict_boxes = timed_pose  # type: ignore[method-assign]
    try:
        _interleave(path, est, fsa_pipeline, video, whole, ids, runs, timed)
    finally:
        del model.predict_boxes  # back to the class method
    runs["track_raw"].seconds = runs["track"].seconds
    runs["track_raw"].pose_seconds = runs["track"].pose_seconds
    runs["track"].counters = (video.full_detections, video.roi_detections)
    runs["track"].reused = video.reused_boxes
    return runs


def _interleave(
    path: Path,
    est: Estimator,
    fsa_pipeline: Callable[[np.ndarray], list[Face]],
    video: Any,
    whole: Any,
    ids: dict[str, Tracker],
    runs: dict[str, Run],
    timed: Callable[[str, Callable[[], list[Face]]], list[Face]],
) -> None:
    for frame in read_frames(path):
        faces = timed("predict", lambda: est.predict(frame))  # noqa: B023
        runs["predict"].frames.append(ids["predict"].update(faces))
        runs["track"].frames.append(timed("track", lambda: video.process(frame)))  # noqa: B023
        runs["track_raw"].frames += with_ids_of([video.raw], runs["track"].frames[-1:])
        runs["whole"].frames.append(timed("whole", lambda: whole.process(frame)))  # noqa: B023
        faces = timed("fsa", lambda: fsa_pipeline(frame))  # noqa: B023
        runs["fsa"].frames.append(ids["fsa"].update(faces))


def passes_of(est: Estimator) -> int:
    """Network passes per face of the pose model: networks in its ensemble x 2 if it runs the
    mirrored face too (from the ONNX metadata)."""
    extra = est.model.meta.extra
    return (len(extra.get("ensemble", [])) or 1) * (2 if extra.get("flip_average") else 1)


def _between(opts: VideoOptions) -> str:
    """What the boxes do on the frames between detector runs, in words."""
    if opts.box_shift:
        return (
            "the boxes follow the image in between, phase correlation; on detector frames "
            f"shifted + {opts.box_shift_gain:g} x (detection - shifted)"
        )
    return "the last boxes kept in between"


def video_section(
    est: Estimator,
    fsa_pipeline: Callable[[np.ndarray], list[Face]],
    clips: list[Path],
    passes: int,
) -> list[str]:
    opts = est.video
    lines = [
        "## Video",
        "",
        f"Video mode settings: ROI search {'on' if opts.roi else 'off'}, whole frame every "
        f"{opts.redetect_every} frames or when a face is lost, detector on the ROIs every "
        f"{opts.detect_every} frame(s) ({_between(opts)}), ROI {opts.roi_scale:g}x the box "
        f"(whole frame when the ROIs exceed {opts.max_roi_area:g} of it or the frame has fewer "
        f"than {opts.min_frame_area} pixels as the detector sees it); smoothing "
        f"{est.smoothing}. ms per frame: mean over "
        f"the clip's frames (decoding excluded), best of {passes} pass(es); the pipelines see each "
        "frame in turn, so the ratios are measured under the same load. Jitter in degrees "
        "[yaw / pitch / roll]. `track` is the smoothed output of `Estimator.track`; "
        "`track, before smoothing` the same run's raw angles. Smoothing lag: how far `track` "
        "trails its own raw angles (`lag_ms`); less jitter can always be bought with more lag.",
        "",
        "| clip | frames | pipeline | ms/frame | of which pose network | vs YuNet + FSA-Net | "
        "faces/frame | jitter yaw / pitch / roll | smoothing lag ms |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    notes = []
    labels = {
        "predict": "`predict` on each frame",
        "track": "`track` (video mode)",
        "track_raw": "`track`, before smoothing",
        "whole": "`track`, ROI search off",
        "fsa": "YuNet + FSA-Net on each frame",
    }
    for path in clips:
        fps = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) or 30.0
        best: dict[str, Run] = {}
        for _ in range(passes):
            runs = video_pass(path, est, fsa_pipeline, fps)
            if not best or runs["track"].ms() < best["track"].ms():
                best = runs  # all pipelines of one pass stay together
        ref = best["fsa"].ms()
        n = len(best["predict"].frames)
        for key, label in labels.items():
            run = best[key]
            jit = jitter(run.frames)
            faces = np.mean([len(f) for f in run.frames]) if run.frames else float("nan")
            pose_ms = f"{run.pose_ms():.2f}" if key != "fsa" else ""
            lag = (
                f"{lag_ms(run.frames, best['track_raw'].frames, fps):.0f}" if key == "track" else ""
            )
            lines.append(
                f"| {path.name} | {n} | {label} | {run.ms():.2f} | {pose_ms} | "
                f"{run.ms() / ref:.2f}x | {faces:.2f} | {' / '.join(f'{v:.2f}' for v in jit)} "
                f"| {lag} |"
            )
        agree, pairs, missing = agreement(best["track_raw"].frames, best["predict"].frames)
        full, rois = best["track"].counters
        track = best["track"]
        one_pass = track.ms() - track.pose_ms() * (1.0 - 1.0 / passes_of(est))
        estimate = (
            f" Estimate for a one-pass pose model (the pose network's share divided by its "
            f"{passes_of(est)} passes, the rest as measured): `track` {one_pass:.2f} ms/frame, "
            f"{one_pass / ref:.2f}x YuNet + FSA-Net."
            if passes_of(est) > 1
            else ""
        )
        notes.append(
            f"- {path.name}: video mode before smoothing vs `predict` on each frame: mean |diff| "
            f"yaw / pitch / roll {' / '.join(f'{v:.2f}' for v in agree)} deg over {pairs} faces; "
            f"faces found by `predict` and not by video mode: {missing}; whole-frame searches "
            f"{full} of {n} frames, ROI searches {rois}, frames that kept their last boxes "
            f"{best['track'].reused}.{estimate}"
        )
    credits = [f"`{name}`: {text}" for name, text in CREDITS.items() if VIDEO_DIR / name in clips]
    lines += ["", *notes, ""]
    if credits:
        lines += ["Clip credits: " + "; ".join(credits) + ".", ""]
    return lines


def fsa_pipeline_of(
    detector: Any,
    min_score: float,
    fsa_predict: Callable[[np.ndarray], np.ndarray],
    fsa_rule: Any,
) -> Callable[[np.ndarray], list[Face]]:
    """The peer pipeline on a frame: ``detector`` (the same as headpose's), FSA-Net's crop rule
    and its two ONNX models on a 64 px crop; faces with NaN spread."""

    def pipeline(frame: np.ndarray) -> list[Face]:
        found = detector.detect(frame)
        keep = found.scores >= min_score
        return [
            make_face(
                box, score, fsa_predict(crop_face(frame, box, fsa_rule, (64, 64))), [np.nan] * 3
            )
            for box, score in zip(found.boxes[keep], found.scores[keep], strict=True)
        ]

    return pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="default", help="a shipped model's name (default, fast) or an .onnx"
    )
    parser.add_argument("--runs", type=int, default=10, help="image mode: rounds over the photos")
    parser.add_argument(
        "--detect-every",
        type=int,
        help="video mode: detector every N frames (default: the model's recommendation, "
        "its metadata's video settings, else 1)",
    )
    parser.add_argument(
        "--video",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="video mode: further settings (keys of VideoOptions, e.g. box_shift=true)",
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="MODEL",
        help="image mode: also time this model (name or .onnx) in the same rounds; repeatable",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--video-runs", type=int, default=1, help="passes over each clip")
    parser.add_argument("--clips", type=Path, default=VIDEO_DIR, help="folder of .mp4 clips")
    parser.add_argument("--no-images", action="store_true", help="video section only")
    parser.add_argument("--out", default=str(REPO / "bench/results/speed.md"))
    args = parser.parse_args(argv)

    frames = [cv2.imread(str(p)) for p in sorted((SHARED / "data/pose-photos").glob("*.jpg"))]
    model_path = resolve_model_path(args.model)
    pairs = [item.partition("=")[::2] for item in args.video]
    try:
        video = VideoOptions.parse(pairs, "--video")
    except InvalidInputError as exc:
        parser.error(str(exc))
    if args.detect_every is not None:
        video["detect_every"] = args.detect_every
    est = Estimator(model_path, threads=args.threads)
    est.video = est.video.merged(video)
    args.detect_every = est.video.detect_every  # the value used, for the command line below
    pose = PoseModel(model_path, threads=args.threads)
    detector = get_detector("auto", threads=args.threads)
    fsa_predict, fsa_rule = fsanet_method(SHARED / "peers")
    fsa_pipeline = fsa_pipeline_of(detector, est.min_score, fsa_predict, fsa_rule)

    lines = [
        "# Speed, side by side",
        "",
        f"Command: `python bench/speed.py --model {args.model} --runs {args.runs} "
        f"--threads {args.threads} --video-runs {args.video_runs} "
        f"--detect-every {args.detect_every}{' --no-images' if args.no_images else ''}"
        f"{''.join(f' --compare {c}' for c in args.compare)}"
        f"{' --video ' + ' '.join(args.video) if args.video else ''}"
        f"{'' if args.clips == VIDEO_DIR else f' --clips {args.clips}'}`  ",
        f"Model: `{model_path.name}` ({pose.meta.backbone}, {pose.input_size[0]} px input, "
        f"networks: {len(pose.members) or len(pose.meta.extra.get('ensemble', [])) or 1}, "
        f"flip average: {bool(pose.meta.extra.get('flip_average'))}, "
        f"input zoom: {pose.meta.extra.get('input_zoom', 1.0):g}). "
        f"{platform.machine()}, {os.cpu_count()} CPUs, onnxruntime threads {args.threads}, "
        f"load average at the start {os.getloadavg()[0]:.1f} (the CPU is shared with other jobs: "
        "compare the ratios within one run, not absolute times across runs).",
        "",
    ]
    if not args.no_images:
        lines += image_section(args, frames, est, pose, detector, fsa_predict, fsa_rule)
    clips = sorted(args.clips.glob("*.mp4"))
    if clips:
        lines += video_section(est, fsa_pipeline, clips, max(1, args.video_runs))
    lines.append(f"Load average at the end: {os.getloadavg()[0]:.1f}.")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


def image_section(
    args: argparse.Namespace,
    frames: list[np.ndarray],
    est: Estimator,
    pose: PoseModel,
    detector: Any,
    fsa_predict: Callable[[np.ndarray], np.ndarray],
    fsa_rule: Any,
) -> list[str]:
    def fsa_frame(frame: np.ndarray) -> None:
        for box in detector.detect(frame).boxes:
            fsa_predict(crop_face(frame, box, fsa_rule, (64, 64)))

    box = detector.detect(frames[0]).boxes[0]
    others = {
        name: (
            Estimator(resolve_model_path(name), threads=args.threads),
            PoseModel(resolve_model_path(name), threads=args.threads),
        )
        for name in args.compare
    }
    results = {}
    for _ in range(2):  # the first round warms up; the second is reported
        results = {
            f"headpose {args.model}: Estimator.predict (YuNet + pose)": median_ms(
                est.predict, frames, args.runs
            ),
            **{
                f"headpose {name}: Estimator.predict (YuNet + pose)": median_ms(
                    other.predict, frames, args.runs
                )
                for name, (other, _) in others.items()
            },
            "FSA-Net: YuNet + FSA-Net ensemble": median_ms(fsa_frame, frames, args.runs),
            f"headpose {args.model}: pose only (crop + network)": median_ms(
                lambda f: pose.predict_boxes(f, [box]), frames[:1], args.runs * 5
            ),
            **{
                f"headpose {name}: pose only (crop + network)": median_ms(
                    lambda f, m=model: m.predict_boxes(f, [box]), frames[:1], args.runs * 5
                )
                for name, (_, model) in others.items()
            },
            "FSA-Net ensemble only (crop + network)": median_ms(
                lambda f: fsa_predict(crop_face(f, box, fsa_rule, (64, 64))),
                frames[:1],
                args.runs * 5,
            ),
            "YuNet detector only": median_ms(detector.detect, frames, args.runs),
        }
    ref_pipe = results["FSA-Net: YuNet + FSA-Net ensemble"]
    ref_net = results["FSA-Net ensemble only (crop + network)"]
    lines = [
        f"## Images: {len(frames)} photos, 640x480, one face",
        "",
        f"Median of {args.runs} interleaved rounds after one warm-up round. Pose-only rows: the "
        "face's crop(s) cut from the frame and the network(s) (a pooled model: every member's "
        "crop and network, and the pool).",
        "",
        "| what | ms (median) | vs FSA-Net |"
        + (f" vs {args.compare[0]} |" if args.compare else ""),
        "| --- | ---: | ---: |" + (" ---: |" if args.compare else ""),
    ]
    for name, ms in results.items():
        ref = ref_net if "only" in name and "YuNet" not in name else ref_pipe
        ratio = f"{ms / ref:.2f}x" if "YuNet detector" not in name else ""
        vs = ""
        if args.compare and name.startswith(f"headpose {args.model}:"):
            same = name.replace(f"headpose {args.model}:", f"headpose {args.compare[0]}:", 1)
            vs = f" {ms / results[same]:.2f}x |"
        elif args.compare:
            vs = " |"
        lines.append(f"| {name} | {ms:.2f} | {ratio} |{vs}")
    crop_ours = crop_face(frames[0], box, pose.meta.crop, pose.input_size)
    crops = [crop_ours] * CHUNKS[-1]
    per_crop = {}
    for chunk in CHUNKS:  # pose model alone, so the chunk size is the only difference
        pose.predict_crops(crops[:chunk])
        t0 = time.perf_counter()
        for i in range(0, len(crops), chunk):
            pose.predict_crops(crops[i : i + chunk])
        per_crop[chunk] = 1000.0 * (time.perf_counter() - t0) / len(crops)
    lines += [
        "",
        f"`predict_crops` on {len(crops)} crops, pose model alone, ms per crop by chunk size "
        f"(`Estimator.predict_crops` uses chunks of {CROP_CHUNK}): "
        + ", ".join(f"{c}: {v:.2f}" for c, v in per_crop.items())
        + ".",
        "",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
