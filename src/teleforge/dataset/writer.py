"""EpisodeWriter: one crash-safe Arrow IPC stream per episode.

Rows are buffered a few at a time and written as small record batches; the file
is fsync'd at least every ``flush_interval_s``, so a SIGKILL or power cut loses
at most that much. Finalizing appends an end batch (EpisodeEnd in its custom
metadata, so the shard describes itself), closes, fsyncs, renames
``.arrow.partial`` -> ``.arrow`` and updates the catalog atomically. It never
re-reads the shard, so it costs the same whatever the episode length.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable

import pyarrow as pa

from teleforge.dataset.catalog import catalog_row, upsert_rows
from teleforge.dataset.images import encode_depth, encode_image
from teleforge.dataset.layout import (
    EPISODES,
    allocate_episode_id,
    dumps,
    fsync_dir,
    is_disk_full,
    now_iso,
    shard_name,
)
from teleforge.dataset.lock import WriterLock, try_lock_file
from teleforge.dataset.records import EpisodeEnd, EpisodeStart, StepRecord
from teleforge.dataset.schema import (
    FORMAT_VERSION,
    META_END,
    META_START,
    BatchBuilder,
    DatasetSpec,
    depth_column,
    step_schema,
)
from teleforge.errors import DatasetError, DiskFullError, RecorderError

OUTCOMES = ("success", "failure", "unknown")
CHECKSUM_ALGO = "crc32"  # of each record batch's IPC body (RecordBatch.serialize()), custom metadata excluded


def batch_checksum(batch: pa.RecordBatch) -> int:
    """CRC32 of a record batch's serialized IPC message (what the shard stores, byte for byte)."""
    return zlib.crc32(batch.serialize())

FileFactory = Callable[[Path], BinaryIO]


def _default_file(path: Path) -> BinaryIO:
    # Unbuffered: every record batch goes straight to the OS, so a killed process
    # leaves it in the page cache (and on disk after the next fsync).
    f = open(path, "xb", buffering=0)
    # Locked for as long as it is written: `teleforge recover` leaves a locked .partial alone.
    try_lock_file(f)
    return f


@dataclass
class EpisodeSummary:
    """What finishing an episode produced."""

    episode_id: int
    file: Path
    outcome: str
    num_steps: int
    duration_s: float
    bytes: int
    finalize_s: float  # wall time of the finalize itself (close, fsync, rename, catalog)


def start_metadata(episode_id: int, start: EpisodeStart, start_ns: int) -> dict[str, Any]:
    """The shard header: the EpisodeStart plus id, start time (ns) and format version."""
    d = asdict(start)
    d.update(episode_id=episode_id, start_ns=start_ns, started_at=now_iso(), format_version=FORMAT_VERSION)
    return d


