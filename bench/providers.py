"""Parity and speed of one exported model on several onnxruntime execution providers.

    python bench/providers.py [--model M.onnx] [--providers cpu,cuda,tensorrt] [--count 64]
        [--images DIR] [--runs 20]

Runs the runtime's own path (``PoseModel.predict_crops``, runtime package only, no torch) on
``--count`` face crops (default: the AFLW2000 crops in ../shared) with each provider, prints the
providers each session actually loaded, the max |difference| of angles and spread from the
first provider (degrees), and the median ms per batch of 1 and of all crops. A provider that does
not load is reported as such (the runtime raises for providers asked for by name).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from headpose.errors import HeadPoseError
from headpose.pose_model import PoseModel

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def read_crops(folder: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` images under ``folder`` (sorted), BGR uint8."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)[:count]
    if not paths:
        raise SystemExit(f"no images under {folder}")
    return [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up (TensorRT builds or loads its engine here)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "headpose/models/headpose_default.onnx"))
    parser.add_argument("--providers", default="cpu,cuda,tensorrt")
    parser.add_argument("--images", type=Path, default=SHARED / "data/aflw2000-crops/images")
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    crops = read_crops(args.images, args.count)
    reference: tuple[np.ndarray, np.ndarray] | None = None
    for name in args.providers.split(","):
        try:
            model = PoseModel(args.model, providers=name.strip())
        except HeadPoseError as exc:
            print(f"{name}: not available: {exc}")
            continue
        angles, spread = model.predict_crops(crops)
        if reference is None:
            reference, diff = (angles, spread), "reference"
        else:
            da = float(np.abs(angles - reference[0]).max())
            ds = float(np.abs(spread - reference[1]).max())
            diff = f"max |diff| angles {da:.3g} deg, spread {ds:.3g} deg"
        one = median_ms(lambda m=model: m.predict_crops(crops[:1]), args.runs)
        batch = median_ms(lambda m=model: m.predict_crops(crops), max(args.runs // 4, 3))
        print(
            f"{name}: loaded {model.providers}; {len(crops)} crops: {diff}; "
            f"{one:.2f} ms (batch 1), {batch:.1f} ms (batch {len(crops)})"
        )


if __name__ == "__main__":
    main()
