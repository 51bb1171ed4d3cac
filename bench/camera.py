"""What camera-aware pose changes: crop-relative vs camera-relative angles on real footage.

    python bench/camera.py [--model M.onnx] [--fov 60] [--out bench/results/camera.md]

Inputs: ``../shared/data/video/webcam_roll_nod.mp4`` (every frame, ``Estimator.track`` without
smoothing) and the 15 pose photos. For each: how far the faces sit off the optical axis (angle of
the ray through the box centre), mean and largest |camera - crop| per angle, and the range of the
estimated head position. The camera is the default (60 degrees horizontal) unless ``--fov``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np

from headpose import Estimator, Face

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def summarise(name: str, faces: list[Face]) -> str:
    crop = np.array([f.angles for f in faces])
    cam = np.array([[f.camera.yaw, f.camera.pitch, f.camera.roll] for f in faces])  # type: ignore[union-attr]
    off = np.array([math.degrees(math.acos(float(f.camera.ray[2]))) for f in faces])  # type: ignore[union-attr]
    pos = np.array([f.camera.position for f in faces])  # type: ignore[union-attr]
    diff = np.abs(cam - crop)
    mean = " / ".join(f"{v:.1f}" for v in diff.mean(0))
    peak = " / ".join(f"{v:.1f}" for v in diff.max(0))
    rng = " / ".join(f"{lo:+.2f}..{hi:+.2f}" for lo, hi in zip(pos.min(0), pos.max(0), strict=True))
    return (
        f"| {name} | {len(faces)} | {off.mean():.1f} (max {off.max():.1f}) | {mean} | {peak} | "
        f"{rng} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="exported .onnx (default: shipped model)")
    parser.add_argument("--fov", type=float, default=None, help="horizontal field of view, deg")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/camera.md")
    args = parser.parse_args(argv)

    est = Estimator(args.model, threads=1, camera=args.fov)
    clip = SHARED / "data/video/webcam_roll_nod.mp4"
    video_faces = [f for frame in est.track(clip, smooth=False) for f in frame]
    photos = sorted((SHARED / "data/pose-photos").glob("*.jpg"))
    photo_faces = [f for p in photos for f in est.predict(cv2.imread(str(p)))]
    fov = "60 (default)" if args.fov is None else f"{args.fov:g}"
    lines = [
        "# Camera-aware pose: what it changes",
        "",
        f"Command: `python bench/camera.py{'' if args.fov is None else f' --fov {args.fov:g}'}`. "
        f"Camera: horizontal field of view {fov} degrees, principal point at the image centre. "
        "Off-axis: angle between the optical axis and the ray through the box centre. "
        "Change: abs(camera - crop), from `Face.yaw/pitch/roll` (relative to the viewing ray) to "
        "`Face.camera.yaw/pitch/roll` (relative to the camera axis), degrees. Position: "
        "`Face.camera.position` (x right, y down, z forward; metres, from the box size and a "
        "0.16 m face).",
        "",
        "| input | faces | off-axis deg, mean | mean change yaw / pitch / roll | "
        "largest change | position x / y / z range, m |",
        "| --- | ---: | --- | --- | --- | --- |",
        summarise("webcam_roll_nod.mp4, every frame", video_faces),
        summarise("pose photos (640x480)", photo_faces),
        "",
        "The faces here sit within about 10 degrees of the axis, and the angles change by about "
        "as much as the face is off-axis, mostly in yaw (the faces are off-centre sideways). The "
        "change grows with the off-axis angle: a face at the edge of a 60 degree frame changes "
        "by about 30 degrees. Roll changes when a face is off-axis in both x and y.",
        "",
    ]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
