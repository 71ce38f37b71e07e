"""Views (``views/<name>.json``): curated selections that never touch the shards.

A view holds the kept episode ids, per-episode trims (step ranges), why each
dropped episode was dropped, the rules and their hash, and the catalog version
it was made from. A view can be made from another view (``parent``).

Views live in ``dataset`` because every consumer needs them: curation makes them,
:mod:`teleforge.dataset.selection` resolves them for exports and training.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from teleforge.dataset.catalog import read_catalog
from teleforge.dataset.layout import VIEWS, atomic_write_json, now_iso
from teleforge.errors import ViewError

VIEW_FORMAT = "teleforge.view/1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class View:
    """A curated selection of one dataset's episodes (``views/<name>.json``); shards are never touched."""

    name: str
    episodes: list[int]  # kept, in order
    trims: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> [start, stop) steps kept
    rejected: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # id -> reasons
    rules: list[dict[str, Any]] = field(default_factory=list)
    rules_hash: str = ""
    parent: str | None = None  # the view this one was made from (None: the whole dataset)
    catalog_version: str = ""
    operation: str = ""  # filter | dedupe | trim | split | review | ...
    created_at: str = field(default_factory=now_iso)
    extra: dict[str, Any] = field(default_factory=dict)  # clusters, split fractions, ...

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = VIEW_FORMAT
        d["trims"] = {str(k): list(v) for k, v in self.trims.items()}
        d["rejected"] = {str(k): v for k, v in self.rejected.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "view") -> View:
        if not isinstance(d, dict) or d.get("format") != VIEW_FORMAT:
            raise ViewError(f"{where} is not a teleforge view (format {d.get('format') if isinstance(d, dict) else None!r}, expected {VIEW_FORMAT!r})")
        # Every field is checked for its JSON type: a list where an object belongs is refused, not coerced.
        for key, kind in (("episodes", list), ("trims", dict), ("rejected", dict), ("rules", list), ("extra", dict)):
            if d.get(key) is not None and not isinstance(d[key], kind):
                raise ViewError(f"{where}: {key!r} must be a JSON {'array' if kind is list else 'object'}, "
                                f"got {type(d[key]).__name__}; make the view again")
        for k, v in (d.get("trims") or {}).items():
            if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v)):
                raise ViewError(f"{where}: trim of episode {k} is {v!r}, expected [start, stop] step numbers; make the view again")
        if not isinstance(d.get("name"), str) or not _NAME.match(d["name"]):
            raise ViewError(f"{where}: view name {d.get('name')!r} is not a plain name; make the view again")
        if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in d.get("episodes") or []):
            raise ViewError(f"{where}: 'episodes' must hold non-negative integer ids; make the view again")
        if d.get("parent") is not None and not isinstance(d["parent"], str):
            raise ViewError(f"{where}: 'parent' must be a view name; make the view again")
        try:
            return cls(
                name=str(d["name"]),
                episodes=[int(i) for i in d["episodes"]],
                trims={int(k): (int(v[0]), int(v[1])) for k, v in (d.get("trims") or {}).items()},
                rejected={int(k): list(v) for k, v in (d.get("rejected") or {}).items()},
                rules=list(d.get("rules") or []),
                rules_hash=str(d.get("rules_hash", "")),
                parent=d.get("parent"),
                catalog_version=str(d.get("catalog_version", "")),
                operation=str(d.get("operation", "")),
                created_at=str(d.get("created_at", "")),
                extra=dict(d.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ViewError(f"{where} is malformed ({exc!r}); it needs name and episodes (a list of ids)") from exc


def view_path(root: Path | str, name: str) -> Path:
    """``<root>/views/<name>.json``; a name that is not a plain file name is refused."""
    if not _NAME.match(name or ""):
        raise ViewError(f"invalid view name {name!r}: use letters, digits, '-', '_' or '.'")
    return Path(root) / VIEWS / f"{name}.json"


def save_view(root: Path | str, view: View) -> Path:
    """Write views/<name>.json atomically (overwrites a view of the same name: commands are idempotent)."""
    path = view_path(root, view.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, view.to_dict())
    return path


def list_views(root: Path | str) -> list[str]:
    """Names of the dataset's views, sorted."""
    d = Path(root) / VIEWS
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def load_view(root: Path | str, name_or_path: str | Path, check: bool = True) -> View:
    """Load a view by name (views/<name>.json) or path; ``check``: every id must be in the catalog."""
    p = Path(name_or_path)
    path = p if p.suffix == ".json" and p.exists() else view_path(root, str(name_or_path))
    if not path.is_file():
        have = ", ".join(list_views(root)) or "none"
        raise ViewError(f"no view {str(name_or_path)!r} in {root} (views: {have}); make one with `teleforge curate filter`")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ViewError(f"{path} is not valid JSON ({exc}); delete it and make the view again") from exc
    view = View.from_dict(data, str(path))
    if check:
        check_view(root, view)
    return view


def missing_episodes_message(view_name: str, root: Path | str, missing: list[int]) -> str:
    """What to say when a view names episodes the dataset does not hold (curation and export alike)."""
    return (f"view {view_name!r} names {len(missing)} episode(s) that {root} does not hold: {missing[:10]}"
            f"{' …' if len(missing) > 10 else ''}. Was it made for another dataset, or were shards removed? "
            f"Run `teleforge recover {root}` if shards exist but the catalog lost them, or make the view again.")


def check_view(root: Path | str, view: View) -> None:
    """Every kept and trimmed episode must exist in the dataset; trims must be sane ranges."""
    cat = read_catalog(root)
    ids = set(cat.column("episode_id").to_pylist()) if cat.num_rows else set()
    missing = sorted(set(view.episodes) - ids)
    if missing:
        raise ViewError(missing_episodes_message(view.name, root, missing))
    steps = dict(zip(cat.column("episode_id").to_pylist(), cat.column("num_steps").to_pylist())) if cat.num_rows else {}
    for i, (a, b) in view.trims.items():
        if i in steps and not 0 <= a < b <= steps[i]:
            raise ViewError(f"view {view.name!r}: trim {a}..{b} of episode {i} is outside its 0..{steps[i]} steps")
