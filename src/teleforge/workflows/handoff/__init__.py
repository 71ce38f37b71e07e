"""Hand a dataset (or a curated view) to another trainer: the data in its format, its
normalization statistics, the config entry it needs, and a README saying what to run.

- ``openvla``: RLDS (OpenVLA action space: EEF delta + gripper 1 = open) under
  ``OUT/rlds/<name>/1.0.0``, ``dataset_statistics.json`` keyed by the dataset name, and
  ``openvla_register.py`` that adds the dataset to ``OXE_DATASET_CONFIGS`` /
  ``OXE_STANDARDIZATION_TRANSFORMS`` / ``OXE_NAMED_MIXTURES`` in an openvla checkout.
- ``openpi``: LeRobot v2.1 (what openpi's pinned LeRobot reads) under ``OUT/lerobot/<repo_id>``,
  ``norm_stats.json`` where openpi's loader looks (``assets/<config>/<repo_id>/``) and
  ``openpi_config.py``, a data config and ``TrainConfig`` to append to openpi's config.py.
- ``lerobot``: LeRobot v3.0 plus ``lerobot-train`` commands (device picked here, offline first).
- ``octo``: RLDS (OXE action space), Octo's ``dataset_kwargs`` and p01/p99 statistics, a loader script.
- ``robomimic``: robomimic HDF5 (with ``next_obs``), BC config JSONs (low-dim, image) and the train command.
- ``act``: ALOHA HDF5 padded to one episode length and ACT's 14-wide state, the task entry and command.

Never touches the source dataset; an existing OUT is refused unless ``overwrite``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Protocol

from teleforge.convert.staging import check_replaceable, write_output_marker
from teleforge.dataset.selection import ExportSource, select
from teleforge.errors import ExportError, HandoffError
from teleforge.progress import Progress, or_null
from teleforge.workflows.handoff import act, lerobot, octo, openpi, openvla, robomimic
from teleforge.workflows.handoff.common import HandoffConfig, HandoffResult
from teleforge.workflows.handoff.openpi import OPENPI_CONFIG_NAME, openpi_config_source
from teleforge.workflows.handoff.openvla import openvla_config_source

__all__ = ["HandoffConfig", "HandoffResult", "OPENPI_CONFIG_NAME", "TARGETS", "handoff", "openpi_config_source",
           "openvla_config_source", "parse_dataset_arg"]


class Target(Protocol):
    """One trainer a dataset can be handed to: a module with these two functions."""

    def write(self, src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult,
              say: Progress) -> None: ...

    def readme_section(self, cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]: ...


TARGETS: dict[str, Target] = {"openvla": openvla, "openpi": openpi, "lerobot": lerobot, "octo": octo,
                               "robomimic": robomimic, "act": act}


def parse_dataset_arg(text: str) -> tuple[Path, str | None]:
    """``DATASET[:VIEW]`` -> (dataset, view). A path that exists as given is never split."""
    p = Path(text)
    if p.exists() or ":" not in text:
        return p, None
    root, view = text.rsplit(":", 1)
    if not view or "/" in view:
        return p, None
    return Path(root), view


def _snake(text: str) -> str:
    s = "".join(c.lower() if c.isalnum() else "_" for c in text).strip("_")
    while "__" in s:
        s = s.replace("__", "_")
    if not s or not s[0].isalpha():
        s = f"teleforge_{s}" if s else "teleforge_dataset"
    return s


def handoff(cfg: HandoffConfig, progress: Progress | None = None) -> HandoffResult:
    """Write ``cfg.out`` for ``cfg.target``; see the module doc for what each target gets. Each export step is a message."""
    if cfg.target not in TARGETS:
        raise HandoffError(f"unknown handoff target {cfg.target!r}: choose one of {', '.join(TARGETS)}")
    try:  # the one overwrite rule of every export: never a dataset, a foreign folder or the current folder
        out = check_replaceable(cfg.out, "handoff", overwrite=cfg.overwrite)
    except ExportError as exc:
        raise HandoffError(str(exc)) from exc
    if out.exists() and any(out.iterdir()):
        shutil.rmtree(out)
    src = select(cfg.dataset, None, cfg.view)
    ds = src.dataset
    cams = [c.name for c in ds.spec.cameras]
    primary = cfg.primary_camera or ("front" if "front" in cams else (cams[0] if cams else None))
    name = _snake(cfg.name or Path(cfg.dataset).resolve().name + (f"_{cfg.view}" if cfg.view else ""))
    out.mkdir(parents=True, exist_ok=True)
    say = or_null(progress)
    steps = src.total_steps
    res = HandoffResult(cfg.target, out, len(src.episode_ids), steps)
    tasks = sorted({e.task for e in ds.episodes if e.episode_id in set(src.episode_ids)})
    target = TARGETS[cfg.target]
    target.write(src, out, name, primary, res, say)
    manifest = {
        "format": "teleforge.handoff/1",
        "target": cfg.target,
        "source": str(Path(cfg.dataset).resolve()),
        "view": cfg.view,
        "episodes": res.episodes,
        "steps": res.steps,
        "episode_ids": list(src.episode_ids),
        "tasks": tasks,
        "cameras": cams,
        "fps": ds.spec.fps,
        "files": {k: str(v.relative_to(out)) for k, v in res.files.items()},
        "commands": res.commands,
    }
    (out / "teleforge_handoff.json").write_text(json.dumps(manifest, indent=2))
    res.files["manifest"] = out / "teleforge_handoff.json"
    (out / "README.md").write_text(_readme(cfg, res, name, tasks, cams, primary))
    res.files["readme"] = out / "README.md"
    write_output_marker(out, "handoff")
    return res


def _readme(cfg: HandoffConfig, res: HandoffResult, name: str, tasks: list[str], cams: list[str], primary: str | None) -> str:
    out = res.out
    sel = f"view `{cfg.view}` of `{cfg.dataset}`" if cfg.view else f"`{cfg.dataset}` (every live episode)"
    lines = [
        f"# teleforge handoff → {cfg.target}",
        "",
        f"Source: {sel} — {res.episodes} episodes, {res.steps} steps; tasks: {', '.join(tasks) or '-'}; "
        f"cameras: {', '.join(cams) or '-'} (primary: {primary or '-'}).",
        "",
        "## Files",
        "",
    ]
    for role, p in res.files.items():
        if role in ("readme", "manifest"):
            continue
        lines.append(f"- **{role}**: `{p.relative_to(out) if p.is_relative_to(out) else p}`")
    lines += ["- **teleforge_handoff.json**: what this folder was made from (ids, view, commands)", ""]
    lines += TARGETS[cfg.target].readme_section(cfg, res, name)
    lines += ["", "Conventions: actions are per-step EE deltas in the robot base frame, "
              "[dx, dy, dz, drx, dry, drz, gripper]; see teleforge docs/design.md §3.", ""]
    return "\n".join(lines)
