"""Per-frame latency of the whole runtime path, side by side with FSA-Net behind the same detector.

    python bench/speed.py [--model M.onnx] [--runs 30] [--threads 1] [--out FILE.md]

Frames: the 640x480 photos in ../shared/data/pose-photos (one face each). For each pipeline the
frames are processed in turn, ``--runs`` rounds, interleaved, and the median ms per frame is
reported, with the ratio to FSA-Net measured in the same run. ``headpose`` is the public API,
``Estimator.predict`` (decode, detect, crop, pose); the FSA-Net pipeline uses the same detector
and crop, then its two ONNX models on a 64 px crop. Pose-network-only times are also printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from headpose import Estimator
from headpose.detectors import get_detector
from headpose.pose_model import PoseModel
from headpose.preprocess import crop_face

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import SHARED, fsanet_method  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def median_ms(fn, frames: list[np.ndarray], runs: int) -> float:
    times = []
    for _ in range(runs):
        for frame in frames:
            t0 = time.perf_counter()
            fn(frame)
            times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "headpose/models/headpose_default.onnx"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "bench/results/speed.md"))
    args = parser.parse_args(argv)

    frames = [cv2.imread(str(p)) for p in sorted((SHARED / "data/pose-photos").glob("*.jpg"))]
    est = Estimator(args.model, threads=args.threads)
    pose = PoseModel(args.model, threads=args.threads)
    detector = get_detector("auto", threads=args.threads)
    fsa_predict, fsa_rule = fsanet_method(SHARED / "peers")

    def fsa_pipeline(frame: np.ndarray) -> None:
        found = detector.detect(frame)
        for box in found.boxes:
            fsa_predict(crop_face(frame, box, fsa_rule, (64, 64)))

    box = detector.detect(frames[0]).boxes[0]
    crop_ours = crop_face(frames[0], box, pose.meta.crop, pose.input_size)
    crop_fsa = crop_face(frames[0], box, fsa_rule, (64, 64))
    results = {}
    for _ in range(2):  # the first round warms up; the second is reported
        results = {
            "headpose: Estimator.predict (YuNet + pose)": median_ms(est.predict, frames, args.runs),
            "FSA-Net: YuNet + FSA-Net ensemble": median_ms(fsa_pipeline, frames, args.runs),
            "headpose pose network only": median_ms(
                lambda _f: pose.predict_crops([crop_ours]), frames[:1], args.runs * 5
            ),
            "FSA-Net ensemble only": median_ms(
                lambda _f: fsa_predict(crop_fsa), frames[:1], args.runs * 5
            ),
            "YuNet detector only": median_ms(detector.detect, frames, args.runs),
        }
    ref_pipe = results["FSA-Net: YuNet + FSA-Net ensemble"]
    ref_net = results["FSA-Net ensemble only"]
    lines = [
        "# Speed, side by side",
        "",
        f"Command: `python bench/speed.py --runs {args.runs} --threads {args.threads}`  ",
        f"Model: `{Path(args.model).name}` ({pose.meta.backbone}, {pose.input_size[0]} px input, "
        f"networks: {len(pose.meta.extra.get('ensemble', [])) or 1}, "
        f"flip average: {bool(pose.meta.extra.get('flip_average'))}, "
        f"input zoom: {pose.meta.extra.get('input_zoom', 1.0):g}). "
        f"{platform.machine()}, {os.cpu_count()} CPUs, onnxruntime threads {args.threads}, "
        f"load average {os.getloadavg()[0]:.1f}. Frames: {len(frames)} photos, 640x480, one face.",
        "",
        "| what | ms (median) | vs FSA-Net |",
        "| --- | ---: | ---: |",
    ]
    for name, ms in results.items():
        ref = ref_net if "only" in name and "YuNet" not in name else ref_pipe
        ratio = f"{ms / ref:.2f}x" if "YuNet detector" not in name else ""
        lines.append(f"| {name} | {ms:.2f} | {ratio} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
