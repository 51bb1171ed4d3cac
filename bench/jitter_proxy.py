"""Frame-to-frame jitter on still training-side faces made into short clips (a jitter proxy).

Each image of a config's tuning split (never trained on, meant for choices) becomes ``--frames``
video frames of a head that does not move: the camera drifts by a random walk of sub-pixel steps
and zooms slightly, sensor noise is added and every frame is JPEG-encoded. The true pose is the
same in every frame, so any frame-to-frame change of the answer is noise. Each model runs in
video mode (``Estimator.track``, unsmoothed) with its video setting, and the jitter is the same
measure as on the real clips (``speed.jitter``: mean |a_t - (a_t-1 + a_t+1)/2|, degrees).

``--roll A``: the heads also roll by a known angle (a sine of ``A`` degrees), and each model's
least jitter through the smoothing grid at no more lag than the first model has at the default
setting is given too (the equal-lag ratio of ``bench/smoothing.py``).

It was built so that a choice between models (e.g. the seed to ship) could look at jitter
without the clips in ``../shared/data/video``, which stay the test of issue 9's target. Checked
on seven models whose clip results are known, neither form ranks them as the clips do
(``bench/results/default_model_v2.md`` section 17), so it must not choose anything yet.

    python bench/jitter_proxy.py --models fast runs/A/model_uncalibrated.onnx:4 ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from headpose import Estimator, Face
from headpose.estimator import resolve_model_path
from headpose.smoothing import DEFAULT_SMOOTHING

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smoothing import GRID, Point, equal_lag, model_spec, short_name, smoothed  # noqa: E402
from speed import jitter  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FPS = 30.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def still_clip(
    image: np.ndarray,
    frames: int,
    rng: np.random.Generator,
    step_px: float = 0.3,
    zoom: float = 0.005,
    noise: float = 2.0,
    quality: int = 85,
    roll_amp: float = 0.0,
    roll_period: float = 30.0,
) -> list[np.ndarray]:
    """``frames`` BGR frames of ``image`` (H, W, 3) uint8 seen by a drifting camera: each frame
    moves the view by a Gaussian step of ``step_px`` pixels (x and y, accumulated), zooms by
    ``1 + zoom * N(0, 1)`` about the centre, adds Gaussian noise of ``noise`` grey levels and
    JPEG-encodes at ``quality``. ``roll_amp`` > 0: the head also rolls, the image turning about
    its centre by ``roll_amp * sin(2 pi t / roll_period)`` degrees in frame ``t`` (a known,
    in-plane motion). With all of them 0 (quality 100 aside) the frames equal ``image``."""
    h, w = image.shape[:2]
    offset = np.zeros(2)
    out = []
    for t in range(frames):
        offset = offset + step_px * rng.standard_normal(2)
        s = 1.0 + zoom * float(rng.standard_normal())
        angle = roll_amp * float(np.sin(2.0 * np.pi * t / roll_period))
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, s)
        matrix[:, 2] += offset
        frame = cv2.warpAffine(
            image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        if noise > 0:
            frame = np.clip(frame + noise * rng.standard_normal(frame.shape), 0, 255)
            frame = frame.astype(np.uint8)
        if quality < 100:
            ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
            frame = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else frame
        out.append(frame)
    return out


def raw_clips(est: Estimator, clips: list[list[np.ndarray]]) -> list[list[list[Face]]]:
    """Each clip's faces per frame from ``est`` in video mode, unsmoothed."""
    return [list(est.track(frames, fps=FPS, smooth=False)) for frames in clips]


