"""The dataset folder: paths, the teleforge.json manifest, episode ids, sessions.

    my_dataset/
      teleforge.json            format version, fps, robot, cameras, feature schema
      catalog.parquet           one row per finalized episode
      episodes/ep-000000.arrow  one Arrow IPC stream per episode
      episodes/ep-000001.arrow.partial   being recorded, or left by a crash
      episodes/corrupt/         unreadable shards moved aside by `teleforge recover`
      sessions/<id>.json        one record per collection session (operator, notes)
      views/<name>.json         curated selections
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from teleforge.dataset.schema import FORMAT_VERSION, DatasetSpec, check_version, feature_schema
from teleforge.errors import DatasetError, DatasetNotFoundError, DiskFullError

MANIFEST = "teleforge.json"
CATALOG = "catalog.parquet"
EPISODES = "episodes"
CORRUPT = "corrupt"
SESSIONS = "sessions"
VIEWS = "views"
PARTIAL_SUFFIX = ".arrow.partial"
FINAL_SUFFIX = ".arrow"
_NEXT_ID = ".next_id"
_LOCK = ".lock"
_EP_RE = re.compile(r"^ep-(\d{6,})\.arrow(\.partial)?$")


def now_iso() -> str:
    """The current UTC time as ISO 8601, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def shard_name(episode_id: int, partial: bool = False) -> str:
    """File name of an episode shard: 'ep-000012.arrow' (or '.arrow.partial')."""
    return f"ep-{episode_id:06d}" + (PARTIAL_SUFFIX if partial else FINAL_SUFFIX)


