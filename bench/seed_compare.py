"""Two recipes compared over their seeds: difference of mean MAE with a Welch 95% interval.

    python bench/seed_compare.py --a A_seed0.md A_seed1.md ... --b B_seed0.md ... [--input given|e2e]

Each file is a table written by ``bench/accuracy.py`` (one trained seed); its headpose row for
the given crops (``--input given``, default) or end to end (``e2e``) gives that seed's mean MAE
(``accuracy.table_mean``).
Seeds of two recipes are not paired, so the interval is Welch's (unequal variances,
``headpose.training.engine.study_stats.welch_interval``); an interval that excludes 0 says the
recipes differ on this split beyond seed noise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from accuracy import SETTINGS, table_mean

from headpose.training.engine.study_stats import mean_std, welch_interval


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
    parser.add_argument("--input", choices=sorted(SETTINGS), default="given")
    args = parser.parse_args(argv)
    try:
        a = [table_mean(p, args.input) for p in args.a]
        b = [table_mean(p, args.input) for p in args.b]
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
