"""What a face-profiling dataset holds: counts by origin and box source, the label distribution
(yaw in bands, pitch and roll), the turns and the self-occlusion share, as Markdown.

    python bench/profiling_stats.py OUT [--write bench/results/profiling_pilot.md]

``OUT``: a folder written by ``python -m headpose.training.data.profile``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

BANDS = (0, 10, 20, 30, 40, 50, 60, 70, 80, 91)


def summarise(out: Path) -> str:
    """The Markdown summary of the dataset in ``out``."""
    with open(out / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return f"{out}: no rows\n"
    ypr = np.array([[float(r[a]) for a in ("yaw", "pitch", "roll")] for r in rows])
    delta = np.degrees(
        np.linalg.norm(np.radians([[float(r[f"delta_{a}"]) for a in "xyz"] for r in rows]), axis=1)
    )
    hidden = np.array([float(r["hidden"]) for r in rows])
    settings = json.loads((out / "profile.json").read_text(encoding="utf-8"))
    sources = {r["source"] for r in rows}
    lines = [
        f"# Face-profiling dataset `{out.name}`",
        "",
        f"{len(rows)} renders of {len(sources)} source faces; settings: "
        + ", ".join(f"{k}={v}" for k, v in settings.items() if k not in ("faces",)),
        "",
        "| origin | renders | sources | mirrored | box from YuNet |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for origin in sorted({r["origin"] for r in rows}):
        sel = [r for r in rows if r["origin"] == origin]
        lines.append(
            f"| {origin} | {len(sel)} | {len({r['source'] for r in sel})} | "
            f"{np.mean([r['mirrored'] == '1' for r in sel]):.0%} | "
            f"{np.mean([r['box_source'] == 'yunet' for r in sel]):.0%} |"
        )
    lines += ["", "Label |yaw| in bands (degrees):", "", "| band | renders | share |"]
    lines.append("| --- | ---: | ---: |")
    ay = np.abs(ypr[:, 0])
    for lo, hi in zip(BANDS[:-1], BANDS[1:], strict=True):
        n = int(((ay >= lo) & (ay < hi)).sum())
        lines.append(f"| {lo}-{min(hi, 90)} | {n} | {n / len(rows):.1%} |")
    pct = (5, 50, 95)
    lines += [
        "",
        f"yaw > 0: {np.mean(ypr[:, 0] > 0):.1%}; pitch percentiles {pct}: "
        f"{np.percentile(ypr[:, 1], pct).round(1).tolist()}; roll: "
        f"{np.percentile(ypr[:, 2], pct).round(1).tolist()}",
        f"turn angle |delta| percentiles {pct}: {np.percentile(delta, pct).round(1).tolist()}; "
        f"hidden share: {np.percentile(hidden, pct).round(3).tolist()}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a profiling output folder")
    parser.add_argument("--write", type=Path, help="also write the Markdown here (new file only)")
    args = parser.parse_args(argv)
    text = summarise(args.out)
    print(text)
    if args.write:
        if args.write.exists():
            print(f"error: {args.write} exists", file=sys.stderr)
            return 2
        args.write.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
