"""The walls between the packages, read from the source with ``ast`` (no import runs):

* the runtime (``headpose/``) imports nothing of ``headpose.training`` or ``headpose.export``;
* ``training/models`` and ``training/data`` import nothing of ``headpose.training.engine``
  (what they share with it lives in leaf modules such as ``training/checkpoint_io.py`` and
  ``training/data/run_split.py``); the engine and the models import no command-line module;
* an import inside a function says why it is not at module level (an optional dependency or
  its import cost) in a comment on its line, on its group of imports, or above the group.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: source folder -> the dotted package it installs as (setup.cfg's package_dir)
PACKAGES = {"headpose": "headpose", "training": "headpose.training", "export": "headpose.export"}
#: (source folder, dotted prefixes modules there must not import)
WALLS = [
    ("headpose", ("headpose.training", "headpose.export")),
    ("training/models", ("headpose.training.engine", "headpose.cli", "headpose.training.cli")),
    ("training/data", ("headpose.training.engine",)),
    ("training/engine", ("headpose.cli", "headpose.training.cli")),  # the loop is no command
]


def module_name(path: Path, root: Path = REPO) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGES[parts[0]], *parts[1:]])


def imported(path: Path, root: Path = REPO) -> Iterator[tuple[int, str]]:
    """``(line, dotted module)`` of every import in the file (relative ones resolved; for
    ``from X import a`` both ``X`` and ``X.a``, since ``a`` may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def violations(folder: str, banned: tuple[str, ...], root: Path = REPO) -> list[str]:
    found = []
    for path in sorted((root / folder).rglob("*.py")):
        for line, module in imported(path, root):
            if any(module == b or module.startswith(b + ".") for b in banned):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return sorted(set(found))


@pytest.mark.parametrize(("folder", "banned"), WALLS, ids=[w[0] for w in WALLS])
def test_layers_keep_their_walls(folder: str, banned: tuple[str, ...]) -> None:
    found = violations(folder, banned)
    assert not found, f"{folder}/ must not import {banned}:\n" + "\n".join(found)


def test_a_violating_import_is_caught(tmp_path: Path) -> None:
    """The check itself works: a model module importing the engine is reported."""
    fake = tmp_path / "training" / "models"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text(
        "def f():\n    from headpose.training.engine.trainer import Trainer\n", encoding="utf-8"
    )
    (fake / "worse.py").write_text("from ..engine import trainer\n", encoding="utf-8")
    found = violations("training/models", ("headpose.training.engine",), tmp_path)
    assert found == [
        "training/models/bad.py:2 imports headpose.training.engine.trainer",
        "training/models/bad.py:2 imports headpose.training.engine.trainer.Trainer",
        "training/models/worse.py:1 imports headpose.training.engine",
        "training/models/worse.py:1 imports headpose.training.engine.trainer",
    ]


def function_imports(path: Path) -> Iterator[ast.Import | ast.ImportFrom]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    seen: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)) and id(sub) not in seen:
                    seen.add(id(sub))
                    yield sub


def test_imports_inside_functions_say_why() -> None:
    """Imports go at module level unless an optional dependency or import cost keeps them in a
    function; then a comment says which (on the line, or above the group of imports)."""
    unexplained = []
    for folder in PACKAGES:
        for path in sorted((REPO / folder).rglob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            for node in function_imports(path):
                first = node.lineno - 1
                while first > 0 and (
                    not lines[first - 1].strip()
                    or lines[first - 1].strip().startswith(("import ", "from "))
                ):
                    first -= 1  # the group of imports (blank lines between) it belongs to
                group = lines[first : (node.end_lineno or node.lineno)]
                above = lines[first - 1] if first > 0 else ""
                commented = above.strip().startswith("#") or (
                    above.strip().startswith("try:") and "#" in above
                )
                if not commented and not any("#" in line for line in group):
                    unexplained.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not unexplained, (
        "imports inside functions without a comment saying why (optional dependency or "
        "import cost); move them to module level or say why:\n" + "\n".join(unexplained)
    )
