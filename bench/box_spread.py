"""How much do the runtime detectors' face boxes move? The numbers behind the training box jitter.

    python bench/box_spread.py [--limit N] [--out bench/results/box_spread.md]

Three sources of box variation, each as the change of the box centre (x, y) in units of the box
side, and of the side itself (log ratio; side = the longer box side, which the crop rule uses):

* **between detectors**: BlazeFace's box vs YuNet's on the same AFLW2000 crop (both from
  ``headpose.detectors``); a systematic offset shows as a non-zero mean;
* **across image changes**: YuNet's box on a re-scaled (0.8x, 1.25x), shifted (a few pixels),
  darkened or JPEG-compressed copy of the crop, mapped back to the original pixels, vs its box on
  the crop itself;
* **across video frames**: YuNet's boxes on consecutive frames of ``../shared/data/video`` clips
  (this includes real head motion, so it is an upper bound of detector noise).

Images: all AFLW2000 crops in ``../shared`` (their labels are not used). Prints and writes a
Markdown table: mean, standard deviation and 95th percentile of |change| per quantity.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

import cv2
import numpy as np

from headpose.detectors import get_detector
from headpose.training.data.detector_boxes import best_box

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HEADPOSE_SHARED", REPO.parent / "shared"))


def box_change(ref: np.ndarray, other: np.ndarray) -> np.ndarray:
    """(dx, dy, log side ratio, log aspect ratio) of ``other`` relative to ``ref``, (4,)."""
    rw, rh = ref[2] - ref[0], ref[3] - ref[1]
    ow, oh = other[2] - other[0], other[3] - other[1]
    side = max(rw, rh)
    dx = ((other[0] + other[2]) - (ref[0] + ref[2])) / 2.0 / side
    dy = ((other[1] + other[3]) - (ref[1] + ref[3])) / 2.0 / side
    return np.array([dx, dy, np.log(max(ow, oh) / side), np.log((ow / oh) / (rw / rh))])


def _perturbations(image: np.ndarray, rng: np.random.Generator):
    """(name, perturbed image, function mapping its box back to the original pixels)."""
    h, w = image.shape[:2]
    for f in (0.8, 1.25):
        scaled = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        yield f"scale x{f}", scaled, lambda b, f=f: b / f
    tx, ty = (int(v) for v in rng.integers(-8, 9, size=2))
    m = np.float32([[1, 0, tx], [0, 1, ty]])
    shifted = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    yield "shift <= 8 px", shifted, lambda b: b - np.array([tx, ty, tx, ty])
    yield "dark x0.35", (image * 0.35).astype(np.uint8), lambda b: b
    ok, enc = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 15])
    yield "JPEG q15", cv2.imdecode(enc, cv2.IMREAD_COLOR), lambda b: b


def _stats(changes: list[np.ndarray]) -> dict[str, np.ndarray]:
    a = np.array(changes)
    return {
        "n": len(a),
        "mean": a.mean(0),
        "std": a.std(0),
        "p95": np.percentile(np.abs(a), 95, axis=0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="use only the first N crops")
    parser.add_argument("--out", default=str(REPO / "bench/results/box_spread.md"))
    args = parser.parse_args(argv)
    yunet = get_detector("yunet")
    blaze = get_detector("blazeface", box_style="native")
    styled = get_detector("blazeface")  # boxes mapped to YuNet's style (the runtime default)
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    files = sorted((SHARED / "data/aflw2000-crops").rglob("*.jpg"))
    if args.limit:
        files = files[: args.limit]
    rng = np.random.default_rng(0)
    rows: dict[str, list[np.ndarray]] = {}
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        ref = best_box(yunet, image)
        if ref is None:
            continue
        other = best_box(blaze, image)
        if other is not None:
            rows.setdefault("BlazeFace (native box) vs YuNet", []).append(box_change(ref, other))
            pairs.append((np.asarray(ref, np.float64), np.asarray(other, np.float64)))
        other = best_box(styled, image)
        if other is not None:
            rows.setdefault("BlazeFace (YuNet-style box) vs YuNet", []).append(
                box_change(ref, other)
            )
        for name, img, back in _perturbations(image, rng):
            box = best_box(yunet, img)
            if box is not None:
                rows.setdefault(f"YuNet, {name} vs original", []).append(
                    box_change(ref, back(np.asarray(box, dtype=np.float64)))
                )
    for clip in sorted((SHARED / "data/video").glob("*.mp4")):
        cap = cv2.VideoCapture(str(clip))
        prev = None
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            box = best_box(yunet, frame)
            if box is not None and prev is not None:
                rows.setdefault(f"YuNet, consecutive frames of {clip.name}", []).append(
                    box_change(prev, box)
                )
            prev = box
        cap.release()
    lines = [
        "# Face-box spread of the runtime detectors",
        "",
        f"`python bench/box_spread.py{' --limit ' + str(args.limit) if args.limit else ''}`, "
        f"{dt.date.today()}, {len(files)} AFLW2000 crops from ../shared. Units: box centre shift "
        "in box sides (dx right, dy down), log of the side ratio (scale), log of the aspect "
        "change. Columns: mean / std / 95th percentile of |value|.",
        "",
        "| source | n | dx | dy | log scale | log aspect |",
        "| --- | ---: | --- | --- | --- | --- |",
    ]
    for name, changes in rows.items():
        s = _stats(changes)
        cells = [f"{s['mean'][k]:+.3f} / {s['std'][k]:.3f} / {s['p95'][k]:.3f}" for k in range(4)]
        lines.append(f"| {name} | {s['n']} | " + " | ".join(cells) + " |")
    if pairs:
        a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        wb, hb = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        fit = (
            np.median(((a[:, 0] + a[:, 2]) - (b[:, 0] + b[:, 2])) / 2 / wb),
            np.median(((a[:, 1] + a[:, 3]) - (b[:, 1] + b[:, 3])) / 2 / hb),
            np.median((a[:, 2] - a[:, 0]) / wb),
            np.median((a[:, 3] - a[:, 1]) / hb),
        )
        lines += [
            "",
            "BlazeFace native box -> YuNet-style box, medians (centre shift x, y in BlazeFace "
            "widths/heights; width, height factors), the constants of "
            "`headpose.detectors.blazeface.YUNET_STYLE`: "
            + ", ".join(f"{v:+.3f}" if k < 2 else f"{v:.3f}" for k, v in enumerate(fit)),
        ]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
