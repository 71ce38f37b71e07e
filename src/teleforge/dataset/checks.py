"""Validation of everything a reader takes from a file: the manifest's spec, catalog rows,
shard metadata and step columns. Each check raises a typed one-line error naming the file
and the field, so bad input never becomes a traceback or a silently wrong value.
"""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Any

import pyarrow as pa

from teleforge.dataset.catalog import CATALOG_SCHEMA
from teleforge.dataset.schema import DEPTH_PREFIX, IMAGE_PREFIX, META_SPEC, DatasetSpec
from teleforge.errors import CatalogError, CorruptShardError, DatasetError

OUTCOMES = ("success", "failure", "unknown")
"""Outcomes an episode can have (the writer refuses any other)."""

REQUIRED_CATALOG_COLUMNS = (
    "episode_id", "file", "task", "instruction", "robot_embodiment", "seed", "device", "operator_id",
    "session_id", "outcome", "num_steps", "duration_s", "start_ns", "recovered",
)
"""Catalog columns every reader needs (the others have defaults)."""

MAX_FPS = 10_000.0
MAX_JOINTS = 64
MAX_FRAME_SIDE = 16_384  # pixels; larger frames are a corrupt header, not a camera

def _whole(v: Any) -> bool:
    """An integer (numpy's too), not a bool or a string from a damaged manifest."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_spec(spec: DatasetSpec, where: str) -> DatasetSpec:
    """fps finite in (0, 10 kHz], 1..64 joints, frame sizes 1..16384 px, distinct camera names."""
    if not (_finite_number(spec.fps) and 0 < spec.fps <= MAX_FPS):
        raise DatasetError(f"{where}: fps {spec.fps!r} is not a rate in (0, {MAX_FPS:g}] Hz; restore teleforge.json from a backup")
    if not _whole(spec.n_joints) or not 1 <= spec.n_joints <= MAX_JOINTS:
        raise DatasetError(f"{where}: n_joints {spec.n_joints} is not in 1..{MAX_JOINTS}; restore teleforge.json from a backup")
    names = [c.name for c in spec.cameras]
    if len(set(names)) != len(names):
        raise DatasetError(f"{where}: camera names {names} repeat; restore teleforge.json from a backup")
    for c in spec.cameras:
        if not all(_whole(v) for v in (c.height, c.width)) \
                or not (1 <= c.height <= MAX_FRAME_SIDE and 1 <= c.width <= MAX_FRAME_SIDE):
            raise DatasetError(f"{where}: camera {c.name!r} declares {str(c.height)[:20]}x{str(c.width)[:20]} frames; restore teleforge.json from a backup")
    return spec


def check_manifest(manifest: dict[str, Any], spec: DatasetSpec, path: Path) -> None:
    """The spec is sane and the manifest's cameras agree with its feature table."""
    check_spec(spec, str(path))
    cams = manifest.get("cameras")
    if not isinstance(cams, list):
        raise DatasetError(f"{path}: 'cameras' is missing or not a list; restore teleforge.json from a backup")
    feats = manifest.get("features")
    if isinstance(feats, dict):
        image_feats = sorted(k[len(IMAGE_PREFIX):] for k, v in feats.items()
                             if k.startswith(IMAGE_PREFIX) and isinstance(v, dict) and v.get("dtype") == "image")
        if image_feats != sorted(spec.camera_names):
            raise DatasetError(f"{path}: 'cameras' lists {spec.camera_names} but 'features' has image columns "
                               f"{image_feats}; restore teleforge.json from a backup")


def check_shard_spec(schema: pa.Schema, spec: DatasetSpec, path: Path, hint: str) -> None:
    """A shard's own spec (schema metadata) and image columns must match the dataset's manifest."""
    md = schema.metadata or {}
    if META_SPEC in md:
        try:
            own = json.loads(md[META_SPEC])
            own_fps, own_joints = float(own["fps"]), int(own["n_joints"])
            own_cams = [(str(c["name"]), int(c["height"]), int(c["width"]), str(c.get("encoding", "jpeg")),
                         bool(c.get("depth", False))) for c in own.get("cameras", [])]
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptShardError(f"{path}: the shard's own spec is unreadable ({exc!r}); {hint}") from exc
        have = [(c.name, c.height, c.width, c.encoding, c.depth) for c in spec.cameras]
        diff = []
        if not math.isclose(own_fps, spec.fps):
            diff.append(f"fps {own_fps:g} vs {spec.fps!r}")
        if own_joints != spec.n_joints:
            diff.append(f"n_joints {own_joints} vs {spec.n_joints}")
        if own_cams != have:
            diff.append(f"cameras {[c[0] for c in own_cams]} vs {[c[0] for c in have]} (or their sizes, encodings, depth)")
        if diff:
            raise DatasetError(f"{path} was recorded with {'; '.join(diff)} in teleforge.json: the manifest was edited "
                               "or damaged; restore teleforge.json from a backup")
    image_cols = sorted(n[len(IMAGE_PREFIX):] for n in schema.names
                        if n.startswith(IMAGE_PREFIX) and pa.types.is_binary(schema.field(n).type))
    if image_cols != sorted(spec.camera_names):
        raise CorruptShardError(f"{path}: image columns {image_cols} do not match the dataset's cameras "
                                f"{spec.camera_names}; {hint}")
    depth_cols = sorted(n[len(DEPTH_PREFIX):] for n in schema.names
                        if n.startswith(DEPTH_PREFIX) and pa.types.is_binary(schema.field(n).type))
    want = sorted(c.name for c in spec.cameras if c.depth)
    if depth_cols != want:
        raise CorruptShardError(f"{path}: depth columns {depth_cols} do not match the dataset's depth cameras {want}; {hint}")