class EpisodeWriter:
    """Writes one episode shard. Not thread-safe: one thread owns it (the recorder's writer thread).

    While it writes it holds a writer lock on the dataset (``writer_lock``, or its own,
    released when the episode is finalized, discarded or abandoned), and the shard header
    names that lock, so ``teleforge recover`` never touches a shard still being written.
    Every record batch's CRC32 goes into the end record (``checksums``) for ``teleforge verify``.
    """

    def __init__(
        self,
        root: Path | str,
        spec: DatasetSpec,
        start: EpisodeStart,
        *,
        episode_id: int | None = None,
        flush_interval_s: float = 0.5,
        batch_rows: int = 16,
        file_factory: FileFactory | None = None,
        writer_lock: WriterLock | None = None,
    ) -> None:
        if not start.instruction.strip():
            raise DatasetError("every episode needs a non-empty instruction (EpisodeStart.instruction)")
        if not start.robot_embodiment:
            raise DatasetError("every episode needs a robot_embodiment (EpisodeStart.robot_embodiment)")
        self.root = Path(root)
        self.spec = spec
        self.flush_interval_s = float(flush_interval_s)
        self.batch_rows = max(1, int(batch_rows))
        self.episode_id = allocate_episode_id(self.root) if episode_id is None else int(episode_id)
        self.partial_path = self.root / EPISODES / shard_name(self.episode_id, partial=True)
        self.final_path = self.root / EPISODES / shard_name(self.episode_id)
        self.start = start
        self._own_lock = writer_lock is None
        try:
            self._lock: WriterLock | None = writer_lock or WriterLock(self.root)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(f"disk full: cannot start an episode in {self.root}; free some space and record again") from exc
            raise
        self.start_meta = start_metadata(self.episode_id, start, time.monotonic_ns())
        self.start_meta["writer"] = self._lock.writer_id
        self._checksums: list[int] = []
        self.schema = step_schema(spec, {META_START: dumps(self.start_meta).encode()})
        self._builder = BatchBuilder(spec, self.schema)
        self.steps_appended = 0
        self.steps_on_disk = 0  # rows in batches that were written and fsync'd
        self._first_tick: int | None = None
        self._last_tick: int | None = None
        self._frames = {c.name: 0 for c in spec.cameras}
        self._image_bytes = {c.name: 0 for c in spec.cameras}
        self._depth_cols = {depth_column(c.name): c.name for c in spec.cameras if c.depth}
        self._depth_frames = {c.name: 0 for c in spec.cameras if c.depth}
        self._success_steps = 0
        self._failed: Exception | None = None  # once set, nothing more is written (no garbage after a tear)
        self._closed = False
        self._last_sync = time.monotonic()
        self._good_offset = 0
        self._file: BinaryIO | None = None
        self._stream: pa.ipc.RecordBatchStreamWriter | None = None
        try:
            self._file = (file_factory or _default_file)(self.partial_path)
            self._stream = pa.ipc.new_stream(self._file, self.schema)
            self._sync()
        except OSError as exc:
            self._release_lock()
            self._on_os_error(exc, "creating the shard")
        except BaseException:
            self._release_lock()
            raise

    # --- writing -------------------------------------------------------------
    @property
    def path(self) -> Path:
        """Where the shard is now: the final name once finalized, else the ``.partial``."""
        return self.final_path if self._closed and self.final_path.exists() else self.partial_path

    def append(self, rec: StepRecord, encoded: dict[str, bytes] | None = None) -> None:
        """Buffer one step (``encoded``: camera -> image bytes, ``depth_column(camera)`` -> depth bytes;
        encoded here if None)."""
        self._check_writable()
        if encoded is None:
            encoded = {c.name: encode_image(rec.images[c.name], c) for c in self.spec.cameras if c.name in rec.images}
            encoded.update({depth_column(c.name): encode_depth(rec.depth[c.name], c)
                            for c in self.spec.cameras if c.depth and c.name in rec.depth})
        self._builder.add(rec, encoded)
        self.steps_appended += 1
        if self._first_tick is None:
            self._first_tick = int(rec.tick_ns)
        self._last_tick = int(rec.tick_ns)
        for name, data in encoded.items():
            if data is not None and name in self._frames:
                self._frames[name] += 1
                self._image_bytes[name] += len(data)
            elif data is not None and name in self._depth_cols:
                self._depth_frames[self._depth_cols[name]] += 1
        self._success_steps += bool(rec.success)
        if len(self._builder) >= self.batch_rows:
            self._write_pending()
        self.maybe_flush()

    def maybe_flush(self) -> None:
        """fsync if the flush interval has passed (call when idle, too)."""
        if self._failed is None and not self._closed and time.monotonic() - self._last_sync >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Write buffered steps as a record batch and fsync: they now survive a crash."""
        self._check_writable()
        self._write_pending()
        try:
            self._sync()
        except OSError as exc:
            self._on_os_error(exc, "flushing")

    def _write_pending(self, metadata: dict[bytes, bytes] | None = None) -> None:
        if not len(self._builder) and metadata is None:
            return
        batch = self._builder.build()
        crc = batch_checksum(batch)
        if metadata is not None and META_END in metadata:
            # The end batch carries every checksum, its own included (custom metadata is not checksummed).
            end = json.loads(metadata[META_END])
            end["checksums"] = {"algo": CHECKSUM_ALGO, "batches": [*self._checksums, crc]}
            self._end_meta = end
            metadata = {**metadata, META_END: dumps(end).encode()}
        try:
            assert self._stream is not None
            if metadata is None:
                self._stream.write_batch(batch)
            else:
                self._stream.write_batch(batch, custom_metadata=metadata)
        except OSError as exc:
            self._on_os_error(exc, "writing steps")
        self._checksums.append(crc)
        self._builder.clear()

    def _sync(self) -> None:
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self.steps_on_disk = self.steps_appended - len(self._builder)
        self._good_offset = self._file.tell()
        self._last_sync = time.monotonic()

    def _check_writable(self) -> None:
        if self._failed is not None:
            raise self._failed
        if self._closed:
            raise RecorderError(f"episode {self.episode_id} is already finalized or discarded")

    def _on_os_error(self, exc: OSError, doing: str) -> None:
        # Cut a half-written batch off so the shard stays a clean readable prefix.
        try:
            if self._file is not None:
                os.ftruncate(self._file.fileno(), self._good_offset)
                os.fsync(self._file.fileno())
        except OSError:
            pass  # the reader and `recover` also cope with a torn tail
        if not is_disk_full(exc):
            self._failed = exc
            raise exc
        self._failed = DiskFullError(
            f"disk full while {doing} episode {self.episode_id}: {self.steps_on_disk} steps are safely on disk in "
            f"{self.partial_path}. Free some space, then run `teleforge recover {self.root}` to keep them."
        )
        raise self._failed from exc

    # --- ending --------------------------------------------------------------
    def end_metadata(self, end: EpisodeEnd, recorder: dict[str, Any] | None = None) -> dict[str, Any]:
        """The end record: outcome, loop stats, labels, step and frame counts, duration (s)."""
        n = self.steps_appended
        duration = 0.0
        if n and self._first_tick is not None and self._last_tick is not None:
            duration = (self._last_tick - self._first_tick) / 1e9 + 1.0 / self.spec.fps
        loop = dict(end.loop_stats or {})
        if recorder:
            loop["recorder"] = {**(loop.get("recorder") or {}), **recorder}
        return {
            "outcome": end.outcome,
            "loop_stats": loop,
            "labels": end.labels or {},
            "num_steps": n,
            "first_tick_ns": self._first_tick,
            "last_tick_ns": self._last_tick,
            "duration_s": duration,
            "frames": dict(self._frames),
            "image_bytes": dict(self._image_bytes),
            **({"depth_frames": dict(self._depth_frames)} if self._depth_frames else {}),
            "success_steps": self._success_steps,
            "recorder": recorder or {},
            "recovered": False,
            "finished_at": now_iso(),
        }

    def finalize(self, end: EpisodeEnd, recorder: dict[str, Any] | None = None) -> EpisodeSummary:
        """Close the shard with its end record, rename it final, add it to the catalog."""
        if end.outcome not in OUTCOMES:
            raise DatasetError(f"outcome {end.outcome!r} is not one of {', '.join(OUTCOMES)}")
        self._check_writable()
        t0 = time.perf_counter()
        meta = self.end_metadata(end, recorder)
        self._write_pending(metadata={META_END: dumps(meta).encode()})
        meta = self._end_meta
        try:
            assert self._stream is not None and self._file is not None
            self._stream.close()
            self._sync()
            self._file.close()
        except OSError as exc:
            self._on_os_error(exc, "finalizing")
        self._closed = True
        os.rename(self.partial_path, self.final_path)
        fsync_dir(self.final_path.parent)
        self._release_lock()
        nbytes = self.final_path.stat().st_size
        try:
            upsert_rows(self.root, [catalog_row(self.start_meta, meta, f"{EPISODES}/{self.final_path.name}", nbytes)])
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(
                    f"episode {self.episode_id} is saved ({self.final_path}) but the disk is full, so catalog.parquet "
                    f"was not updated. Free some space, then run `teleforge recover {self.root}` to rebuild the catalog."
                ) from exc
            raise
        return EpisodeSummary(
            episode_id=self.episode_id,
            file=self.final_path,
            outcome=end.outcome,
            num_steps=self.steps_appended,
            duration_s=meta["duration_s"],
            bytes=nbytes,
            finalize_s=time.perf_counter() - t0,
        )

    def discard(self) -> None:
        """Delete the partial shard (the operator threw the episode away). Its id is not reused."""
        self._close_quietly()
        self._closed = True
        self.partial_path.unlink(missing_ok=True)
        self._release_lock()

    def abandon(self) -> None:
        """Flush what is buffered and close, leaving the ``.partial`` for ``teleforge recover``."""
        if self._closed:
            return
        if self._failed is None:
            try:
                self.flush()
            except DiskFullError:
                pass
        self._close_quietly()
        self._closed = True
        self._release_lock()

    def _release_lock(self) -> None:
        if self._own_lock and self._lock is not None:
            self._lock.release()

    def _close_quietly(self) -> None:
        # After a failed write, closing the stream would append its end marker
        # behind the cut; close only the file.
        closers = (self._file,) if self._failed is not None else (self._stream, self._file)
        for closer in closers:
            try:
                if closer is not None:
                    closer.close()
            except (OSError, pa.ArrowException):
                pass
