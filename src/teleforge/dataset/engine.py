"""Where dataset-wide work runs: in this process (``local``, the default) or on Ray Data (``ray``).

Curation (metrics, image health, dedupe signatures) and exporters describe their work as
a list of independent per-episode or per-shard jobs and a function; an :class:`Engine`
maps the function over the jobs and returns the results **in job order**, so the
result of a run does not depend on where or in which order the jobs ran (the ray and
local engines give identical metrics, views and export bytes).

The engine in force is a context (:func:`use_engine`), so a command line sets it once
(``--engine ray [--ray-address ADDR]``) and library code picks it up through
:func:`current_engine` without every signature growing a parameter.

Ray is an optional extra (``pip install 'teleforge[ray]'``), imported only when the ray
engine is asked for. With no address a local Ray is started for the command and shut
down after it; with an address (``ray://host:10001`` or ``auto``) the command joins that
cluster and leaves it running. On a cluster every worker must reach the dataset (a
shared filesystem or object storage, see :mod:`teleforge.dataset.fs`) and the export's
output folder.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, Protocol, TypeVar, runtime_checkable

from teleforge.errors import TeleforgeError

__all__ = ["ENGINES", "Engine", "EngineError", "LocalEngine", "RayEngine", "batches", "current_engine", "make_engine",
           "map_in_order", "use_engine"]

T = TypeVar("T")
R = TypeVar("R")
ENGINES = ("local", "ray")


class EngineError(TeleforgeError):
    """The compute engine could not be started or a job on it failed."""


@runtime_checkable
class Engine(Protocol):
    """Maps a function over independent jobs; results come back in job order."""

    name: str

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], workers: int = 1) -> list[R]:
        """``[fn(j) for j in jobs]``, possibly in parallel; ``workers``: the caller's local parallelism hint."""
        ...

    def close(self) -> None:
        """Release what the engine started (a local Ray)."""
        ...


class LocalEngine:
    """This machine: in this process, or ``workers`` spawned processes (the exporters' pool)."""

    name = "local"

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], workers: int = 1) -> list[R]:
        """Run the jobs here; ``workers`` > 1 uses a spawn process pool (fn and jobs must be importable/plain)."""
        workers = min(workers, len(jobs))
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                return list(pool.map(fn, jobs))
        return [fn(j) for j in jobs]

    def close(self) -> None:
        """Nothing to release."""


class _Box:
    """Carries one job or result through Ray Data untouched (an opaque Python object column)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def import_ray() -> Any:
    """The ``ray`` module, or an EngineError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise EngineError("--engine ray needs Ray: pip install 'teleforge[ray]' (or use --engine local)") from exc
    return ray


class RayEngine:
    """Ray Data: one row per job, mapped on the cluster's workers, gathered in job order.

    ``address``: None starts a local Ray for this engine (``num_cpus`` caps it); an address
    joins a running cluster. ``close`` shuts down only a Ray this engine started.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        ray = import_ray()
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            if address is None:
                # A busy machine starts Ray's agents slowly; the default wait (a few s) kills the raylet.
                os.environ.setdefault("RAY_agent_register_timeout_ms", "300000")
            # Workers import teleforge from the same place as this process (a dev checkout too).
            env = {"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}} if os.environ.get("PYTHONPATH") else None
            try:
                ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                         log_to_driver=False, configure_logging=False, runtime_env=env)
            except Exception as exc:  # no cluster at that address, port in use, ...
                where = address or "a local Ray"
                raise EngineError(f"cannot start {where}: {exc}; check --ray-address or run `ray start --head`") from exc
            self._started = True
        self.address = address

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], workers: int = 1) -> list[R]:
        """Run every job as one Ray Data row; ``workers`` is ignored (the cluster decides)."""
        if not jobs:
            return []
        ray = self._ray
        rows = [{"i": i, "job": _Box(j)} for i, j in enumerate(jobs)]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))

        def run(row: dict[str, Any]) -> dict[str, Any]:
            return {"i": row["i"], "out": _Box(fn(row["job"].value))}

        try:
            out = ds.map(run).take_all()
        except Exception as exc:
            raise EngineError(f"a job failed on Ray: {_root_cause(exc)}") from exc
        out.sort(key=lambda r: int(r["i"]))
        if len(out) != len(jobs):
            raise EngineError(f"Ray returned {len(out)} results for {len(jobs)} jobs; rerun the command")
        return [r["out"].value for r in out]

    def close(self) -> None:
        """Shut down the local Ray this engine started."""
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False


def _root_cause(exc: BaseException) -> str:
    cause: BaseException = exc
    while getattr(cause, "cause", None) is not None or cause.__cause__ is not None:
        cause = getattr(cause, "cause", None) or cause.__cause__  # type: ignore[assignment]
    return f"{type(cause).__name__}: {cause}".splitlines()[0]


def make_engine(name: str = "local", address: str | None = None, num_cpus: int | None = None) -> Engine:
    """``local`` or ``ray`` (``address``: a cluster to join; default a local Ray)."""
    if name == "local":
        if address:
            raise EngineError("--ray-address needs --engine ray")
        return LocalEngine()
    if name == "ray":
        return RayEngine(address, num_cpus)
    raise EngineError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")


_current: contextvars.ContextVar[Engine | None] = contextvars.ContextVar("teleforge_engine", default=None)
_LOCAL = LocalEngine()


def current_engine() -> Engine:
    """The engine set by :func:`use_engine`, else the local one."""
    return _current.get() or _LOCAL


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` cut into consecutive lists of at most ``size`` (the last may be shorter)."""
    size = max(1, int(size))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def map_in_order(fn: Callable[[T], R], jobs: Sequence[T], window: int = 16, workers: int = 1) -> Iterator[R]:
    """``fn(j)`` for every job on the current engine, yielded in job order, ``window`` jobs at a time.

    An exporter writes each result as it comes, so memory holds at most ``window`` results
    (e.g. encoded videos) whatever the dataset size; the ray engine runs a window's jobs at once.
    On the local engine ``workers`` > 1 runs the jobs in that many spawned processes, started
    once for the whole map, with at most ``window`` jobs submitted ahead of the one yielded next.
    """
    engine = current_engine()
    if isinstance(engine, LocalEngine) and min(workers, len(jobs)) > 1:
        yield from _pool_in_order(fn, jobs, window, min(workers, len(jobs)))
        return
    for part in batches(jobs, window):
        yield from engine.map(fn, part, workers=workers)


def _pool_in_order(fn: Callable[[T], R], jobs: Sequence[T], window: int, workers: int) -> Iterator[R]:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        pending: collections.deque[Future[R]] = collections.deque()
        it = iter(jobs)
        for job in itertools.islice(it, max(window, workers)):
            pending.append(pool.submit(fn, job))
        while pending:
            try:
                result = pending.popleft().result()  # a job's exception is raised here, in job order
            except BrokenProcessPool as exc:
                raise EngineError(f"a worker process died ({exc}); rerun with --workers 1 to see why") from exc
            for job in itertools.islice(it, 1):
                pending.append(pool.submit(fn, job))
            yield result
    finally:  # also when the consumer stops early: queued jobs are dropped, running ones finish
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def use_engine(engine: Engine | str | None, address: str | None = None) -> Iterator[Engine]:
    """Run the block with ``engine`` as the current engine (a name builds and closes one)."""
    built = make_engine(engine, address) if isinstance(engine, str) else (engine or _LOCAL)
    token = _current.set(built)
    try:
        yield built
    finally:
        _current.reset(token)
        if isinstance(engine, str):
            built.close()