def check_episode_meta(start: dict[str, Any], end: dict[str, Any], path: Path, hint: str) -> None:
    """Start and end records: a non-negative integer episode id, an outcome from the enum,
    a non-negative step count, a finite duration, JSON objects where objects belong."""
    eid = start.get("episode_id")
    if not isinstance(eid, int) or isinstance(eid, bool) or eid < 0:
        raise CorruptShardError(f"{path}: episode_id {eid!r} in the start record is not a non-negative integer; {hint}")
    seed = start.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise CorruptShardError(f"{path}: seed {seed!r} in the start record is not an integer; {hint}")
    for key in ("extras",):
        if start.get(key) is not None and not isinstance(start[key], dict):
            raise CorruptShardError(f"{path}: start record field {key!r} is not an object; {hint}")
    outcome = end.get("outcome", "unknown")
    if outcome not in OUTCOMES:
        raise CorruptShardError(f"{path}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}; {hint}")
    n = end.get("num_steps", 0)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise CorruptShardError(f"{path}: num_steps {n!r} in the end record is not a non-negative integer; {hint}")
    d = end.get("duration_s", 0.0)
    if not _finite_number(d) or d < 0:
        raise CorruptShardError(f"{path}: duration_s {d!r} in the end record is not a finite, non-negative number; {hint}")
    for key in ("loop_stats", "labels", "recorder"):
        if end.get(key) is not None and not isinstance(end[key], dict):
            raise CorruptShardError(f"{path}: end record field {key!r} is not an object; {hint}")
    for key in ("first_tick_ns",):
        if end.get(key) is not None and (not isinstance(end[key], int) or isinstance(end[key], bool)):
            raise CorruptShardError(f"{path}: end record field {key!r} is not an integer; {hint}")


def check_columns(table: pa.Table, path: Path, hint: str) -> None:
    """Arrow buffers consistent with their offsets and lengths (a damaged stream can still parse).

    Non-finite step values are not refused here: a recording can hold them (a sim glitch),
    and curation's metrics flag such episodes."""
    try:
        table.validate(full=True)
    except (pa.ArrowException, ValueError) as exc:
        raise CorruptShardError(f"{path}: the step data is damaged ({exc}); {hint}") from exc


def check_catalog(table: pa.Table, root: Path) -> pa.Table:
    """Catalog columns typed as written, values in range, ``file`` a shard inside ``episodes/``."""
    path = Path(root) / "catalog.parquet"
    hint = f"rebuild it from the shards with `teleforge recover {root}`"
    if not table.num_rows:
        return table
    for f in CATALOG_SCHEMA:
        if f.name not in table.column_names:
            if f.name in REQUIRED_CATALOG_COLUMNS:
                raise CatalogError(f"{path}: column {f.name!r} is missing; {hint}")
            continue  # written by a later teleforge 1.x; EpisodeInfo has a default
        t = table.schema.field(f.name).type
        if t != f.type and not pa.types.is_null(t):
            raise CatalogError(f"{path}: column {f.name!r} has type {t}, expected {f.type}; {hint}")
    ids = table.column("episode_id").to_pylist()
    if any(i is None or i < 0 for i in ids) or len(set(ids)) != len(ids):
        raise CatalogError(f"{path}: episode ids {ids[:10]} are not distinct non-negative integers; {hint}")
    for i, outcome in zip(ids, table.column("outcome").to_pylist()):
        if outcome not in OUTCOMES:
            raise CatalogError(f"{path}: episode {i} has outcome {outcome!r}, not one of {', '.join(OUTCOMES)}; {hint}")
    for i, n, d in zip(ids, table.column("num_steps").to_pylist(), table.column("duration_s").to_pylist()):
        if n is None or n < 0 or d is None or not math.isfinite(d) or d < 0:
            raise CatalogError(f"{path}: episode {i} has num_steps {n!r}, duration_s {d!r}; {hint}")
    for i, f in zip(ids, table.column("file").to_pylist()):
        p = Path(f or "")
        if p.is_absolute() or len(p.parts) != 2 or p.parts[0] != "episodes" or p.name in ("", ".", ".."):
            raise CatalogError(f"{path}: episode {i} names file {f!r}, not a shard under episodes/ (field 'file'); {hint}")
    return table
