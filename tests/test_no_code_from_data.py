"""No file teleforge reads can run code: an AST scan of src/ for the ways Python turns data into code.

Banned anywhere in ``src/``: importing or using ``pickle``/``cPickle``/``dill``/``marshal``/``shelve``,
``torch.load`` (any form: even ``weights_only=True`` is an unpickler), bare ``eval(``/``exec(``,
``yaml.load(`` (``yaml.safe_load`` is fine), ``np.load(..., allow_pickle=True)``, ``pd.read_pickle``
and any ``weights_only=False``. Method calls named ``eval`` (``model.eval()``) are not builtins and
pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "teleforge"

BANNED_MODULES = {"pickle", "cPickle", "_pickle", "dill", "marshal", "shelve", "cloudpickle", "joblib"}
BANNED_BUILTINS = {"eval", "exec", "compile", "__import__"}
BANNED_ATTR_CALLS = {("torch", "load"), ("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"),
                     ("pd", "read_pickle"), ("pandas", "read_pickle")}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def findings(source: str, name: str = "<src>") -> list[str]:
    """One ``file:line: what`` per construct that can turn data into code."""
    out: list[str] = []
    # Names bound to a banned function by `from x import load as y` (torch.load, yaml.load, ...).
    aliases: dict[str, str] = {}
    modules: dict[str, str] = {}  # `import torch as th` -> th: torch
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                modules[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in BANNED_MODULES:
                    out.append(f"{where}: import {a.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root in BANNED_MODULES:
                out.append(f"{where}: from {node.module} import ...")
            for a in node.names:
                if (root, a.name) in BANNED_ATTR_CALLS:
                    aliases[a.asname or a.name] = f"{root}.{a.name}"
        elif isinstance(node, ast.keyword) and node.arg == "weights_only" and not _true(node.value):
            out.append(f"{where}: weights_only=False")
        elif isinstance(node, ast.Call):
            fn = node.func
            dotted = _dotted(fn)
            head, _, rest = dotted.partition(".")
            if head in modules:
                dotted = f"{modules[head]}.{rest}" if rest else modules[head]
            if isinstance(fn, ast.Name) and fn.id in BANNED_BUILTINS:
                out.append(f"{where}: {fn.id}(...)")
            elif isinstance(fn, ast.Name) and fn.id in aliases:
                out.append(f"{where}: {aliases[fn.id]}(...) as {fn.id}")
            elif isinstance(fn, ast.Attribute) and dotted.count(".") and (dotted.split(".")[-2], fn.attr) in BANNED_ATTR_CALLS:
                out.append(f"{where}: {dotted}(...)")
            elif isinstance(fn, ast.Attribute) and fn.attr == "load" and dotted.split(".")[0] in {"np", "numpy"}:
                if any(k.arg == "allow_pickle" and _true(k.value) for k in node.keywords):
                    out.append(f"{where}: {dotted}(..., allow_pickle=True)")
            elif isinstance(fn, ast.Attribute) and fn.attr in {"loads", "load", "Unpickler"} and \
                    dotted.split(".")[0] in BANNED_MODULES:
                out.append(f"{where}: {dotted}(...)")
    return out


def test_src_has_no_way_to_run_code_from_data() -> None:
    found = [f for p in sorted(SRC.rglob("*.py")) for f in findings(p.read_text(), str(p.relative_to(SRC.parent)))]
    assert not found, "code-from-data constructs in src/:\n" + "\n".join(found)


def test_the_scan_catches_planted_examples() -> None:
    planted = {
        "import pickle\n": "import pickle",
        "from pickle import loads\n": "from pickle",
        "import torch\nx = torch.load(p)\n": "torch.load",
        "import torch\nx = torch.load(p, weights_only=True)\n": "torch.load",
        "from torch import load as tl\nx = tl(p)\n": "torch.load",
        "import torch as th\nx = th.load(p)\n": "torch.load",
        "import yaml as y\ny.load(s)\n": "yaml.load",
        "x = f(p, weights_only=False)\n": "weights_only=False",
        "eval(s)\n": "eval(",
        "exec(s)\n": "exec(",
        "import yaml\nyaml.load(s)\n": "yaml.load",
        "import numpy as np\nnp.load(p, allow_pickle=True)\n": "allow_pickle=True",
        "import pandas as pd\npd.read_pickle(p)\n": "read_pickle",
        "def f():\n    import marshal\n    return marshal.loads(b)\n": "marshal",
    }
    for code, what in planted.items():
        got = findings(code, "planted.py")
        assert any(what in g for g in got), (code, got)
    # Look-alikes that are safe stay quiet.
    for code in ("model.eval()\n", "f().load(p)\n", "import yaml\nyaml.safe_load(s)\n", "import numpy as np\nnp.load(p)\n",
                 "import numpy as np\nnp.load(p, allow_pickle=False)\n", "import json\njson.load(f)\n"):
        assert findings(code) == [], code