def parse_shard_name(name: str) -> tuple[int, bool] | None:
    """'ep-000012.arrow.partial' -> (12, True); anything else -> None."""
    m = _EP_RE.match(name)
    return (int(m.group(1)), m.group(2) is not None) if m else None


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_disk_full(exc: BaseException) -> bool:
    """True for ENOSPC / EDQUOT."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file beside ``path``, fsync, then rename over it: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (numpy values allowed)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n").encode())


def _json_default(o: Any) -> Any:
    # numpy scalars/arrays show up in loop stats and extras.
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    return str(o)


def dumps(obj: Any) -> str:
    """JSON for metadata fields: tolerant of numpy values."""
    return json.dumps(obj, default=_json_default, separators=(",", ":"))


# --- manifest ------------------------------------------------------------------
def manifest_dict(spec: DatasetSpec) -> dict[str, Any]:
    """The teleforge.json contents for a new dataset of ``spec``."""
    d = spec.to_dict()
    out: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "created_at": now_iso(),
        "fps": spec.fps,
        "robot_embodiment": spec.robot_embodiment,
        "n_joints": spec.n_joints,
        "cameras": d["cameras"],  # a camera's ``depth`` (1.3) appears only when it records depth
    }
    # Format 1.1 / 1.3 fields, present only when they differ from the 1.0 defaults.
    out.update({k: d[k] for k in ("action_dim", "extra_state", "feature_names") if k in d})
    out["features"] = feature_schema(spec)
    out["sessions"] = SESSIONS + "/"
    return out


def read_manifest(root: Path) -> tuple[dict[str, Any], DatasetSpec]:
    """Load and check teleforge.json; typed errors say what the folder looks like and what to do."""
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        if not root.exists():
            what = "does not exist"
        elif not root.is_dir():
            what = "is a file, not a dataset folder"
        else:
            names = sorted(p.name for p in root.iterdir())[:6]
            what = "is empty" if not names else f"holds {', '.join(names)}{' …' if len(names) == 6 else ''} but no {MANIFEST}"
        raise DatasetNotFoundError(
            f"{root} is not a teleforge dataset: it {what}. Record into it with `teleforge collect --dataset {root}`, "
            f"or import other data with `teleforge import`."
        )
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict):
            raise ValueError("top level is not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} is not valid JSON ({exc}); restore it from a backup or recreate it with the same spec") from exc
    if "format_version" not in manifest:
        raise DatasetError(f"{path} has no format_version; it was not written by teleforge")
    check_version(manifest["format_version"], str(path))
    return manifest, DatasetSpec.from_dict(manifest)


def create_dataset(root: Path | str, spec: DatasetSpec) -> Path:
    """Create an empty dataset folder (refuses to overwrite an existing one)."""
    root = Path(root)
    if (root / MANIFEST).exists():
        raise DatasetError(f"{root} already holds a dataset; open it with Dataset.open or open_or_create")
    try:
        for sub in (EPISODES, SESSIONS, VIEWS):
            (root / sub).mkdir(parents=True, exist_ok=True)
        atomic_write_json(root / MANIFEST, manifest_dict(spec))
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full while creating {root}; free space and try again") from exc
        raise
    return root


def check_compatible(root: Path, have: DatasetSpec, want: DatasetSpec) -> None:
    """Appending to an existing dataset needs the same robot shape and cameras."""
    problems = []
    if have.n_joints != want.n_joints:
        problems.append(f"n_joints {have.n_joints} vs {want.n_joints}")
    if have.action_dim != want.action_dim:
        problems.append(f"action_dim {have.action_dim} vs {want.action_dim}")
    if have.extra_state != want.extra_state:
        problems.append(f"extra state features {have.extra_state} vs {want.extra_state}")
    if have.robot_embodiment != want.robot_embodiment:
        problems.append(f"robot {have.robot_embodiment!r} vs {want.robot_embodiment!r}")
    problems += _camera_differences(have, want)
    if abs(have.fps - want.fps) > 1e-9:
        problems.append(f"fps {have.fps} vs {want.fps}")
    if problems:
        raise DatasetError(
            f"{root} was recorded with a different setup ({'; '.join(problems)}); match the dataset's setup, "
            "or record into a new dataset folder"
        )


def _camera_differences(have: DatasetSpec, want: DatasetSpec) -> list[str]:
    """Each camera that differs, by name: missing, new, resized/re-encoded, or reordered."""
    h = {c.name: c for c in have.cameras}
    w = {c.name: c for c in want.cameras}
    out = [f"cameras: {n!r} is in the dataset but missing from this session" for n in h if n not in w]
    out += [f"cameras: {n!r} is new in this session" for n in w if n not in h]
    for n in h.keys() & w.keys():
        a, b = h[n], w[n]
        if (a.height, a.width, a.encoding) != (b.height, b.width, b.encoding):
            out.append(f"cameras: {n!r} is {a.height}x{a.width} {a.encoding} in the dataset, "
                       f"{b.height}x{b.width} {b.encoding} in this session")
        elif a.depth != b.depth:
            out.append(f"cameras: {n!r} {'records' if a.depth else 'has no'} depth in the dataset, "
                       f"{'records' if b.depth else 'has no'} depth in this session (--depth)")
    if not out and have.camera_names != want.camera_names:
        out.append(f"cameras: order {have.camera_names} in the dataset vs {want.camera_names} in this session")
    return out


# --- episode ids -----------------------------------------------------------------
def existing_ids(root: Path) -> list[int]:
    """Every episode id with a file in episodes/ or episodes/corrupt/, sorted."""
    ids: set[int] = set()
    for d in (root / EPISODES, root / EPISODES / CORRUPT):
        if d.is_dir():
            for p in d.iterdir():
                parsed = parse_shard_name(p.name.split(".corrupt")[0])
                if parsed:
                    ids.add(parsed[0])
    return sorted(ids)


def allocate_episode_id(root: Path) -> int:
    """Next episode id: monotonic, never reused (a counter file survives discards and crashes)."""
    ep_dir = root / EPISODES
    ep_dir.mkdir(parents=True, exist_ok=True)
    with open(ep_dir / _LOCK, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            counter = ep_dir / _NEXT_ID
            nxt = 0
            if counter.is_file():
                try:
                    nxt = int(counter.read_text().strip() or 0)
                except ValueError:
                    nxt = 0  # rebuilt from the shards below
            ids = existing_ids(root)
            if ids:
                nxt = max(nxt, ids[-1] + 1)
            atomic_write_bytes(counter, f"{nxt + 1}\n".encode())
            return nxt
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- sessions --------------------------------------------------------------------
@dataclass
class SessionRecord:
    """One collection session: who collected, on what, and their notes."""

    session_id: str
    operator_id: str = ""
    device: str = ""
    task: str = ""
    robot_embodiment: str = ""
    started_at: str = field(default_factory=now_iso)
    notes: str = ""
    extras: dict[str, Any] = field(default_factory=dict)


def _session_path(root: Path, session_id: str) -> Path:
    if not session_id or "/" in session_id or session_id.startswith("."):
        raise DatasetError(f"invalid session id {session_id!r}: use letters, digits, '-' or '_'")
    return Path(root) / SESSIONS / f"{session_id}.json"


def write_session(root: Path | str, record: SessionRecord) -> Path:
    """Create or update ``sessions/<id>.json`` (atomic)."""
    path = _session_path(Path(root), record.session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, asdict(record))
    return path


def ensure_session(root: Path, record: SessionRecord) -> None:
    """Write the session record unless one exists (keeps an operator's notes)."""
    if not _session_path(root, record.session_id).exists():
        write_session(root, record)


def read_sessions(root: Path | str) -> list[SessionRecord]:
    """Every ``sessions/<id>.json`` record, sorted by file name."""
    out = []
    d = Path(root) / SESSIONS
    if d.is_dir():
        for p in sorted(d.glob("*.json")):
            try:
                data = json.loads(p.read_text())
                known = {k: v for k, v in data.items() if k in SessionRecord.__dataclass_fields__}
                out.append(SessionRecord(**known))
            except (ValueError, TypeError) as exc:
                raise DatasetError(f"{p} is not a valid session record ({exc}); fix or remove it") from exc
    return out
