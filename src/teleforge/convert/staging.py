"""Export output folders: staged beside the final path, published by one rename.

An export writes into ``.<name>.partial`` (with an owner file naming the pid, host and
what it would write); only a complete export is renamed to ``<name>``, so a crash never
leaves something that looks like a finished dataset. A ``.partial`` left by a killed
export is refused with a message, resumed when the export can resume, or discarded
with ``overwrite``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from teleforge.errors import ExportError, PartialExportError

PARTIAL_SUFFIX = ".partial"


def _pid_alive(pid: int) -> bool:
    """Whether a live (running, not zombie) process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    except (OverflowError, ValueError):  # not a pid at all (a damaged owner file)
        return False
    # A killed export whose parent has not reaped it is a zombie: it answers kill(0) but will
    # never write again. /proc/<pid>/stat's third field is its state ('Z' zombie, 'X' dead).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    state = stat.rsplit(")", 1)[-1].split()[:1]
    return state not in (["Z"], ["X"])


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
        """Rename the staging path to the final one (replacing a previous export); returns the final path."""
        parent = self.final.parent
        old = None
        if self.final.exists() and self.final.is_dir():
            old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
            os.rename(self.final, old)
        os.replace(self.staging, self.final)  # atomic on one filesystem; a file replaces the old one
        fsync_dir(parent)
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


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (best effort: not every filesystem allows it)."""
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
        try:
            pid = int(info.get("pid") or 0) if isinstance(info, dict) else 0
        except (TypeError, ValueError):
            pid = 0
        info = info if isinstance(info, dict) else {}
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
