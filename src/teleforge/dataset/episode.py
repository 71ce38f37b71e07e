"""One episode: its metadata (:class:`EpisodeInfo`, a catalog row or the shard's own record) and
its shard (:class:`Episode`), memory-mapped, checked on first read, images decoded only when asked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from teleforge.dataset.catalog import catalog_row, json_field
from teleforge.dataset.checks import check_columns, check_episode_meta, check_shard_spec
from teleforge.dataset.columns import list_values, to_numpy
from teleforge.dataset.images import decode_depth, decode_image
from teleforge.dataset.layout import EPISODES
from teleforge.dataset.schema import DEPTH_PREFIX, IMAGE_PREFIX, DatasetSpec, depth_column, image_column
from teleforge.dataset.shard import open_shard
from teleforge.errors import CorruptShardError, DatasetError, EpisodeNotFoundError
from teleforge.spec import NATIVE_COLUMN_NAMES, OPTIONAL_COLUMNS


@dataclass
class EpisodeInfo:
    """One catalog row (or a shard's own metadata), with JSON fields parsed."""

    episode_id: int
    file: str
    task: str
    instruction: str
    robot_embodiment: str
    seed: int | None
    device: str
    operator_id: str
    session_id: str
    outcome: str
    num_steps: int
    duration_s: float
    start_ns: int
    recovered: bool
    period_p50_ms: float | None = None
    period_p99_ms: float | None = None
    missed_deadlines: int = 0
    frame_age_p99_ms: dict[str, float] = field(default_factory=dict)
    recorder_behind_steps: int = 0
    queue_high_water: int = 0
    loop_stats: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    bytes: int = 0
    checksum: str | None = None  # the shard's folded batch checksums (None: written before checksums)
    metrics: dict[str, Any] = field(default_factory=dict)  # extra catalog columns (curation)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EpisodeInfo:
        """Build from a catalog row; JSON fields parsed, unknown columns kept in ``metrics``."""
        known = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in row.items() if k in known and k != "metrics"}
        for k in ("frame_age_p99_ms", "loop_stats", "labels", "extras"):
            v = kw.get(k)
            v = json_field(v) if isinstance(v, str) or v is None else v
            kw[k] = v if isinstance(v, dict) else {}  # a retyped or damaged catalog column reads as unknown
        kw["frame_age_p99_ms"] = {str(c): float(a) for c, a in kw["frame_age_p99_ms"].items()
                                  if isinstance(a, (int, float)) and not isinstance(a, bool)}
        kw.pop("frame_age_p99_ms_max", None)
        metrics = {k: v for k, v in row.items() if k not in known and k != "frame_age_p99_ms_max"}
        return cls(**kw, metrics=metrics)


def _with_optional_columns(table: pa.Table) -> pa.Table:
    """Shards written before a native column existed read it as its default (format 1.2:
    ``control.intervention`` = False, i.e. operator/unknown), in the current column order."""
    for name, default in OPTIONAL_COLUMNS.items():
        if name in table.column_names:
            continue
        before = NATIVE_COLUMN_NAMES[: NATIVE_COLUMN_NAMES.index(name)]
        idx = max((table.column_names.index(c) for c in before if c in table.column_names), default=1) + 1
        table = table.add_column(idx, pa.field(name, pa.bool_(), nullable=False), pa.array([default] * table.num_rows, pa.bool_()))
    return table


