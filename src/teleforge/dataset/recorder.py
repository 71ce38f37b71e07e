"""AsyncRecorder: the pipeline between the control loop and the disk.

One file because the queue, the encoder threads and the writer thread share one sequence order and error state.

    control thread ──submit()──► queue ──► encoder threads (JPEG/PNG, GIL released)
                                               │  (reordered by sequence number)
                                               ▼
                                         writer thread ──► EpisodeWriter ──► shard

``submit`` only counts and enqueues: no I/O, no encoding, no lock shared with
the disk side, so the control loop never waits on them.

Falling behind: the queue has a nominal capacity (``queue_capacity`` steps,
default 2 s of data). Beyond it, steps keep queueing -- a step is never dropped --
but each one is counted as an ``overflow_step``, ``status().behind`` turns true,
and the counts and queue high-water marks go into the episode's metadata.
Only if the backlog reaches ``max_backlog`` (default 30 s of data, to bound
memory) does ``submit`` raise RecorderError, loudly rather than silently.

Errors on the disk side (DiskFullError, ...) are kept and raised by the next
``submit`` / ``finish`` / ``start_episode``; ``status().last_error`` shows them too.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa

from teleforge._threads import make_background_thread
from teleforge.dataset.images import encode_depth, encode_image
from teleforge.dataset.layout import SessionRecord, ensure_session, is_disk_full
from teleforge.dataset.reader import Dataset
from teleforge.dataset.records import EpisodeEnd, EpisodeStart, StepRecord
from teleforge.dataset.schema import BatchBuilder, DatasetSpec, depth_column, step_schema
from teleforge.dataset.writer import EpisodeSummary, EpisodeWriter
from teleforge.errors import DiskFullError, RecorderError, TeleforgeError

WriterFactory = Callable[[Path, DatasetSpec, EpisodeStart], EpisodeWriter]


@dataclass
class RecorderStatus:
    """A snapshot of the pipeline, cheap enough to take every control tick."""

    recording: bool
    episode_id: int | None  # None until the writer thread has opened the shard
    queue_depth: int  # steps submitted but not yet handed to the shard
    queue_capacity: int
    queue_high_water: int  # this episode
    encoded_high_water: int  # most encoded steps waiting for the writer, this episode
    behind: bool  # queue_depth is above capacity right now
    overflow_steps: int  # this episode: steps submitted while above capacity (kept, not dropped)
    steps_submitted: int  # this episode
    steps_written: int  # this episode, fsync'd to the shard
    frames_encoded: int  # since the recorder started
    frames_reused: int  # since the recorder started: steps that repeated a camera's previous frame (not re-encoded)
    encode_fps: float  # frames per second of encoder busy time
    last_error: str | None = None


@dataclass
class _Item:
    seq: int
    kind: str  # "start" | "step" | "finish" | "discard" | "abandon" | "stop"
    payload: Any = None
    future: Future[Any] | None = None
    encoded: dict[str, bytes] | None = None
    reuse: frozenset[str] = frozenset()  # cameras whose frame is the previous step's: take its bytes, do not encode


class AsyncRecorder:
    """Records episodes from a control loop without ever blocking it."""

    def __init__(
        self,
        dataset: Any,
        *,
        encoder_threads: int | None = None,
        queue_capacity: int | None = None,
        max_backlog: int | None = None,
        flush_interval_s: float = 0.5,
        writer_factory: WriterFactory | None = None,
    ) -> None:
        # A Dataset (has .root and .spec) or a folder path (PurePath.root is "/", so test the type).
        is_path = isinstance(dataset, (str, os.PathLike))
        self.root = Path(dataset) if is_path else Path(dataset.root)
        spec = None if is_path else getattr(dataset, "spec", None)
        if spec is None:
            spec = Dataset.open(self.root).spec
        self.spec: DatasetSpec = spec
        fps = max(1.0, float(self.spec.fps))
        self.queue_capacity = int(queue_capacity or max(8, round(2 * fps)))
        self.max_backlog = int(max_backlog or max(self.queue_capacity * 4, round(30 * fps)))
        self.flush_interval_s = flush_interval_s
        self._writer_factory = writer_factory or (
            lambda root, spec, start: EpisodeWriter(root, spec, start, flush_interval_s=self.flush_interval_s)
        )
        self._cams = {c.name: c for c in self.spec.cameras}
        n_workers = encoder_threads or min(2, os.cpu_count() or 1)

        self._seq = itertools.count()
        self._in: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._ready: dict[int, _Item] = {}
        self._cv = threading.Condition()
        # Counters written by one thread each; ints are read atomically under the GIL.
        self._recording = False
        self._submitted = 0  # control thread
        self._consumed = 0  # writer thread
        self._hw = 0
        self._encoded_hw = 0
        self._overflow = 0
        self._frames_encoded = 0
        self._frames_reused = 0  # writer thread
        self._encode_ns = 0
        # A camera slower than the control loop hands the same frame to several steps: the
        # control thread notes (frame seq, array) per camera, the writer thread the bytes.
        self._last_frame: dict[str, tuple[int | None, Any]] = {}  # control thread
        self._last_encoded: dict[str, bytes] = {}  # writer thread
        self._lost_after_error = 0
        self._writer: EpisodeWriter | None = None
        self._error: BaseException | None = None  # pending, not yet raised to the caller
        self._last_error: str | None = None
        self._closed = False

        self._workers = [
            threading.Thread(target=self._encode_loop, name=f"teleforge-encode-{i}", daemon=True) for i in range(n_workers)
        ]
        self._writer_thread = threading.Thread(target=self._write_loop, name="teleforge-writer", daemon=True)
        for t in self._workers:
            t.start()
        self._writer_thread.start()

    # --- control-thread API --------------------------------------------------------
    def start_episode(self, start: EpisodeStart) -> None:
        """Begin an episode; the shard is opened by the writer thread (no disk I/O here)."""
        self._check_open()
        if self._recording:
            raise RecorderError("an episode is already recording: finish() or discard() it before starting another")
        self._raise_pending()
        self._submitted = self._consumed = 0
        self._hw = self._encoded_hw = self._overflow = self._lost_after_error = 0
        self._last_error = None
        self._last_frame = {}  # an episode's first step always encodes its frames
        self._recording = True
        self._put("start", start)

    def submit(self, rec: StepRecord) -> None:
        """Queue one step. Never blocks and never does I/O; raises a pending disk-side error.

        The record (and its image arrays) must not be modified after submitting.
        """
        if self._error is not None:
            self._raise_pending()
        if not self._recording:
            raise RecorderError("submit() before start_episode(): start an episode first")
        depth = self._submitted - self._consumed
        if depth >= self.max_backlog:
            raise RecorderError(
                f"the recorder is {depth} steps behind (disk or encoder too slow); stop recording, "
                "lower the control rate, image size or camera count, or record to a faster disk"
            )
        if depth >= self.queue_capacity:
            self._overflow += 1
        self._submitted += 1
        if depth + 1 > self._hw:
            self._hw = depth + 1
        self._in.put(_Item(next(self._seq), "step", rec, reuse=self._repeats(rec)))

    def _repeats(self, rec: StepRecord) -> frozenset[str]:
        """Cameras whose frame this step is the one the previous step carried (same frame seq,
        or the very same array): their encoded bytes are reused, the pixels are not encoded again."""
        same = []
        last = self._last_frame
        for name, img in rec.images.items():
            seq = rec.image_seq.get(name)
            prev = last.get(name)
            if prev is not None and ((seq is not None and seq == prev[0]) or img is prev[1]):
                same.append(name)
            last[name] = (seq, img)
        return frozenset(same)

    def finish(self, end: EpisodeEnd) -> EpisodeSummary:
        """Wait for every queued step to reach the shard, then finalize it."""
        self._check_recording("finish")
        fut = self._put("finish", end)
        self._recording = False
        summary: EpisodeSummary = self._wait(fut)
        return summary

    def discard(self) -> None:
        """Throw the current episode away (its partial shard is deleted; the id is not reused)."""
        self._check_open()
        if not self._recording:
            return
        fut = self._put("discard")
        self._recording = False
        try:
            self._wait(fut)
        finally:
            self._error = None

    def status(self) -> RecorderStatus:
        """A snapshot of the pipeline (cheap: no locks, no I/O)."""
        depth = max(0, self._submitted - self._consumed)
        w = self._writer
        return RecorderStatus(
            recording=self._recording,
            episode_id=w.episode_id if w is not None else None,
            queue_depth=depth,
            queue_capacity=self.queue_capacity,
            queue_high_water=self._hw,
            encoded_high_water=self._encoded_hw,
            behind=depth > self.queue_capacity,
            overflow_steps=self._overflow,
            steps_submitted=self._submitted,
            steps_written=w.steps_on_disk if w is not None else 0,
            frames_encoded=self._frames_encoded,
            frames_reused=self._frames_reused,
            encode_fps=self._frames_encoded / (self._encode_ns / 1e9) if self._encode_ns else 0.0,
            last_error=self._last_error,
        )

    def close(self) -> None:
        """Stop the pipeline. An episode still recording is flushed and left as
        ``.partial`` for ``teleforge recover`` (never deleted)."""
        if self._closed:
            return
        if self._recording:
            self._recording = False
            self._put("abandon")
        fut = self._put("stop")
        for _ in self._workers:
            self._in.put(None)
        self._closed = True
        try:
            fut.result(timeout=60)
        except Exception:
            pass
        for t in self._workers:
            t.join(timeout=5)
        self._writer_thread.join(timeout=5)

    def __enter__(self) -> AsyncRecorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- helpers ------------------------------------------------------------------
    def _put(self, kind: str, payload: Any = None) -> Future[Any]:
        fut: Future[Any] = Future()
        self._in.put(_Item(next(self._seq), kind, payload, fut))
        return fut

    def _wait(self, fut: Future[Any]) -> Any:
        try:
            return fut.result()
        except TeleforgeError as exc:
            self._error = None  # raised here; status().last_error keeps it
            raise exc

    def _raise_pending(self) -> None:
        err = self._error
        if err is not None:
            self._error = None
            raise err

    def _check_open(self) -> None:
        if self._closed:
            raise RecorderError("the recorder is closed; create a new AsyncRecorder")

    def _check_recording(self, what: str) -> None:
        self._check_open()
        if not self._recording:
            if self._error is not None:
                self._raise_pending()
            raise RecorderError(f"{what}() without a recording episode: call start_episode() first")

    def _fail(self, exc: BaseException) -> None:
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._error = exc

    # --- encoder threads -------------------------------------------------------------
    def _encode_loop(self) -> None:
        make_background_thread()
        while True:
            item = self._in.get()
            if item is None:
                return
            if item.kind == "step":
                rec: StepRecord = item.payload
                t0 = time.perf_counter_ns()
                try:
                    item.encoded = {
                        name: encode_image(img, self._cams[name])
                        for name, img in rec.images.items() if name in self._cams and name not in item.reuse
                    }
                    item.encoded.update(self._encode_depths(rec, item.reuse))
                except Exception as exc:  # a bad frame must not kill the pipeline
                    item.payload = exc
                    item.kind = "error"
                else:
                    self._frames_encoded += len(item.encoded)
                    self._encode_ns += time.perf_counter_ns() - t0
            with self._cv:
                self._ready[item.seq] = item
                if len(self._ready) > self._encoded_hw:
                    self._encoded_hw = len(self._ready)
                self._cv.notify_all()

    def _encode_depths(self, rec: StepRecord, reuse: frozenset[str]) -> dict[str, bytes]:
        """``depth_column(cam)`` -> PNG-16 bytes for the step's depth frames of depth cameras
        (a repeated frame's depth is reused with its colour bytes, not encoded again)."""
        return {depth_column(name): encode_depth(d, self._cams[name]) for name, d in rec.depth.items()
                if name in self._cams and self._cams[name].depth and name not in reuse}

    # --- writer thread ----------------------------------------------------------------
    def _next(self, seq: int) -> _Item:
        with self._cv:
            while seq not in self._ready:
                self._cv.wait(timeout=0.1)
                if seq not in self._ready:
                    self._cv.release()
                    try:
                        self._idle_flush()
                    finally:
                        self._cv.acquire()
            return self._ready.pop(seq)

    def _idle_flush(self) -> None:
        w = self._writer
        if w is not None and self._error is None:
            try:
                w.maybe_flush()
            except Exception as exc:
                self._fail(exc)

    def _warm_up(self) -> None:
        # pyarrow initialises its kernels lazily (~0.3-0.7 s on the first
        # FixedSizeListArray); pay that now, not during the first episode.
        try:
            BatchBuilder(self.spec, step_schema(self.spec)).build()
            pa.array([b""], pa.binary())
        except Exception:
            pass

    def _write_loop(self) -> None:
        make_background_thread()
        self._warm_up()
        seq = 0
        while True:
            item = self._next(seq)
            seq += 1
            try:
                if self._handle(item):
                    return
            except BaseException as exc:  # keep the thread alive; surface the error to the caller
                if item.future is not None and not item.future.done():
                    item.future.set_exception(exc)
                if item.kind in ("step", "start", "error"):
                    self._fail(exc)

    def _recorder_stats(self) -> dict[str, Any]:
        return {
            "queue_capacity": self.queue_capacity,
            "queue_high_water": self._hw,
            "encoded_high_water": self._encoded_hw,
            "overflow_steps": self._overflow,
            "behind": self._overflow > 0,
            "encoder_threads": len(self._workers),
            "flush_interval_s": self.flush_interval_s,
        }

    def _handle(self, item: _Item) -> bool:
        kind = item.kind
        if kind in ("step", "error"):
            self._consumed += 1
            if self._writer is None or self._error is not None or kind == "error":
                self._last_encoded.clear()  # the next repeated frame must not take older bytes
            if self._writer is None or self._error is not None:
                self._lost_after_error += 1
                return False
            if kind == "error":
                raise item.payload
            encoded = item.encoded if item.encoded is not None else {}
            for name in item.reuse:  # steps arrive in order: the previous step's bytes are known
                if name not in self._cams:
                    continue
                data = self._last_encoded.get(name)
                if data is None:  # the previous step failed to encode: encode this one here
                    data = encode_image(item.payload.images[name], self._cams[name])
                    self._frames_encoded += 1
                else:
                    self._frames_reused += 1
                encoded[name] = data
                dkey = depth_column(name)
                if self._cams[name].depth and name in item.payload.depth:
                    depth = self._last_encoded.get(dkey)
                    encoded[dkey] = depth if depth is not None else encode_depth(item.payload.depth[name], self._cams[name])
            self._last_encoded.update(encoded)
            self._writer.append(item.payload, encoded)
        elif kind == "start":
            self._writer = None
            self._last_encoded = {}
            self._error = None
            start: EpisodeStart = item.payload
            session = SessionRecord(
                session_id=start.session_id or "default",
                operator_id=start.operator_id,
                device=start.device,
                task=start.task,
                robot_embodiment=start.robot_embodiment,
            )
            try:
                ensure_session(self.root, session)
            except OSError as exc:
                if is_disk_full(exc):
                    raise DiskFullError(
                        f"disk full: cannot start an episode in {self.root}. Free some space, then record again "
                        f"(run `teleforge recover {self.root}` if an earlier recording was interrupted)."
                    ) from exc
                raise
            self._writer = self._writer_factory(self.root, self.spec, start)
        elif kind == "finish":
            w, self._writer = self._writer, None
            assert item.future is not None
            if self._error is not None or w is None:
                err = self._error or RecorderError("the episode never opened; see the previous error")
                self._error = None
                item.future.set_exception(err)
                if w is not None:
                    w.abandon()
                return False
            try:
                summary = w.finalize(item.payload, self._recorder_stats())
            except BaseException:
                w.abandon()  # whatever reached the disk stays as .partial for `teleforge recover`
                raise
            item.future.set_result(summary)
        elif kind == "discard":
            w, self._writer = self._writer, None
            if w is not None:
                w.discard()
            self._error = None
            item.future.set_result(None)  # type: ignore[union-attr]
        elif kind == "abandon":
            w, self._writer = self._writer, None
            if w is not None:
                w.abandon()
            item.future.set_result(None)  # type: ignore[union-attr]
        elif kind == "stop":
            item.future.set_result(None)  # type: ignore[union-attr]
            return True
        return False
