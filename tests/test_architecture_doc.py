"""docs/ARCHITECTURE.md matches the code: every file, folder and module it names exists, and
every package folder is in its tree.

The tree (the first code block) has top-level folders at column 0 (``headpose/``, ``training/``,
...) and their entries two spaces in (``metadata.py``, ``detectors/``); a file named anywhere in
an entry's lines is looked up in the top folder, in the entry's folder, or from the repository
root. Dotted names (``headpose.training.engine.checkpoint``, ``headpose.errors.CheckpointError``)
must import, and backticked ``tests/...`` paths (with ``::test``) must exist.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from itertools import product
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "ARCHITECTURE.md"
#: the folders whose package folders the tree must name (``training/*``: every folder under it)
PACKAGE_ROOTS = ("headpose", "training", "export")
FILE = re.compile(r"[\w*{},./-]*[\w*]\.(?:py|sh|md|onnx|obj|jsonl|yaml)\b")
PLACEHOLDERS = {"NAME.md"}  # bench/results/NAME.md: any bench's output


def expand(text: str) -> list[str]:
    """``tests/{a,b}/`` -> ``["tests/a/", "tests/b/"]`` (one level of braces is enough here)."""
    parts = re.split(r"\{([^}]*)\}", text)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(c) for c in product(*choices)]


def tree() -> list[tuple[str, str, str]]:
    """``(top folder, entry folder, line)`` for every line of the tree; the entry folder is the
    folder of the entry the line belongs to (the top folder for a file entry)."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("```\n", 2)[1]
    out, top, entry = [], "", ""
    for line in block.splitlines():
        if line and not line[0].isspace():
            top = line.split()[0]
            entry = top
        elif line.startswith("  ") and not line[2].isspace():
            name = line.split()[0]
            entry = top + name if name.endswith("/") else top
        out.append((top, entry, line))
    return out


def named_folders() -> set[Path]:
    folders = set()
    for top, entry, _ in tree():
        for folder in (top, entry):
            folders.update((REPO / f).resolve() for f in expand(folder))
    return folders


def test_the_tree_names_every_package_folder() -> None:
    required = set()
    for root in PACKAGE_ROOTS:
        required.add(REPO / root)
        required.update(p.parent for p in (REPO / root).rglob("__init__.py"))
    required.update(p for p in (REPO / "training").iterdir() if p.is_dir() and p.name[0] != "_")
    required = {p.resolve() for p in required if "__pycache__" not in p.parts}
    missing = sorted(str(p.relative_to(REPO)) for p in required - named_folders())
    assert not missing, f"docs/ARCHITECTURE.md's tree does not name these folders: {missing}"


def test_every_file_the_tree_names_exists() -> None:
    missing = []
    seen = 0
    for top, entry, line in tree():
        for token in FILE.findall(line):
            if Path(token).name in PLACEHOLDERS:
                continue
            seen += 1
            bases = [*expand(top), *expand(entry), ""]
            if not any(list(REPO.glob(base + name)) for base in bases for name in expand(token)):
                missing.append(f"{token} ({line.strip()[:50]}...)")
    assert seen > 80, seen  # the tree was parsed
    assert not missing, f"docs/ARCHITECTURE.md names files that do not exist: {missing}"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        module_name = ".".join(parts[:n])
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
        except ModuleNotFoundError:
            continue
        obj = importlib.import_module(module_name)
        for attr in parts[n:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_every_module_and_name_it_mentions_imports() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = sorted(set(re.findall(r"\bheadpose(?:\.\w+)+", text)))
    if importlib.util.find_spec("torch") is None:  # a runtime-only install
        names = [n for n in names if not n.startswith(("headpose.training", "headpose.export"))]
    assert len(names) > 15, names
    missing = [n for n in names if not _resolves(n)]
    assert not missing, (
        f"docs/ARCHITECTURE.md names modules or objects that do not exist: {missing}"
    )


@pytest.mark.parametrize("path", sorted(set(re.findall(r"`(tests/[^`\s]+)`", DOC.read_text()))))
def test_every_test_it_points_to_exists(path: str) -> None:
    file, _, test = path.partition("::")
    assert (REPO / file).is_file(), path
    if test:
        assert f"def {test}(" in (REPO / file).read_text(encoding="utf-8"), path
