"""Declarative rejection rules: ``idle_max_run_s > 1.5``, ``outcome != "success"``.

A rule is a small boolean expression over per-episode metrics (comparisons joined
with ``and`` / ``or`` / ``not`` and parentheses). ``img_*_black_frac`` is the worst
camera. Rules come from a TOML file (``[[rule]]`` tables) or CLI flags; every
rejected episode carries the rules that fired and the values they saw.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import math
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from teleforge.errors import RuleError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<str>\"[^\"]*\"|'[^']*')|(?P<op>>=|<=|==|!=|>|<)"
    r"|(?P<paren>[()])|(?P<name>[A-Za-z_*][A-Za-z0-9_.*]*))"
)
_OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise RuleError(f"cannot parse rule {expr!r} at {expr[pos:]!r}; write e.g. 'idle_fraction > 0.4' or 'outcome != \"success\"'")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    """expr := and ('or' and)* ; and := not ('and' not)* ; not := 'not' not | '(' expr ')' | cmp"""

    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokens(expr)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        t = self.peek()
        if t is None:
            raise RuleError(f"rule {self.expr!r} ends too early; a comparison looks like 'metric > 0.5'")
        self.i += 1
        return t

    def parse(self) -> tuple:
        node = self.or_()
        extra = self.peek()
        if extra is not None:
            raise RuleError(f"rule {self.expr!r}: unexpected {extra[1]!r}; join comparisons with 'and' / 'or'")
        return node

    def or_(self) -> tuple:
        node = self.and_()
        while self.peek() == ("name", "or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> tuple:
        node = self.not_()
        while self.peek() == ("name", "and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> tuple:
        t = self.peek()
        if t == ("name", "not"):
            self.take()
            return ("not", self.not_())
        if t == ("paren", "("):
            self.take()
            node = self.or_()
            if self.take() != ("paren", ")"):
                raise RuleError(f"rule {self.expr!r}: missing ')'")
            return node
        left = self.operand()
        kind, op = self.take()
        if kind != "op":
            raise RuleError(f"rule {self.expr!r}: expected a comparison (> >= < <= == !=) after {left[1]!r}, got {op!r}")
        return ("cmp", op, left, self.operand())

    def operand(self) -> tuple:
        kind, text = self.take()
        if kind == "num":
            return ("lit", float(text))
        if kind == "str":
            return ("lit", text[1:-1])
        if kind == "name" and text in ("true", "false"):
            return ("lit", text == "true")
        if kind == "name" and text not in ("and", "or", "not"):
            return ("metric", text)
        raise RuleError(f"rule {self.expr!r}: expected a metric name, number or \"string\", got {text!r}")


def _metrics_of(node: tuple) -> list[str]:
    if node[0] == "metric":
        return [node[1]]
    if node[0] == "lit":
        return []
    if node[0] == "cmp":
        return _metrics_of(node[2]) + _metrics_of(node[3])
    return [m for child in node[1:] for m in _metrics_of(child)]


@dataclass
class Rule:
    """Reject an episode when ``when`` holds. ``kind`` names the failure it diagnoses."""

    name: str
    when: str
    kind: str = ""
    description: str = ""
    tasks: list[str] = field(default_factory=list)  # empty: every task

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise RuleError(f"every rule needs a name (rule: {self.when!r})")
        self._ast = _Parser(self.when).parse()
        self.metrics = list(dict.fromkeys(_metrics_of(self._ast)))

    def check(self, known: set[str]) -> None:
        """Raise RuleError for metrics no episode has (typos, metrics not computed yet)."""
        for m in self.metrics:
            if "*" in m:
                if not any(fnmatch.fnmatch(k, m) for k in known):
                    raise RuleError(f"rule {self.name!r}: no metric matches {m!r}; known metrics: {', '.join(sorted(known))}")
            elif m not in known:
                close = difflib.get_close_matches(m, sorted(known), n=3)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                raise RuleError(
                    f"rule {self.name!r} uses unknown metric {m!r}.{hint} Run `teleforge curate metrics` first if it is a "
                    f"metric; known: {', '.join(sorted(known))}"
                )

    def evaluate(self, row: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """(fires, {metric: value}) for one catalog row."""
        if self.tasks and row.get("task") not in self.tasks:
            return False, {}
        values: dict[str, Any] = {}
        return bool(self._eval(self._ast, row, values)), values

    def _value(self, name: str, row: dict[str, Any], values: dict[str, Any]) -> Any:
        if "*" in name:
            cand = [row[k] for k in row if fnmatch.fnmatch(k, name) and isinstance(row[k], (int, float)) and row[k] is not None]
            cand = [c for c in cand if not (isinstance(c, float) and math.isnan(c))]
            v = max(cand) if cand else None
        else:
            v = row.get(name)
        values[name] = v
        return v

    def _eval(self, node: tuple, row: dict[str, Any], values: dict[str, Any]) -> bool:
        op = node[0]
        if op == "or":
            return self._eval(node[1], row, values) or self._eval(node[2], row, values)
        if op == "and":
            return self._eval(node[1], row, values) and self._eval(node[2], row, values)
        if op == "not":
            return not self._eval(node[1], row, values)
        a = self._value(node[2][1], row, values) if node[2][0] == "metric" else node[2][1]
        b = self._value(node[3][1], row, values) if node[3][0] == "metric" else node[3][1]
        if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
            return False  # an unmeasured value never rejects
        if isinstance(a, bool):
            a = float(a)
        if isinstance(b, bool):
            b = float(b)
        if isinstance(a, str) != isinstance(b, str):
            if node[1] in ("==", "!="):
                return _OPS[node[1]](str(a), str(b))
            raise RuleError(f"rule {self.name!r}: cannot order {a!r} and {b!r}; compare strings with == or !=")
        return bool(_OPS[node[1]](a, b))

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if v not in ("", [])}
        return d


@dataclass
class TrimConfig:
    """Cut idle head and tail, keeping ``margin`` idle steps on each side."""

    idle_head: bool = True
    idle_tail: bool = True
    margin: int = 2
    idle_translation_m: float = 1e-4


@dataclass
class RuleSet:
    rules: list[Rule]
    trim: TrimConfig = field(default_factory=TrimConfig)
    name: str = "rules"

    @property
    def hash(self) -> str:
        blob = json.dumps([r.to_dict() for r in self.rules], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_dict(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rules]

    def check(self, known: set[str]) -> None:
        for r in self.rules:
            r.check(known)

    def extended(self, exprs: list[str], prefix: str = "cli") -> RuleSet:
        """This set plus rules given as bare expressions (CLI ``--reject``)."""
        extra = [Rule(name=f"{prefix}_{i + 1}", when=e) for i, e in enumerate(exprs)]
        return RuleSet(self.rules + extra, self.trim, self.name)


def load_rules(path: Path | str) -> RuleSet:
    """Read a TOML rules file::

        [[rule]]
        name = "idle_pause"
        when = "idle_max_run_s > 1.5"
        kind = "idle"

        [trim]
        margin = 2
    """
    path = Path(path)
    if not path.is_file():
        raise RuleError(f"rules file {path} does not exist; write one (see `teleforge curate filter --help`) or drop --rules")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path} is not valid TOML ({exc}); rules are [[rule]] tables with name and when") from exc
    return rules_from_dict(data, str(path))


def rules_from_dict(data: dict[str, Any], where: str = "rules") -> RuleSet:
    raw = data.get("rule", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise RuleError(f"{where}: 'rule' must be an array of tables ([[rule]] with name and when)")
    unknown_top = set(data) - {"rule", "trim", "name"}
    if unknown_top:
        raise RuleError(f"{where}: unknown section(s) {sorted(unknown_top)}; expected [[rule]] and [trim]")
    rules = []
    for i, r in enumerate(raw):
        bad = set(r) - {"name", "when", "kind", "description", "tasks"}
        if bad or "when" not in r:
            raise RuleError(f"{where}: rule #{i + 1} needs 'name' and 'when' (optional kind, description, tasks); got keys {sorted(r)}")
        if not isinstance(r["when"], str):
            raise RuleError(f"{where}: rule #{i + 1} 'when' must be a string like \"idle_fraction > 0.4\"")
        rules.append(Rule(name=str(r.get("name", f"rule_{i + 1}")), when=r["when"], kind=str(r.get("kind", "")),
                          description=str(r.get("description", "")), tasks=list(r.get("tasks", []))))
    names = [r.name for r in rules]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RuleError(f"{where}: rule names must be unique; repeated: {sorted(dup)}")
    trim = data.get("trim", {})
    try:
        tc = TrimConfig(**trim)
    except TypeError as exc:
        raise RuleError(f"{where}: bad [trim] section ({exc}); keys: idle_head, idle_tail, margin, idle_translation_m") from exc
    return RuleSet(rules, tc, str(data.get("name", Path(where).stem)))


# Tuned on scripted-expert collections with injected failures (see the curation docs):
# the thresholds sit between the clean demos and each failure kind with a wide margin.
# Order matters for the diagnosis (the first rule that fires names the kind): causes
# (idle, jitter, overshoot, drop) come before symptoms (timeout, not success), so an
# idle pause that made the episode time out is diagnosed as idle.
DEFAULT_RULES_TOML = """
name = "default"