def grid_points(raws: list[list[list[Face]]]) -> list[Point]:
    """Per setting of the smoothing grid (``smoothing.GRID``): jitter and lag, each the mean
    over the clips ``raws``."""
    out = []
    for setting in GRID:
        points = [smoothed(raw, setting, FPS) for raw in raws]
        out.append(
            Point(
                np.nanmean([p.jitter for p in points], axis=0),
                float(np.nanmean([p.lag for p in points])),
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", required=True, help="NAME_OR_ONNX[:DETECT_EVERY][:KEY=VALUE,...]"
    )
    parser.add_argument("--config", default="default/semi_aa_lite0_112_long")
    parser.add_argument(
        "--images",
        type=Path,
        help="a folder of face images (sorted by name) instead of the config's tuning split",
    )
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--roll",
        type=float,
        default=0.0,
        help="degrees: the heads also roll back and forth this far (period --period frames); "
        "then the table also gives each model's least jitter, through the smoothing grid, at no "
        "more lag than the first model has at the default smoothing (as on the clips)",
    )
    parser.add_argument("--period", type=float, default=30.0)
    parser.add_argument("--out", default=str(REPO / "bench/results/jitter_proxy.md"))
    args = parser.parse_args(argv)
    if args.frames < 3:
        parser.error(
            f"--frames: expected at least 3 (jitter needs three frames), got {args.frames}"
        )

    if args.images is not None:
        if not args.images.is_dir():
            parser.error(f"--images: not a folder: {args.images}")
        paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            parser.error(f"--images: no {'/'.join(IMAGE_SUFFIXES)} files in {args.images}")
        source = f"`{args.images}`"
    else:
        from headpose.training.config import load_config
        from headpose.training.engine.data_setup import split_images

        paths, _ = split_images(load_config(args.config), "tune")
        source = f"the tuning split of `{args.config}` (training side, never trained on)"
    if args.limit:
        paths = paths[: args.limit]
    rng = np.random.default_rng(args.seed)
    clips = []
    for p in paths:
        image = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if image is None:
            parser.error(f"{p}: not an image OpenCV can read")
        clips.append(
            still_clip(image, args.frames, rng, roll_amp=args.roll, roll_period=args.period)
        )

    rows = []
    reference: Point | None = None
    default_i = GRID.index(DEFAULT_SMOOTHING)
    for spec in args.models:
        name, video = model_spec(spec)
        est = Estimator(resolve_model_path(name), threads=args.threads, video=video)
        label = f"{short_name(name)} (detect every {est.video.detect_every})"
        raws = raw_clips(est, clips)
        # clips where no face was found in three frames in a row have no jitter: left out
        counted = [(jitter(r), len(r) - 2) for r in raws]
        counted = [(j, n) for j, n in counted if np.isfinite(j).all()]
        j = (
            np.average([j for j, _ in counted], axis=0, weights=[n for _, n in counted])
            if counted
            else np.full(3, np.nan)
        )
        ratio = float("nan")
        if args.roll > 0:
            points = grid_points(raws)
            if reference is None:
                reference = points[default_i]
            _, ratio = equal_lag({"proxy": points}, {"proxy": reference}, ["proxy"])["proxy"]
        shown = f"{ratio:.2f}x" if np.isfinite(ratio) else "-"
        rows.append((label, j, shown))
        print(f"{label}: raw {np.mean(j):.3f}, equal lag {shown}", flush=True)

    command = "python bench/jitter_proxy.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# Jitter proxy: still face images made into short clips",
        "",
        f"Command: `{command}`  ",
        f"{len(clips)} images of {source}, {args.frames} frames each: a camera drifting by 0.3 "
        "px steps, zoom 0.5%, noise 2 "
        "grey levels, JPEG 85. "
        + (
            "The head does not move, so every frame-to-frame change is noise. "
            if args.roll <= 0
            else "The head only rolls (below); the rest of every frame-to-frame change is noise. "
        )
        + "Video mode, unsmoothed; jitter as on the clips, degrees.",
        "",
        ""
        if args.roll <= 0
        else f"The heads also roll by {args.roll:g} deg * sin(2 pi t / {args.period:g}); equal lag: "
        "the least mean jitter of any smoothing setting with no more lag than the first model "
        "at the default setting, over that model's jitter there.",
        "",
        "| model | raw jitter yaw / pitch / roll | mean | equal lag vs first |",
        "| --- | --- | ---: | ---: |",
    ]
    for label, j, shown in rows:
        lines.append(
            f"| {label} | {j[0]:.3f} / {j[1]:.3f} / {j[2]:.3f} | {np.mean(j):.3f} | {shown} |"
        )
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
