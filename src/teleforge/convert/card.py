"""What an export came from, and the dataset card that describes it.

Every teleforge export folder carries ``teleforge_export.json`` (source,
episodes, view and curation rules, statistics), so ``teleforge push`` can write
an honest card from the folder alone, long after the native dataset moved.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.dataset.reader import Dataset
from teleforge.dataset.schema import feature_schema
from teleforge.errors import EpisodeNotFoundError, ExportError

EXPORT_MANIFEST = "teleforge_export.json"


@dataclass
class ExportSource:
    """The episodes an export reads: a whole dataset, a list of ids, or a curated view."""

    dataset: Dataset
    episode_ids: list[int]
    view: str | None = None
    view_info: dict[str, Any] = field(default_factory=dict)  # the view file: rules, reasons, hash


def _view_ids(doc: dict[str, Any]) -> list[int]:
    # Accept the shapes a view may take: ids, or entries carrying episode_id (with trims/reasons).
    for key in ("episode_ids", "episodes", "keep", "selected"):
        if key in doc:
            out = []
            for e in doc[key]:
                out.append(int(e["episode_id"] if isinstance(e, dict) else e))
            return out
    raise ExportError(f"view has none of episode_ids/episodes; keys: {', '.join(doc)}")


def select(dataset: Dataset | Path | str, episodes: list[int] | None = None, view: str | None = None) -> ExportSource:
    """Resolve what to export; a view or id naming episodes the dataset lacks is refused, naming them."""
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    have = ds.episode_ids
    info: dict[str, Any] = {}
    if view is not None:
        path = Path(view) if str(view).endswith(".json") else ds.root / "views" / f"{view}.json"
        if not path.is_file():
            names = sorted(p.stem for p in (ds.root / "views").glob("*.json"))
            raise ExportError(f"no view {view!r} in {ds.root} (views: {', '.join(names) or 'none'}); run `teleforge curate` first")
        info = json.loads(path.read_text())
        ids = _view_ids(info)
        if episodes is not None:
            ids = [i for i in ids if i in set(episodes)]
    else:
        ids = list(have) if episodes is None else [int(i) for i in episodes]
    missing = sorted(set(ids) - set(have))
    if missing:
        raise EpisodeNotFoundError(
            f"{'view ' + repr(view) if view else 'selection'} names episodes {missing[:10]} that {ds.root} does not hold "
            f"(it has {len(have)} episodes); re-run curation or run `teleforge recover {ds.root}`"
        )
    if not ids:
        raise ExportError(f"nothing to export: no episodes selected from {ds.root}")
    return ExportSource(ds, ids, None if view is None else Path(view).stem, info)


def compute_stats(src: ExportSource) -> dict[str, Any]:
    """Counts and per-dimension action/state statistics (reads numeric columns only, never images)."""
    ds = src.dataset
    infos = {e.episode_id: e for e in ds.episodes}
    acc: dict[str, list[np.ndarray]] = {"action": [], "observation.state.joint_pos": [], "observation.state.ee_pos": []}
    lengths, outcomes, tasks, durations = [], Counter(), Counter(), 0.0
    instructions: dict[str, Counter] = {}
    for i in src.episode_ids:
        ep = ds.episode(i)
        meta = infos.get(i) or ep.meta
        lengths.append(ep.num_steps)
        outcomes[meta.outcome] += 1
        tasks[meta.task] += 1
        instructions.setdefault(meta.task, Counter())[meta.instruction] += 1
        durations += float(meta.duration_s or 0.0)
        for k in acc:
            acc[k].append(np.asarray(ep.column(k), np.float64))
    stats: dict[str, Any] = {
        "episodes": len(lengths),
        "steps": int(sum(lengths)),
        "hours": durations / 3600.0,
        "steps_per_episode": {"min": min(lengths), "mean": float(np.mean(lengths)), "max": max(lengths)},
        "outcomes": dict(outcomes),
        "tasks": dict(tasks),
        "instructions": {t: dict(c) for t, c in instructions.items()},
    }
    for k, arrs in acc.items():
        a = np.concatenate(arrs) if arrs else np.zeros((0, 1))
        if len(a):
            stats[k] = {s: getattr(np, s)(a, axis=0).round(6).tolist() for s in ("mean", "std", "min", "max")}
    return stats


def export_manifest(src: ExportSource, fmt: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    ds = src.dataset
    infos = {e.episode_id: e for e in ds.episodes}
    sessions = [asdict(s) for s in ds.sessions] if hasattr(ds, "sessions") else []
    return {
        "format": fmt,
        "source": str(ds.root.resolve()),
        "source_format_version": ds.format_version,
        "spec": ds.spec.to_dict(),
        "features": feature_schema(ds.spec),
        "view": src.view,
        "view_info": src.view_info,
        "episodes": [
            {k: getattr(infos[i], k) for k in ("episode_id", "task", "instruction", "outcome", "num_steps", "device", "operator_id", "session_id")}
            for i in src.episode_ids if i in infos
        ],
        "sessions": sessions,
        "stats": compute_stats(src),
        **(extra or {}),
    }


def write_export_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    path = Path(folder) / EXPORT_MANIFEST
    path.write_text(json.dumps(manifest, indent=2, default=str))
    return path


def read_export_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / EXPORT_MANIFEST
    if path.is_file():
        return json.loads(path.read_text())
    info = Path(folder) / "meta" / "info.json"  # a LeRobot export written elsewhere
    if info.is_file():
        meta = json.loads(info.read_text())
        return {"format": "lerobot", "spec": {"fps": meta.get("fps"), "robot_embodiment": meta.get("robot_type")},
                "stats": {"episodes": meta.get("total_episodes"), "steps": meta.get("total_frames")}}
    raise ExportError(
        f"{folder} is not a teleforge export (no {EXPORT_MANIFEST} or meta/info.json); "
        "make one with `teleforge export hf|lerobot|robomimic|aloha` first"
    )


# --- the card ------------------------------------------------------------------
_SIZE_BUCKETS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                 (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]


def size_category(n: int) -> str:
    for limit, name in _SIZE_BUCKETS:
        if n < limit:
            return name
    return "100M<n<1B"


_DATA_FILES = {"hf": "data-*.arrow", "lerobot": "data/*/*.parquet"}


def _yaml_list(items: list[str], indent: str = "") -> str:
    return "".join(f"{indent}- {json.dumps(i)}\n" for i in items)


def render_card(manifest: dict[str, Any], *, license: str = "apache-2.0", pretty_name: str | None = None,
                extra_tags: list[str] | None = None, preview: str | None = None) -> str:
    """The README.md dataset card: YAML header the Hub indexes, then a body a reader can trust."""
    spec = manifest.get("spec") or {}
    stats = manifest.get("stats") or {}
    fmt = manifest.get("format", "hf")
    robot = spec.get("robot_embodiment") or "unknown"
    tags = ["robotics", "teleforge", "teleoperation", str(fmt), *(extra_tags or [])]
    tags = list(dict.fromkeys(t for t in tags if t))
    header = "---\n"
    header += f"license: {license}\n"
    if pretty_name:
        header += f"pretty_name: {json.dumps(pretty_name)}\n"
    header += "task_categories:\n- robotics\n"
    header += "tags:\n" + _yaml_list(tags)
    header += f"size_categories:\n- {size_category(int(stats.get('steps') or 0))}\n"
    if fmt in _DATA_FILES:
        header += ("configs:\n- config_name: default\n  data_files:\n  - split: train\n"
                   f"    path: {json.dumps(_DATA_FILES[fmt])}\n")
    header += "---\n\n"

    lines = [f"# {pretty_name or 'teleforge dataset'}", ""]
    lines += [f"Robot demonstrations recorded with teleforge and exported as **{fmt}**.", ""]
    lines += ["## Collection setup", ""]
    lines += [f"- Robot: `{robot}` ({spec.get('n_joints', '?')} joints), control rate {spec.get('fps', '?')} Hz"]
    for cam in spec.get("cameras") or []:
        lines.append(f"- Camera `{cam['name']}`: {cam['height']}x{cam['width']} {cam.get('encoding', 'jpeg')}")
    devices = Counter(e.get("device") for e in manifest.get("episodes", []))
    operators = {e.get("operator_id") for e in manifest.get("episodes", [])}
    if devices:
        lines.append("- Input devices: " + ", ".join(f"{d} ({n} episodes)" for d, n in devices.most_common()))
        lines.append(f"- Operators: {len(operators)}")
    lines += ["- Action: 7 numbers per step `[dx, dy, dz, drx, dry, drz, gripper]` — end-effector delta (m, axis-angle rad) "
              "in the robot base frame; gripper target 0 = open, 1 = closed.",
              "- State: joint positions and velocities, end-effector position and quaternion (wxyz), gripper opening.", ""]
    if manifest.get("conventions"):
        lines += ["Export conventions:", ""] + [f"- {k}: {v}" for k, v in manifest["conventions"].items()] + [""]
    lines += ["## Tasks and instructions", "", "| task | episodes | instructions |", "|---|---|---|"]
    for task, n in (stats.get("tasks") or {}).items():
        instr = (stats.get("instructions") or {}).get(task, {})
        shown = "; ".join(f"“{s}” ({c})" for s, c in list(instr.items())[:5]) + (" …" if len(instr) > 5 else "")
        lines.append(f"| `{task}` | {n} | {shown} |")
    lines.append("")
    lines += ["## Curation", ""]
    if manifest.get("view"):
        info = manifest.get("view_info") or {}
        lines.append(f"Exported from the curated view `{manifest['view']}`.")
        rules = info.get("rules") or info.get("filters")
        if rules:
            lines += ["", "Rules:", "", "```json", json.dumps(rules, indent=2, default=str), "```"]
        if info.get("rule_hash"):
            lines.append(f"Rule hash: `{info['rule_hash']}`")
        reasons = info.get("reasons") or info.get("excluded")
        if reasons:
            lines += ["", f"Excluded episodes with reasons: {len(reasons)}"]
    else:
        lines.append("No curation view: every finalized episode of the source dataset is included.")
    lines.append("")
    lines += ["## Statistics", "", f"- Episodes: {stats.get('episodes', '?')}", f"- Steps: {stats.get('steps', '?')}"]
    if "hours" in stats:
        lines.append(f"- Duration: {stats['hours'] * 60:.1f} min")
    if stats.get("steps_per_episode"):
        s = stats["steps_per_episode"]
        lines.append(f"- Steps per episode: min {s['min']}, mean {s['mean']:.1f}, max {s['max']}")
    if stats.get("outcomes"):
        lines.append("- Outcomes: " + ", ".join(f"{k} {v}" for k, v in stats["outcomes"].items()))
    if stats.get("action"):
        a = stats["action"]
        names = ["dx", "dy", "dz", "drx", "dry", "drz", "gripper"]
        lines += ["", "| action | mean | std | min | max |", "|---|---|---|---|---|"]
        for i, n in enumerate(names[: len(a["mean"])]):
            lines.append(f"| {n} | {a['mean'][i]:.4g} | {a['std'][i]:.4g} | {a['min'][i]:.4g} | {a['max'][i]:.4g} |")
    lines.append("")
    lines += ["## Preview", ""]
    if preview:
        lines += [f"![first frame]({preview})", ""]
    eps = manifest.get("episodes") or []
    if eps:
        lines += ["| episode | task | instruction | outcome | steps |", "|---|---|---|---|---|"]
        for e in eps[:10]:
            lines.append(f"| {e['episode_id']} | {e['task']} | {e['instruction']} | {e['outcome']} | {e['num_steps']} |")
        if len(eps) > 10:
            lines.append(f"| … | {len(eps) - 10} more | | | |")
    lines.append("")
    if fmt == "hf":
        lines += ["## Loading", "", "```python", "from datasets import load_dataset",
                  'ds = load_dataset("REPO_ID", split="train")', "```", ""]
    return header + "\n".join(lines)


def parse_card_header(text: str) -> dict[str, Any]:
    """The YAML header of a card as a dict (for tests and for `push` to check before uploading)."""
    import yaml

    if not text.startswith("---\n"):
        raise ExportError("dataset card has no YAML header")
    end = text.index("\n---\n", 4)
    return yaml.safe_load(text[4:end]) or {}
