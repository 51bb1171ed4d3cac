"""Face-detector benchmark: recall, box fit and speed of every available detector, side by side.

Data (read-only, ``../shared`` beside the checkout or ``--shared``):

* ``data/aflw2000-crops``: 384 x 384 loose crops, one annotated face each, centred. A crop is a
  hit when a detection's box centre lies in the central half of the crop (|dx|, |dy| < 96 px);
  "top centred" when the best-scored box is that one. Box fit: ``384 / max(w, h)`` of the
  centred box (the crops are 1.5-2.8x the landmark box) and the box-centre offset, from which the
  CropRule (scale, shift_y) that reproduces these crops is suggested.
* ``data/pose-photos``: 15 frames 640 x 480 of one person (left/right profiles, up, down, mid).
* Small faces: every 4th crop shrunk to 96 or 192 px (face about 50 or 100 px) and pasted into
  a flat 640 x 480 frame at a fixed pseudo-random place; a hit is a box centred on the patch.
* Speed: median ms per image, batch 1, on a 384 x 384 crop and a 640 x 480 frame, detectors
  interleaved run by run so they share the same machine load.

Run: ``python bench/detectors.py`` (writes ``bench/results/detectors.md`` and prints it).
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from headpose.detectors import DEFAULT_DETECTOR, available, get_detector
from headpose.detectors.base import Detections, Detector

REPO = Path(__file__).resolve().parents[1]
SMALL_SIDES = (96, 192)  # pasted crop side in a 640 x 480 frame (face ~ side / 1.9)
SIZES = (640, 512, 480, 416, 320)  # max_side values compared for the default detector
CENTRE_TOL = 0.25  # box centre within +-25% of the side from the crop centre = central half


@dataclass
class CropStats:
    n: int = 0
    hit: int = 0
    top_centred: int = 0
    exactly_one: int = 0
    side_ratio: list[float] = field(default_factory=list)  # 384 / max(w, h)
    aspect: list[float] = field(default_factory=list)  # h / w
    shift: list[float] = field(default_factory=list)  # (crop centre y - box centre y) / h
    shift_x: list[float] = field(default_factory=list)  # (crop centre x - box centre x) / w
    miss_files: list[str] = field(default_factory=list)


def centred(dets: Detections, width: int, height: int) -> np.ndarray:
    """Boolean mask: box centre within CENTRE_TOL of the image centre on both axes."""
    cx = (dets.boxes[:, 0] + dets.boxes[:, 2]) / 2
    cy = (dets.boxes[:, 1] + dets.boxes[:, 3]) / 2
    return (np.abs(cx - width / 2) < CENTRE_TOL * width) & (
        np.abs(cy - height / 2) < CENTRE_TOL * height
    )


def crop_stats(det: Detector, files: list[Path]) -> CropStats:
    st = CropStats()
    for path in files:
        img = cv2.imread(str(path))
        h, w = img.shape[:2]
        dets = det.detect(img)
        st.n += 1
        st.exactly_one += len(dets) == 1
        mask = centred(dets, w, h) if len(dets) else np.zeros(0, bool)
        if not mask.any():
            st.miss_files.append(path.name)
            continue
        st.hit += 1
        st.top_centred += bool(mask[0])
        x1, y1, x2, y2 = dets.boxes[int(np.argmax(mask))]  # best-scored centred box
        bw, bh = x2 - x1, y2 - y1
        st.side_ratio.append(w / max(bw, bh))
        st.aspect.append(bh / max(bw, 1e-6))
        st.shift.append((h / 2 - (y1 + y2) / 2) / bh)
        st.shift_x.append((w / 2 - (x1 + x2) / 2) / bw)
    return st


def photo_stats(det: Detector, files: list[Path]) -> tuple[int, int, list[str]]:
    """(frames with >= 1 face, frames with exactly 1 face, names of frames with none)."""
    found = one = 0
    missed = []
    for path in files:
        n = len(det.detect(cv2.imread(str(path))))
        found += n >= 1
        one += n == 1
        if n == 0:
            missed.append(path.name)
    return found, one, missed


def small_face_recall(det: Detector, files: list[Path], side: int) -> float:
    """Fraction of crops found when shrunk to ``side`` px inside a 640 x 480 flat frame."""
    hits = 0
    for i, path in enumerate(files):
        img = cv2.imread(str(path))
        frame = np.full((480, 640, 3), int(img.mean()), np.uint8)
        x, y = (i * 97) % (640 - side), (i * 53) % (480 - side)
        frame[y : y + side, x : x + side] = cv2.resize(
            img, (side, side), interpolation=cv2.INTER_AREA
        )
        dets = det.detect(frame)
        if len(dets):
            cx = (dets.boxes[:, 0] + dets.boxes[:, 2]) / 2 - x - side / 2
            cy = (dets.boxes[:, 1] + dets.boxes[:, 3]) / 2 - y - side / 2
            hits += bool(((np.abs(cx) < side / 4) & (np.abs(cy) < side / 4)).any())
    return hits / max(len(files), 1)


def pick_default(recalls: dict[str, float], ms: dict[str, float], tie: float = 0.01) -> str:
    """Best mean recall; detectors within ``tie`` of it are ranked by speed (640 x 480 ms)."""
    best = max(recalls.values())
    close = [n for n, r in recalls.items() if r >= best - tie]
    return min(close, key=lambda n: ms[n])


def speed(
    dets: dict[str, Detector], images: dict[str, np.ndarray], runs: int
) -> dict[str, dict[str, float]]:
    """Median ms per image for every detector and image, interleaved run by run."""
    times: dict[str, dict[str, list[float]]] = {n: {k: [] for k in images} for n in dets}
    for key, img in images.items():
        for det in dets.values():  # warm-up (session allocation for this shape)
            for _ in range(3):
                det.detect(img)
        for _ in range(runs):
            for name, det in dets.items():
                t0 = time.perf_counter()
                det.detect(img)
                times[name][key].append((time.perf_counter() - t0) * 1000)
    return {n: {k: statistics.median(v) for k, v in per.items()} for n, per in times.items()}


def size_section(
    sizes: list[int],
    crops: list[Path],
    photos: list[Path],
    base: tuple[CropStats, tuple[int, int, list[str]], dict[int, float]] | None,
    frame: np.ndarray,
    args: argparse.Namespace,
) -> list[str]:
    """Recall and one-thread speed of the default detector at several input sizes (``max_side``):
    the trade-off behind its default."""
    crop_side = max(cv2.imread(str(crops[0])).shape[:2])
    dets = {n: get_detector(DEFAULT_DETECTOR, max_side=n, threads=1) for n in sizes}
    ms = speed(dets, {"frame640x480": frame}, args.runs)  # type: ignore[arg-type]
    default_side = getattr(get_detector(DEFAULT_DETECTOR), "max_side", None)
    lines = [
        "",
        f"## Input size of the default detector ({DEFAULT_DETECTOR}, `max_side`)",
        "",
        "The detector shrinks a frame so that its longer side is at most `max_side`. Crops "
        f"({crop_side} px) are not shrunk when `max_side` >= {crop_side}: those rows reuse the "
        "default's crop pass (the same input). Speed: one thread, 640x480 frame, median of "
        f"{args.runs} interleaved runs. Default now: `max_side={default_side}`.",
        "",
        "| max_side | crops hit | photos >=1 | small 96 px | small 192 px | mean recall | "
        "ms 640x480 (1 thread) |",
        "| ---: | --- | --- | --- | --- | --- | ---: |",
    ]
    for side, det in dets.items():
        t0 = time.perf_counter()
        if base is not None and side >= crop_side:
            cs = base[0]
        else:
            cs = crop_stats(det, crops)
        found, _, _ = photo_stats(det, photos)
        small = {n: small_face_recall(det, crops[::4], n) for n in SMALL_SIDES}
        mean = float(np.mean([cs.hit / max(cs.n, 1), found / len(photos), *small.values()]))
        lines.append(
            f"| {side} | {pct(cs.hit, cs.n)} | {found}/{len(photos)} | {small[96]:.1%} | "
            f"{small[192]:.1%} | {mean:.1%} | {ms[side]['frame640x480']:.2f} |"
        )
        print(f"max_side {side}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return lines


def pct(a: int, b: int) -> str:
    return f"{100 * a / max(b, 1):.1f}%"


def q(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the face detectors.")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N crops (0=all)")
    parser.add_argument("--runs", type=int, default=60, help="timed runs per detector and image")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "detectors.md")
    parser.add_argument("--detectors", nargs="*", default=None, help="default: all available")
    parser.add_argument(
        "--sizes",
        nargs="*",
        type=int,
        default=list(SIZES),
        help="input sizes (max_side) of the default detector to compare (none: skip)",
    )
    args = parser.parse_args(argv)

    crops_dir = args.shared / "data" / "aflw2000-crops" / "images"
    photos_dir = args.shared / "data" / "pose-photos"
    if not crops_dir.is_dir() or not photos_dir.is_dir():
        print(f"shared data not found under {args.shared}", file=sys.stderr)
        return 2
    crops = sorted(crops_dir.glob("*.jpg"))
    if args.limit:
        crops = crops[: args.limit]
    photos = sorted(photos_dir.glob("*.jpg"))
    names = args.detectors or available()
    dets = {n: get_detector(n) for n in names}

    rows = {}
    for name, det in dets.items():
        t0 = time.perf_counter()
        small = {side: small_face_recall(det, crops[::4], side) for side in SMALL_SIDES}
        rows[name] = (crop_stats(det, crops), photo_stats(det, photos), small)
        print(f"{name}: accuracy pass {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    frame = cv2.imread(str(photos_dir / "pose_mid_0.jpg"))
    crop = cv2.imread(str(crops[0]))
    timed = dict(dets)
    for name in names:  # onnxruntime detectors also with one intra-op thread
        if "threads" in inspect.signature(type(dets[name])).parameters:
            timed[f"{name} (1 thread)"] = get_detector(name, threads=1)
    ms = speed(timed, {"crop384": crop, "frame640x480": frame}, args.runs)

    def opt(det: Detector, attr: str) -> str:
        return f"{getattr(det, attr)}" if hasattr(det, attr) else "-"

    lines = [
        "# Face-detector benchmark",
        "",
        f"Written by `bench/detectors.py` on {time.strftime('%Y-%m-%d %H:%M')}; "
        f"{platform.processor() or platform.machine()}, {len(crops)} AFLW2000 crops "
        f"(384x384), {len(photos)} pose photos (640x480). OpenCV {cv2.__version__}, "
        f"numpy {np.__version__}. Each detector at its default options (thresholds below). "
        f"Load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared with other jobs: "
        "compare speeds within this table, not across runs).",
        "",
        "Hit: >= 1 box whose centre is in the central half of the crop. Top centred: the "
        "best-scored box is such a box. Speed: median of "
        f"{args.runs} interleaved runs, batch 1, default threads (2 cores, machine shared).",
        "",
        "| detector | score thr | crops hit | top centred | exactly 1 box | photos >=1 | "
        "photos exactly 1 | small 96 px | small 192 px | ms 384 crop | ms 640x480 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    recalls = {}
    for name, (cs, (found, one, _), small) in rows.items():
        lines.append(
            f"| {name} | {opt(dets[name], 'score_threshold')} | {pct(cs.hit, cs.n)} | "
            f"{pct(cs.top_centred, cs.n)} | {pct(cs.exactly_one, cs.n)} | {found}/{len(photos)} | "
            f"{one}/{len(photos)} | {small[96]:.1%} | {small[192]:.1%} | "
            f"{ms[name]['crop384']:.2f} | {ms[name]['frame640x480']:.2f} |"
        )
        recalls[name] = float(
            np.mean([cs.hit / max(cs.n, 1), found / len(photos), *small.values()])
        )
    pick = pick_default(recalls, {n: ms[n]["frame640x480"] for n in rows})
    lines += [
        "",
        "## Box fit on the crops (centred box) and the CropRule that reproduces them",
        "",
        "`384 / side`: crop side over the box's longer side (the crops are 1.5-2.8x the landmark "
        "box). `shift_y`: (crop centre - box centre) / box height, so "
        "`CropRule(scale=median 384/side, shift_y=median shift_y)` reproduces these crops.",
        "",
        "| detector | 384/side p10 | median | p90 | box h/w median | shift_y median "
        "(p10..p90) | shift_x median | suggested CropRule |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, (cs, _, _) in rows.items():
        scale, shift = q(cs.side_ratio, 50), q(cs.shift, 50)
        lines.append(
            f"| {name} | {q(cs.side_ratio, 10):.2f} | {scale:.2f} | {q(cs.side_ratio, 90):.2f} | "
            f"{q(cs.aspect, 50):.2f} | {shift:+.3f} ({q(cs.shift, 10):+.3f}..{q(cs.shift, 90):+.3f})"
            f" | {q(cs.shift_x, 50):+.3f} | scale={scale:.2f}, shift_y={shift:+.2f} |"
        )
    lines += [
        "",
        "## Speed, default threads vs one thread (same interleaved run)",
        "",
        "| detector | ms 384 crop | ms 640x480 |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {n} | {v['crop384']:.2f} | {v['frame640x480']:.2f} |" for n, v in ms.items()]
    lines += ["", "## Misses", ""]
    for name, (cs, (_, _, missed), _) in rows.items():
        shown = ", ".join(cs.miss_files[:12]) + (" ..." if len(cs.miss_files) > 12 else "")
        lines.append(f"- {name}: {len(cs.miss_files)} crops ({shown or 'none'}); "
                     f"photos without a face: {', '.join(missed) or 'none'}")  # fmt: skip
    lines += [
        "",
        "## Default",
        "",
        "Mean recall over crops, photos and both small-face sets: "
        + ", ".join(f"{n} {r:.1%}" for n, r in recalls.items())
        + f". Pick by measurement (best mean recall, ties within 1 point broken by 640x480 speed): "
        f"**{pick}**; `get_detector('auto')` is **{DEFAULT_DETECTOR}**"
        + ("." if pick == DEFAULT_DETECTOR else " (MISMATCH: update DEFAULT_DETECTOR)."),
        "",
    ]
    if args.sizes:
        lines += size_section(args.sizes, crops, photos, rows.get(DEFAULT_DETECTOR), frame, args)
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
