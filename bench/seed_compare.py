"""Two recipes compared over their seeds: difference of mean MAE with a Welch 95% interval.

    python bench/seed_compare.py --a A_seed0.md A_seed1.md ... --b B_seed0.md ... [--input given|e2e]

Each file is a table written by ``bench/accuracy.py`` (one trained seed); its headpose row for
the given crops (``--input given``, default) or end to end (``e2e``) gives that seed's mean MAE.
Seeds of two recipes are not paired, so the interval is Welch's (unequal variances,
``headpose.training.engine.study_stats.welch_interval``); an interval that excludes 0 says the
recipes differ on this split beyond seed noise.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from headpose.training.engine.study_stats import mean_std, welch_interval

INPUTS = {"given": "(a) given crops", "e2e": "(b) yunet + crop"}
_BOLD = re.compile(r"\*\*([-+0-9.]+)\*\*")


def seed_mae(path: Path, which: str = "given") -> float:
    """Mean MAE (degrees) of the headpose row for input ``which`` in a ``bench/accuracy.py``
    table; ``ValueError`` naming the file when the row is not there."""
    label = INPUTS[which]
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 7 and cells[0].startswith("headpose") and cells[1] == label:
            found = _BOLD.search(cells[6])
            if found:
                return float(found.group(1))
    raise ValueError(f"{path}: no headpose row for '{label}' (a bench/accuracy.py table?)")


def compare(a: Sequence[float], b: Sequence[float]) -> str:
    """One Markdown paragraph: both recipes' mean +- std and the Welch interval of A - B."""
    ci = welch_interval(a, b)
    (ma, sa, na), (mb, sb, nb) = mean_std(a), mean_std(b)
    excludes = ci.low > 0 or ci.high < 0
    return (
        f"A: {ma:.3f} +- {sa:.3f} ({na} seeds); B: {mb:.3f} +- {sb:.3f} ({nb} seeds)\n"
        f"A - B = {ci.mean:+.3f} deg, Welch 95% interval [{ci.low:+.3f}, {ci.high:+.3f}]: "
        + ("the recipes differ beyond seed noise" if excludes else "no difference detected")
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", nargs="+", type=Path, required=True, help="recipe A's tables")
    parser.add_argument("--b", nargs="+", type=Path, required=True, help="recipe B's tables")
    parser.add_argument("--input", choices=sorted(INPUTS), default="given")
    args = parser.parse_args(argv)
    try:
        a = [seed_mae(p, args.input) for p in args.a]
        b = [seed_mae(p, args.input) for p in args.b]
    except (OSError, ValueError) as exc:
        print(f"seed_compare: {exc}", file=sys.stderr)
        return 2
    for name, files, values in (("A", args.a, a), ("B", args.b, b)):
        for path, value in zip(files, values, strict=True):
            print(f"{name} {path}: {value:.2f}")
    print(compare(a, b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
