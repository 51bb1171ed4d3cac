"""``python -m headpose.training.study CLAIM [options]``: run one claim of the reproduction study.

The same as ``headpose-study run CLAIM [options]``; see :mod:`headpose.training.cli.study`.
"""

from __future__ import annotations

import sys

from headpose.training.cli.study import main

if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(
        main(
            args
            if args and args[0] in ("list", "plan", "run", "report", "-h", "--help")
            else ["run", *args]
        )
    )
