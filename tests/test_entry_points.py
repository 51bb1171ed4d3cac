"""Every command takes ``-h`` and ``--version``: each console script of setup.cfg and each
``python -m headpose...`` tool (a module of headpose/, training/ or export/ with an
``if __name__ == "__main__":`` block), found from the source so that a new tool is walked too.
Each is called in-process as ``main([...])``, the way its entry point calls it."""

from __future__ import annotations

import ast
import configparser
import importlib
import importlib.util
from pathlib import Path

import pytest

from headpose._version import DIST_NAME, __version__

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"headpose": "headpose", "training": "headpose.training", "export": "headpose.export"}


def console_scripts() -> dict[str, str]:
    """``{script name: module}`` from setup.cfg (every one must be ``module:main``)."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg", encoding="utf-8")
    out = {}
    for line in cfg["options.entry_points"]["console_scripts"].strip().splitlines():
        name, _, target = (part.strip() for part in line.partition("="))
        module, _, func = target.partition(":")
        assert func == "main", line
        out[name] = module
    return out


def main_modules() -> list[str]:
    """Dotted names of the modules with an ``if __name__ == "__main__":`` block."""
    found = []
    for folder, package in PACKAGES.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
                    rel = path.relative_to(REPO / folder).with_suffix("").parts
                    found.append(".".join([package, *rel]))
    return found


COMMANDS = sorted(set(console_scripts().values()) | set(main_modules()))


def test_the_walk_finds_the_commands() -> None:
    assert {"headpose-predict", "headpose-train", "headpose-study"} <= set(console_scripts())
    for tool in ("headpose.export.calibrate", "headpose.export.pool", "headpose.export.set_video",
                 "headpose.export.fold_pads", "headpose.training.data.detector_boxes",
                 "headpose.training.data.pseudo_labels"):  # fmt: skip
        assert tool in COMMANDS
    # every console script's module runs as python -m too
    assert set(console_scripts().values()) <= set(main_modules())


@pytest.mark.parametrize("module", COMMANDS)
def test_every_command_takes_help_and_version(
    module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    needs = {"headpose.training": "torch", "headpose.export": "onnx"}
    for prefix, dependency in needs.items():
        if module.startswith(prefix) and importlib.util.find_spec(dependency) is None:
            pytest.skip(f"a runtime-only install: {module} needs {dependency}")
    main = importlib.import_module(module).main
    assert main(["-h"]) == 0, module
    out = capsys.readouterr().out
    assert out.startswith("Usage: "), (module, out[:200])
    assert "-h, --help" in out and "--version" in out, (module, out)
    assert main(["--version"]) == 0, module
    out = capsys.readouterr().out
    assert out.endswith(f" {__version__} (distribution {DIST_NAME})\n"), (module, out)
