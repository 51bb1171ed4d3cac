"""Frame-to-frame jitter on still training-side faces made into short clips (a jitter proxy).

Each image of a config's tuning split (never trained on, meant for choices) becomes ``--frames``
video frames of a head that does not move: the camera drifts by a random walk of sub-pixel steps
and zooms slightly, sensor noise is added and every frame is JPEG-encoded. The true pose is the
same in every frame, so any frame-to-frame change of the answer is noise. Each model runs in
video mode (``Estimator.track``, unsmoothed) with its video setting, and the jitter is the same
measure as on the real clips (``speed.jitter``: mean |a_t - (a_t-1 + a_t+1)/2|, degrees).

It exists so that a choice between models (e.g. the seed to ship) can look at jitter without
looking at the clips in ``../shared/data/video``, which stay the test of issue 9's target.

    python bench/jitter_proxy.py --models fast runs/A/model_uncalibrated.onnx:4 ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from headpose import Estimator
from headpose.estimator import resolve_model_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smoothing import model_spec  # noqa: E402
from speed import jitter  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def still_clip(
    image: np.ndarray,
    frames: int,
    rng: np.random.Generator,
    step_px: float = 0.3,
    zoom: float = 0.005,
    noise: float = 2.0,
    quality: int = 85,
) -> list[np.ndarray]:
    """``frames`` BGR frames of ``image`` (H, W, 3) uint8 seen by a drifting camera: each frame
    moves the view by a Gaussian step of ``step_px`` pixels (x and y, accumulated), zooms by
    ``1 + zoom * N(0, 1)`` about the centre, adds Gaussian noise of ``noise`` grey levels and
    JPEG-encodes at ``quality``. With all of them 0 (quality 100 aside) the frames equal
    ``image``."""
    h, w = image.shape[:2]
    offset = np.zeros(2)
    out = []
    for _ in range(frames):
        offset = offset + step_px * rng.standard_normal(2)
        s = 1.0 + zoom * float(rng.standard_normal())
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        matrix = np.array(
            [[s, 0.0, cx - s * cx + offset[0]], [0.0, s, cy - s * cy + offset[1]]], np.float64
        )
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


def proxy_jitter(est: Estimator, clips: list[list[np.ndarray]]) -> np.ndarray:
    """Mean jitter (yaw, pitch, roll degrees) of ``est`` in video mode, unsmoothed, over the
    ``clips`` (each a list of frames), weighted by the frames that count in each clip."""
    rows, weights = [], []
    for frames in clips:
        faces = list(est.track(frames, fps=30.0, smooth=False))
        j = jitter(faces)
        if np.isfinite(j).all():
            rows.append(j)
            weights.append(len(frames) - 2)
    if not rows:
        return np.full(3, np.nan)
    return np.average(np.array(rows), axis=0, weights=weights)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", required=True, help="NAME_OR_ONNX[:DETECT_EVERY][:KEY=VALUE,...]"
    )
    parser.add_argument("--config", default="default/semi_aa_lite0_112_long")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "bench/results/jitter_proxy.md"))
    args = parser.parse_args(argv)
    if args.frames < 3:
        parser.error(
            f"--frames: expected at least 3 (jitter needs three frames), got {args.frames}"
        )

    from headpose.training.config import load_config
    from headpose.training.engine.data_setup import split_images

    paths, _ = split_images(load_config(args.config), "tune")
    if args.limit:
        paths = paths[: args.limit]
    rng = np.random.default_rng(args.seed)
    clips = []
    for p in paths:
        image = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if image is None:
            parser.error(f"{p}: not an image OpenCV can read")
        clips.append(still_clip(image, args.frames, rng))

    rows = []
    for spec in args.models:
        name, video = model_spec(spec)
        est = Estimator(resolve_model_path(name), threads=args.threads, video=video)
        j = proxy_jitter(est, clips)
        label = f"{Path(name).parent.name}/{Path(name).stem}" if name.endswith(".onnx") else name
        label += f" (detect every {est.video.detect_every})"
        rows.append((label, j))
        print(f"{label}: {np.mean(j):.3f}", flush=True)

    command = "python bench/jitter_proxy.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# Jitter proxy: still tuning-split faces made into short clips",
        "",
        f"Command: `{command}`  ",
        f"{len(clips)} images of the tuning split of `{args.config}` (training side, never trained "
        f"on), {args.frames} frames each: a camera drifting by 0.3 px steps, zoom 0.5%, noise 2 "
        "grey levels, JPEG 85. The head does not move, so every frame-to-frame change is noise. "
        "Video mode, unsmoothed; jitter as on the clips, degrees.",
        "",
        "| model | jitter yaw / pitch / roll | mean |",
        "| --- | --- | ---: |",
    ]
    for label, j in rows:
        lines.append(f"| {label} | {j[0]:.3f} / {j[1]:.3f} / {j[2]:.3f} | {np.mean(j):.3f} |")
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