[[rule]]
name = "nonfinite"
when = "nonfinite_values > 0"
kind = "corrupt"
description = "NaN/Inf in actions or states"

[[rule]]
name = "no_instruction"
when = "instruction_present == 0"
kind = "missing_instruction"

[[rule]]
name = "idle_pause"
when = "idle_max_run_s > 1.5"
kind = "idle"
description = "a pause longer than 1.5 s inside the episode"

[[rule]]
name = "jitter"
when = "action_jerk_rms > 150 or action_rot_jerk_rms > 450"
kind = "jitter"
description = "shaky commands (RMS jerk far above a smooth operator)"

[[rule]]
name = "overshoot"
when = "approach_overshoot_m > 0.04"
kind = "overshoot"
description = "went more than 4 cm past the grasp point before coming back"

[[rule]]
name = "dropped_object"
when = "outcome != \\"success\\" and gripper_toggles >= 2 and post_release_motion_m < 0.08"
kind = "dropped_object"
description = "grasped, released, then stopped, and the task failed"

[[rule]]
name = "label_disagrees"
when = "label_disagrees == 1"
kind = "label"
description = "the operator's label and the robot's success check disagree"

[[rule]]
name = "timeout"
when = "time_limit_frac >= 0.98"
kind = "timeout"
description = "ran into the task's time limit"

[[rule]]
name = "not_success"
when = "outcome != \\"success\\""
kind = "failure"
description = "the episode is not labelled success"

[[rule]]
name = "loop_gaps"
when = "tick_gaps > 5"
kind = "loop"
description = "the control loop stalled more than 5 times"

[[rule]]
name = "camera_dead"
when = "img_*_black_frac > 0.2 or img_*_overexposed_frac > 0.2 or img_*_missing_frac > 0.2 or img_*_frozen_frac > 0.6"
kind = "camera"
description = "a camera was black, blown out, missing or frozen"
"""


def default_rules() -> RuleSet:
    return rules_from_dict(tomllib.loads(DEFAULT_RULES_TOML), "default")
