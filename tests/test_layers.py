"""The package layers of docs/design.md §2, checked over the source's AST.

Every import counts -- module level, inside functions, under TYPE_CHECKING and
``importlib.import_module("teleforge...")`` with a literal name -- so a lazy
import cannot hide an upward arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "teleforge"

# Package -> the teleforge packages it may import (besides itself). Bottom-layer
# modules (errors, spec, progress, video, _threads) may be imported by anyone.
BOTTOM = {"errors", "spec", "progress", "video", "_threads", "names"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "spec": set(),
    "names": set(),
    "progress": set(),
    "_threads": set(),
    "video": {"errors"},
    "dataset": set(),
    "robots": {"dataset"},
    "teleop": {"robots", "dataset"},
    "curation": {"dataset"},
    "convert": {"dataset"},
    "train_adapter": {"dataset", "robots"},
    "workflows": {"dataset", "robots", "teleop", "curation", "convert", "train_adapter"},
    "cli": {"dataset", "robots", "teleop", "curation", "convert", "train_adapter", "workflows"},
}
# Heavy runtime stacks a curation or export machine must not need.
NO_HEAVY = {"dataset", "curation", "convert"}
HEAVY = {"mujoco", "torch", "pygame"}


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name != "__init__.py" else ""


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in ``source``, wherever it stands."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
            if node.module == "teleforge":  # `from teleforge import cli`
                out += [(node.lineno, f"teleforge.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                out.append((node.lineno, node.args[0].value))
    return out


def violations(package: str, source: str, where: str) -> list[str]:
    """Every import in ``source`` (a module of ``package``) that breaks the layers."""
    bad = []
    for line, mod in imported_modules(source):
        parts = mod.split(".")
        if parts[0] == "teleforge" and len(parts) > 1:
            target = parts[1]
            if target != package and target not in BOTTOM and target not in ALLOWED.get(package, set()):
                bad.append(f"{where}:{line}: {package} imports {mod} (allowed: {sorted(ALLOWED.get(package, set()))})")
        elif package in NO_HEAVY and parts[0] in HEAVY:
            bad.append(f"{where}:{line}: {package} imports {mod}; curation/export machines must not need {parts[0]}")
    return bad


def test_every_package_is_placed_in_a_layer() -> None:
    packages = {_package_of(p) for p in SRC.rglob("*.py")} - {""}
    assert packages <= set(ALLOWED), f"unplaced packages: {sorted(packages - set(ALLOWED))}"


def test_no_import_points_up_or_sideways() -> None:
    bad: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        package = _package_of(path)
        if package:
            bad += violations(package, path.read_text(), str(path.relative_to(SRC.parents[1])))
    assert not bad, "layer violations:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "package, source",
    [
        ("dataset", "from teleforge.curation import metrics\n"),
        ("convert", "def f():\n    import teleforge.curation.rules\n"),
        ("train_adapter", "from teleforge import cli\n"),
        ("robots", "import importlib\nimportlib.import_module('teleforge.cli.main')\n"),
        ("teleop", "from teleforge.convert.rlds import writer\n"),
        ("curation", "def f():\n    import torch\n"),
        ("dataset", "import mujoco\n"),
    ],
)
def test_the_check_catches_an_upward_or_heavy_import(package: str, source: str) -> None:
    assert violations(package, source, "m.py")


def test_allowed_imports_pass_the_check() -> None:
    src = "from teleforge.dataset import Dataset\nfrom teleforge.errors import TeleforgeError\nimport numpy\n"
    assert violations("convert", src, "m.py") == []
