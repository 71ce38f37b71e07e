"""Dataset locks: the catalog lock (every read-modify-write) and writer locks (who writes shards).

Both are ``fcntl.flock`` locks: the kernel drops them when their holder dies (SIGKILL
included), so a crash never leaves a dataset locked.

- The **catalog lock** (``episodes/.catalog.lock``) is held exclusively around every
  read-modify-write of catalog.parquet and around appends to edits.jsonl, so two
  processes finalizing episodes (or a curation edit and a recording) lose no rows.
- A **writer lock** (``episodes/.writers/<id>.lock``) is held by every process that writes
  shards (a recorder, an importer) for as long as it writes. The file says who
  (pid, boot id, host, start time); the shard header names the lock's id, so
  ``teleforge recover`` can tell a ``.partial`` of a live writer (left alone) from
  one whose writer is gone (salvaged).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

# Beside the episode-id counter (episodes/.lock, episodes/.next_id), out of the dataset root's way.
CATALOG_LOCK = "episodes/.catalog.lock"
WRITERS = "episodes/.writers"


def boot_id() -> str:
    """This machine's boot id ('' where the kernel has none): a pid is only meaningful within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs on this machine and is not a zombie (a zombie writes nothing: it counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    # Field 3 (after the parenthesised command name) is the state; Z = zombie, X = dead.
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else ""
    return state not in ("Z", "X")


@contextlib.contextmanager
def catalog_lock(root: Path | str) -> Iterator[None]:
    """Hold the dataset's exclusive catalog lock for the ``with`` body (blocks until free)."""
    path = Path(root) / CATALOG_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass
class WriterInfo:
    """What a writer lock file records about its holder."""

    writer_id: str
    pid: int
    boot_id: str
    host: str
    started_at: str


def _lock_path(root: Path, writer_id: str) -> Path:
    return root / WRITERS / f"{writer_id}.lock"


class WriterLock:
    """A held writer lock on the dataset at ``root``: create it before writing shards, ``release()`` after.

    Several writers may write into one dataset at once (each holds its own lock);
    the lock only tells ``recover`` which ``.partial`` shards are still being written.
    """

    def __init__(self, root: Path | str) -> None:
        from teleforge.dataset.layout import now_iso  # layout imports nothing from here

        self.root = Path(root)
        self.writer_id = f"{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(4)}"
        self.info = WriterInfo(self.writer_id, os.getpid(), boot_id(), socket.gethostname(), now_iso())
        path = _lock_path(self.root, self.writer_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Lock and fill a hidden name, then rename: nobody ever sees the lock file unlocked
        # (a prober would take an unlocked one for a dead writer's and remove it).
        tmp = path.with_name("." + path.name)
        self._file: BinaryIO | None = open(tmp, "xb")
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._file.write(json.dumps(asdict(self.info)).encode())
        self._file.flush()
        os.replace(tmp, path)

    @property
    def held(self) -> bool:
        """True until ``release``."""
        return self._file is not None

    def release(self) -> None:
        """Remove the lock file, then drop the lock (idempotent)."""
        if self._file is None:
            return
        self.path.unlink(missing_ok=True)
        try:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._file.close()
            self._file = None

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_writer(root: Path | str, writer_id: str) -> WriterInfo | None:
    """The writer lock file's record, or None when it is gone or unreadable."""
    try:
        d = json.loads(_lock_path(Path(root), writer_id).read_text())
        return WriterInfo(**{k: d[k] for k in WriterInfo.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def writer_alive(root: Path | str, writer_id: str) -> tuple[bool, str]:
    """Is the writer ``writer_id`` still writing? -> (alive, why), ``why`` readable by an operator.

    Alive means its lock file exists and its flock is held; on this host the pid must
    also run (not a zombie) in this boot. A lock file whose holder is gone is removed.
    """
    root = Path(root)
    if not writer_id or "/" in writer_id or writer_id.startswith("."):
        return False, "its writer is unknown"
    path = _lock_path(root, writer_id)
    info = read_writer(root, writer_id)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return False, f"its writer {writer_id} has finished or died (no lock file)"
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            held = True
        else:
            held = False
            fcntl.flock(f, fcntl.LOCK_UN)
    who = f"pid {info.pid} on {info.host} since {info.started_at}" if info else writer_id
    if not held:
        path.unlink(missing_ok=True)
        return False, f"its writer ({who}) is gone (lock not held)"
    if info is not None and info.host == socket.gethostname():
        if info.boot_id and info.boot_id != boot_id():
            return False, f"its writer ({who}) ran before the last reboot"
        if not pid_alive(info.pid):
            return False, f"its writer ({who}) is dead"
    return True, f"being written by a live writer ({who})"


def live_writers(root: Path | str) -> list[WriterInfo]:
    """Every writer holding a lock on the dataset now (stale lock files are removed on the way)."""
    d = Path(root) / WRITERS
    out = []
    if d.is_dir():
        for p in sorted(d.glob("*.lock")):
            wid = p.name[: -len(".lock")]
            alive, _ = writer_alive(root, wid)
            info = read_writer(root, wid) if alive else None
            if alive and info is not None:
                out.append(info)
    return out


def try_lock_file(f: BinaryIO) -> bool:
    """Take an exclusive non-blocking flock on an open file; False if another holder has it."""
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True