class Episode:
    """One episode shard. The shard is memory-mapped; images decode only when asked."""

    def __init__(
        self, path: Path, spec: DatasetSpec, episode_id: int, expected_steps: int | None = None, verify: bool = False
    ) -> None:
        self.path = Path(path)
        self.spec = spec
        self.episode_id = episode_id
        self._expected_steps = expected_steps  # the catalog's count, checked against the shard
        self.verify = verify  # check the shard's batch checksums on first read
        self._table: pa.Table | None = None
        self._meta: EpisodeInfo | None = None

    def _load(self) -> pa.Table:
        if self._table is None:
            hint = f"run `teleforge recover {self.path.parent.parent}` to rebuild the catalog and set damaged shards aside"
            if not self.path.is_file():
                raise CorruptShardError(f"{self.path}: the shard of episode {self.episode_id} is missing; {hint}")
            if self.verify:
                from teleforge.dataset.verify import first_problem  # verify builds on views, which read the catalog

                problem = first_problem(self.path)
                if problem is not None:
                    raise CorruptShardError(f"{self.path.parent}/{problem}; run `teleforge verify {self.path.parent.parent}`")
            table, start, end = open_shard(self.path)
            # Every field read from the file is checked before anyone uses it.
            check_shard_spec(table.schema, self.spec, self.path, hint)
            check_episode_meta(start, end, self.path, hint)
            check_columns(table, self.path, hint)
            table = _with_optional_columns(table)
            if start["episode_id"] != self.episode_id:
                raise CorruptShardError(f"{self.path}: holds episode {start['episode_id']}, the catalog says {self.episode_id}; {hint}")
            if end and end.get("num_steps") != table.num_rows:  # a finalized shard states its length
                raise CorruptShardError(f"{self.path}: holds {table.num_rows} steps, its end record says "
                                        f"{end.get('num_steps')!r}; {hint}")
            if self._expected_steps is not None and self._expected_steps != table.num_rows:
                raise CorruptShardError(f"{self.path}: holds {table.num_rows} steps, the catalog says {self._expected_steps}; {hint}")
            try:
                row = catalog_row(start, end, f"{EPISODES}/{self.path.name}", self.path.stat().st_size)
                self._meta = EpisodeInfo.from_row(row)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                raise CorruptShardError(f"{self.path}: malformed episode metadata ({exc!r}); {hint}") from exc
            self._table = table
        return self._table

    @property
    def table(self) -> pa.Table:
        """The raw Arrow table, one row per step (image columns hold encoded bytes)."""
        return self._load()

    @property
    def meta(self) -> EpisodeInfo:
        """Metadata from the shard itself (the source of truth; the catalog mirrors it)."""
        self._load()
        assert self._meta is not None
        return self._meta

    @property
    def num_steps(self) -> int:
        """Number of control steps (rows) in the shard."""
        return int(self._load().num_rows)

    def __len__(self) -> int:
        return self.num_steps

    @property
    def columns(self) -> list[str]:
        """Column names of the shard, in schema order."""
        names: list[str] = self._load().column_names
        return names

    def column(self, name: str) -> np.ndarray:
        """A column as numpy: (T,) for scalars, (T, k) for vectors, object array of bytes for images."""
        table = self._load()
        if name not in table.column_names:
            raise DatasetError(f"episode {self.episode_id} has no column {name!r}; columns: {', '.join(table.column_names)}")
        col = table.column(name).combine_chunks() if table.num_rows else table.column(name)
        t = table.schema.field(name).type
        if pa.types.is_fixed_size_list(t):
            if not table.num_rows:
                return np.zeros((0, t.list_size), np.float32)
            return list_values(col)
        if pa.types.is_binary(t):
            return np.array(col.to_pylist(), dtype=object)
        if col.null_count:
            return np.array(col.to_pylist(), dtype=object)
        return to_numpy(col)

    def image_bytes(self, cam: str, step: int) -> bytes | None:
        """Encoded (JPEG/PNG/raw) bytes of one camera frame; None if the camera had no frame yet."""
        self.spec.camera(cam)
        self._check_step(step)
        data: bytes | None = self._load().column(image_column(cam))[step].as_py()
        return data

    def image(self, cam: str, step: int) -> np.ndarray | None:
        """Decoded (H, W, 3) uint8 RGB frame of one step; None if the camera had no frame yet."""
        data = self.image_bytes(cam, step)
        return None if data is None else self._decode(data, cam, step)

    def images(self, cam: str) -> Iterator[np.ndarray]:
        """Decode a camera's frames one at a time (steps without a frame are skipped)."""
        self.spec.camera(cam)
        step = 0
        for chunk in self._load().column(image_column(cam)).chunks:
            for v in chunk:
                data = v.as_py()
                if data is not None:
                    yield self._decode(data, cam, step)
                step += 1

    def depth(self, cam: str, step: int) -> np.ndarray | None:
        """(H, W) uint16 depth (mm, 0 = no reading) of one step, exactly as recorded; None when the
        camera had no depth frame that step (missing) or records no depth."""
        self._check_depth(cam)
        self._check_step(step)
        data: bytes | None = self._load().column(depth_column(cam))[step].as_py()
        return None if data is None else self._decode_depth(data, cam, step)

    def depth_missing(self, cam: str) -> list[int]:
        """Steps recorded without a depth frame from ``cam`` (stalled, unplugged, or not yet delivered)."""
        self._check_depth(cam)
        col = self._load().column(depth_column(cam))
        return [i for i, v in enumerate(col.is_null().to_pylist()) if v]

    def _check_depth(self, cam: str) -> None:
        if not self.spec.camera(cam).depth:
            with_depth = [c.name for c in self.spec.cameras if c.depth]
            raise DatasetError(f"camera {cam!r} records no depth in this dataset; depth cameras: {', '.join(with_depth) or 'none'}")

    def _decode_depth(self, data: bytes, cam: str, step: int) -> np.ndarray:
        try:
            return decode_depth(data, self.spec.camera(cam))
        except DatasetError as exc:
            raise CorruptShardError(
                f"{self.path}: episode {self.episode_id}, step {step}, camera {cam!r}: {exc}; the depth frame is damaged"
            ) from exc

    def _decode(self, data: bytes, cam: str, step: int) -> np.ndarray:
        """One frame, or CorruptShardError naming the shard, episode, step and camera."""
        try:
            return decode_image(data, self.spec.camera(cam))
        except DatasetError as exc:
            raise CorruptShardError(
                f"{self.path}: episode {self.episode_id}, step {step}, camera {cam!r}: {exc}; the frame is damaged"
            ) from exc

    def step(self, i: int, decode_images: bool = True) -> dict[str, Any]:
        """Step ``i`` as a dict keyed by column name (vectors as float32 arrays)."""
        self._check_step(i)
        row = self._load().slice(i, 1).to_pylist()[0]
        return self._convert_row(row, decode_images, i)

    def steps(self, decode_images: bool = True) -> Iterator[dict[str, Any]]:
        """Every step as a dict keyed by column name (vectors as float32 arrays, images decoded)."""
        i = 0
        for batch in self._load().to_batches():
            for row in batch.to_pylist():
                yield self._convert_row(row, decode_images, i)
                i += 1

    def _convert_row(self, row: dict[str, Any], decode_images: bool, step: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in row.items():
            if isinstance(v, list):
                out[k] = np.asarray(v, dtype=np.float32)
            elif decode_images and k.startswith(IMAGE_PREFIX) and isinstance(v, bytes):
                out[k] = self._decode(v, k[len(IMAGE_PREFIX):], step)
            elif decode_images and k.startswith(DEPTH_PREFIX) and isinstance(v, bytes):
                out[k] = self._decode_depth(v, k[len(DEPTH_PREFIX):], step)
            else:
                out[k] = v
        return out

    def _check_step(self, i: int) -> None:
        n = self.num_steps
        if not 0 <= i < n:
            raise EpisodeNotFoundError(f"episode {self.episode_id} has steps 0..{n - 1}; step {i} does not exist")

    def __repr__(self) -> str:
        return f"Episode({self.episode_id}, {self.path.name})"
