"""The dataset card (README.md) of an export: rendered from its manifest, parsed back to check it.

The YAML header is what the Hugging Face Hub indexes; the body describes the collection
setup, conventions, curation and statistics from ``teleforge_export.json``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from teleforge.errors import ExportError
from teleforge.spec import ACTION_DIM, ACTION_NAMES

_SIZE_BUCKETS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                 (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` rows (steps)."""
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
    lines += [f"- Action: {ACTION_DIM} numbers per step `[{', '.join(ACTION_NAMES)}]` — end-effector delta (m, axis-angle rad) "
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
        rule_hash = info.get("rules_hash") or info.get("rule_hash")
        if rule_hash:
            lines.append(f"Rule hash: `{rule_hash}`")
        reasons = info.get("rejected") or info.get("reasons") or info.get("excluded")
        if reasons:
            lines += ["", f"Excluded episodes with reasons: {len(reasons)}"]
        trimmed = [e for e in manifest.get("episodes", []) if e.get("trim")]
        if trimmed:
            lines += ["", f"Trimmed episodes (only the kept step range is exported): {len(trimmed)}"]
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
        names = ACTION_NAMES
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
    import yaml  # lazy: PyYAML comes with huggingface_hub / datasets, needed only when a card is checked

    if not text.startswith("---\n"):
        raise ExportError("dataset card has no YAML header")
    end = text.index("\n---\n", 4)
    return yaml.safe_load(text[4:end]) or {}
