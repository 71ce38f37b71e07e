"""What an export came from, and the dataset card that describes it.

Every teleforge export folder carries ``teleforge_export.json`` (source,
episodes, view and curation rules, statistics), so ``teleforge push`` can write
an honest card from the folder alone, long after the native dataset moved.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import pyarrow as pa

from teleforge.dataset.reader import Dataset, Episode, EpisodeInfo
from teleforge.dataset.schema import feature_schema
from teleforge.errors import ExportError, MissingEpisodesError, PartialExportError, ViewError

EXPORT_MANIFEST = "teleforge_export.json"


# Catalog columns curation writes (teleforge.curation.store); read here by name so an
# export does not import the curation metrics stack.
_OUTCOME_OVERRIDE = "curated_outcome"
_INSTRUCTION_OVERRIDE = "curated_instruction"
_DELETED = "deleted"


class ViewEpisode(Episode):
    """An episode as a view sees it: only the kept step range, with curated relabels applied.

    Every reader method (``column``, ``table``, ``image_bytes``, ``steps``, ``meta``)
    goes through ``_load``, so an exporter that reads an Episode exports only the kept steps.
    """

    def __init__(self, path: Path, spec: Any, episode_id: int, trim: tuple[int, int] | None = None,
                 relabel: dict[str, str] | None = None) -> None:
        super().__init__(path, spec, episode_id)
        self.trim = trim
        self.relabel = relabel or {}
        self._viewed = False

    def _load(self) -> pa.Table:
        if self._viewed:
            assert self._table is not None
            return self._table
        table = super()._load()
        meta = self._meta
        assert meta is not None
        if self.trim is not None:
            a, b = self.trim
            n = table.num_rows
            if not 0 <= a < b <= n:
                raise ExportError(f"trim {a}..{b} of episode {self.episode_id} is outside its 0..{n} steps; make the view again")
            # take() copies into offset-free arrays: fixed-size-list .values of a slice would ignore the offset.
            table = table.take(pa.array(np.arange(a, b, dtype=np.int64)))
            ticks = table.column("tick_ns").to_pylist()
            fps = float(self.spec.fps or 0)
            meta.duration_s = (ticks[-1] - ticks[0]) / 1e9 + (1.0 / fps if fps else 0.0)
            meta.num_steps = table.num_rows
            meta.extras = {**(meta.extras or {}), "trim": [a, b], "source_num_steps": n}
        for k, v in self.relabel.items():
            setattr(meta, k, v)
        self._table = table
        self._viewed = True
        return table


class ViewDataset(Dataset):
    """A dataset seen through a selection: ``episode()`` returns :class:`ViewEpisode`s (trimmed,
    relabelled) and ``episodes`` reports the trimmed step counts, so exporters that only know
    the Dataset API still export exactly the view."""

    def __init__(self, base: Dataset, trims: dict[int, tuple[int, int]] | None = None,
                 relabels: dict[int, dict[str, str]] | None = None) -> None:
        super().__init__(base.root, base.manifest, base.spec)
        self.trims = dict(trims or {})
        self.relabels = dict(relabels or {})

    @property
    def episodes(self) -> list[EpisodeInfo]:
        out = []
        for info in super().episodes:
            if info.episode_id in self.trims:
                a, b = self.trims[info.episode_id]
                info.duration_s = float(info.duration_s or 0.0) * (b - a) / max(1, int(info.num_steps or 1))
                info.num_steps = b - a
                info.extras = {**(info.extras or {}), "trim": [a, b]}
            for k, v in self.relabels.get(info.episode_id, {}).items():
                setattr(info, k, v)
            out.append(info)
        return out

    def episode(self, episode_id: int) -> Episode:
        ep = super().episode(episode_id)
        eid = int(episode_id)
        return ViewEpisode(ep.path, self.spec, eid, self.trims.get(eid), self.relabels.get(eid))


@dataclass
class ExportSource:
    """The episodes an export reads: a whole dataset, a list of ids, or a curated view.

    ``trims`` maps an episode id to the ``[start, stop)`` steps kept (absent: every step).
    ``dataset`` is wrapped in a :class:`ViewDataset`, so ``source.dataset.episode(i)`` (or
    ``source.episode(i)``) yields only the kept steps; exporters derive is_first/is_last,
    timestamps and frame indices from that trimmed range.
    """

    dataset: Dataset
    episode_ids: list[int]
    view: str | None = None
    view_info: dict[str, Any] = field(default_factory=dict)  # the view file: rules, rejected, hash, trims
    trims: dict[int, tuple[int, int]] = field(default_factory=dict)
    relabels: dict[int, dict[str, str]] = field(default_factory=dict)  # id -> {"instruction"|"outcome": value}

    def __post_init__(self) -> None:
        self.episode_ids = [int(i) for i in self.episode_ids]
        self.trims = {int(k): (int(v[0]), int(v[1])) for k, v in self.trims.items()}
        if not isinstance(self.dataset, ViewDataset):
            self.dataset = ViewDataset(self.dataset, self.trims, self.relabels)

    def episode(self, episode_id: int) -> Episode:
        """The episode's kept steps (trimmed, relabelled)."""
        return self.dataset.episode(episode_id)

    def step_range(self, episode_id: int) -> tuple[int, int]:
        """``[start, stop)`` of the source episode's steps that are exported."""
        if episode_id in self.trims:
            return self.trims[episode_id]
        return 0, self._catalog_steps()[episode_id]

    def num_steps(self, episode_id: int) -> int:
        a, b = self.step_range(episode_id)
        return b - a

    @property
    def total_steps(self) -> int:
        return sum(self.num_steps(i) for i in self.episode_ids)

    def _catalog_steps(self) -> dict[int, int]:
        cat = self.dataset.catalog
        return dict(zip((int(i) for i in cat.column("episode_id").to_pylist()), (int(n) for n in cat.column("num_steps").to_pylist())))

    def to_state(self) -> dict[str, Any]:
        """What a worker process needs to rebuild this source (picklable, small)."""
        return {"root": str(self.dataset.root), "episode_ids": list(self.episode_ids), "view": self.view,
                "trims": {i: self.trims[i] for i in self.episode_ids if i in self.trims},
                "relabels": {i: self.relabels[i] for i in self.episode_ids if i in self.relabels}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ExportSource:
        return cls(Dataset.open(state["root"]), list(state["episode_ids"]), state.get("view"), {},
                   dict(state.get("trims") or {}), dict(state.get("relabels") or {}))


def _catalog_edits(ds: Dataset) -> tuple[dict[int, dict[str, str]], set[int]]:
    """Curated relabels (outcome / instruction overrides) and soft-deleted ids from the catalog."""
    cat = ds.catalog
    names = set(cat.column_names)
    ids = [int(i) for i in cat.column("episode_id").to_pylist()] if cat.num_rows else []
    relabels: dict[int, dict[str, str]] = {}
    for col, key in ((_OUTCOME_OVERRIDE, "outcome"), (_INSTRUCTION_OVERRIDE, "instruction")):
        if col in names:
            for i, v in zip(ids, cat.column(col).to_pylist()):
                if v:
                    relabels.setdefault(i, {})[key] = str(v)
    deleted = {i for i, v in zip(ids, cat.column(_DELETED).to_pylist()) if v} if _DELETED in names else set()
    return relabels, deleted


def select(dataset: Dataset | Path | str, episodes: list[int] | None = None, view: str | None = None) -> ExportSource:
    """Resolve what to export: every live episode, a list of ids, or a curated view
    (``views/NAME.json`` or a view file: its kept ids, in order, and its trims; views made
    from other views already carry the composed selection). ``episodes`` narrows a view.

    A view or id naming episodes the dataset lacks is refused, naming them.
    """
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    if isinstance(ds, ViewDataset):
        ds = Dataset(ds.root, ds.manifest, ds.spec)
    have = set(ds.episode_ids)
    relabels, deleted = _catalog_edits(ds)
    info: dict[str, Any] = {}
    trims: dict[int, tuple[int, int]] = {}
    name = None
    if view is not None:
        from teleforge.curation.views import load_view, missing_episodes_message

        try:
            v = load_view(ds.root, view, check=False)
        except ViewError as exc:
            raise ExportError(f"cannot export view {view!r}: {exc}") from None
        gone = sorted(set(v.episodes) - have)
        if gone:
            raise MissingEpisodesError(missing_episodes_message(v.name, ds.root, gone))
        name = v.name
        info = v.to_dict()
        ids = list(v.episodes)
        trims = {i: t for i, t in v.trims.items() if i in set(ids)}
        if episodes is not None:
            want = [int(i) for i in episodes]
            outside = sorted(set(want) - set(ids))
            if outside:
                raise ExportError(f"episodes {outside} are not in view {v.name!r}; drop them from --episodes or use another view")
            ids = [i for i in ids if i in set(want)]
    else:
        ids = [i for i in ds.episode_ids if i not in deleted] if episodes is None else [int(i) for i in episodes]
    missing = [i for i in ids if i not in have]
    if missing:
        raise MissingEpisodesError(
            f"episodes {missing[:10]} are not in {ds.root} (it has {len(have)} episodes); fix the selection, "
            f"or run `teleforge recover {ds.root}` if their shards exist but the catalog lost them"
        )
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ExportError(f"episodes {dup} are selected twice; each episode can be exported once")
    if not ids:
        raise ExportError(f"nothing to export: no episodes selected from {ds.root}")
    return ExportSource(ds, ids, name, info, trims, relabels)


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
            {**{k: getattr(infos[i], k) for k in ("episode_id", "task", "instruction", "outcome", "num_steps", "device",
                                                   "operator_id", "session_id")},
             **({"trim": list(src.trims[i])} if i in src.trims else {})}
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


# --- output folders: staged, published by rename ------------------------------
PARTIAL_SUFFIX = ".partial"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass
class StagedOutput:
    """An export being written beside its final path; :meth:`publish` renames it into place.

    Until then the final path does not exist (or still holds the previous export), so a
    crash never leaves something that looks like a complete dataset.
    """

    final: Path
    staging: Path
    owner: Path
    resumed: bool = False
    keep_on_error: bool = False  # resumable exports keep their finished parts for the next run

    def publish(self) -> Path:
        parent = self.final.parent
        old = None
        if self.final.exists() and self.final.is_dir():
            old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
            os.rename(self.final, old)
        os.replace(self.staging, self.final)  # atomic on one filesystem; a file replaces the old one
        _fsync_dir(parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.owner.unlink(missing_ok=True)
        return self.final

    def abort(self) -> None:
        """An export failed with a Python error: drop what it wrote (unless it can resume)."""
        if self.keep_on_error:
            return
        if self.staging.is_dir():
            shutil.rmtree(self.staging, ignore_errors=True)
        else:
            self.staging.unlink(missing_ok=True)
        self.owner.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def stage_output(final: Path | str, *, overwrite: bool, is_dir: bool = True,
                 resume_key: dict[str, Any] | None = None) -> StagedOutput:
    """Prepare ``.<name>.partial`` beside ``final`` for an export to write into.

    - ``final`` exists: refused unless ``overwrite`` (the old export stays until the new one publishes).
    - a ``.partial`` left by an interrupted export: resumed when ``resume_key`` (what the export
      would write) matches the one it was started with; otherwise refused with a message,
      unless ``overwrite`` discards it.
    - a ``.partial`` another live process is writing: always refused.
    """
    final = Path(final)
    staging = final.with_name(f".{final.name}{PARTIAL_SUFFIX}")
    owner = final.with_name(f".{final.name}{PARTIAL_SUFFIX}.json")
    if final.exists() and (not final.is_dir() or any(final.iterdir())) and not overwrite:
        raise ExportError(f"{final} already exists; pass --overwrite to replace it or choose another output")
    info: dict[str, Any] = {}
    if owner.is_file():
        try:
            info = json.loads(owner.read_text())
        except ValueError:
            info = {}
        pid = int(info.get("pid") or 0)
        if pid and pid != os.getpid() and info.get("host") == socket.gethostname() and _pid_alive(pid):
            raise PartialExportError(
                f"another export (pid {pid}, started {info.get('started', '?')}) is writing {final} right now; "
                "wait for it to finish or stop it first"
            )
    resumed = False
    if staging.exists() or owner.exists():
        if overwrite:
            shutil.rmtree(staging, ignore_errors=True) if staging.is_dir() else staging.unlink(missing_ok=True)
        elif resume_key is not None and staging.is_dir() and info.get("resume_key") == json.loads(json.dumps(resume_key, default=str)):
            resumed = True
        else:
            why = (" and cannot be resumed (it was started with other episodes or settings)" if resume_key is not None
                   else "")
            raise PartialExportError(
                f"{staging} was left by an interrupted export (started {info.get('started', '?')}); it is incomplete, "
                f"was never published as {final}{why}. Re-run with --overwrite to discard it and export again."
            )
    final.parent.mkdir(parents=True, exist_ok=True)
    owner.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "final": str(final),
                                 "started": info.get("started") if resumed else time.strftime("%Y-%m-%dT%H:%M:%S"),
                                 "resume_key": resume_key}, default=str))
    if is_dir:
        staging.mkdir(exist_ok=resumed)
    return StagedOutput(final, staging, owner, resumed, keep_on_error=resume_key is not None)


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
