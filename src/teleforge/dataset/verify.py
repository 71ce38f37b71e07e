"""``teleforge verify``: check every shard, view and the catalog of a dataset; list every problem.

A shard is checked against the CRC32 of each record batch stored in its end record
(written at finalize, see :mod:`teleforge.dataset.writer`), its row count against its
end record and the catalog. Shards written before checksums existed are noted
("no checksum"), not reported as corrupt. Nothing is modified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from teleforge.dataset.catalog import fold_checksums, read_catalog, shard_path
from teleforge.dataset.edits import read_edits
from teleforge.dataset.layout import EPISODES, VIEWS, parse_shard_name, read_manifest
from teleforge.dataset.lock import writer_alive
from teleforge.dataset.schema import META_END, META_START
from teleforge.dataset.views import View
from teleforge.dataset.writer import CHECKSUM_ALGO, batch_checksum
from teleforge.errors import CatalogError, TeleforgeError


@dataclass
class ShardCheck:
    """What verifying one shard found."""

    path: Path
    num_rows: int = 0
    end: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    batches: int = 0


@dataclass
class VerifyReport:
    """Every problem (one line each, naming the file) and informational notes."""

    root: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shards: int = 0
    batches: int = 0
    steps: int = 0
    views: int = 0
    catalog_rows: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (notes do not count)."""
        return not self.problems


def verify_shard(path: Path) -> ShardCheck:
    """Read a finalized shard batch by batch and compare each batch's CRC32 with its end record."""
    path = Path(path)
    out = ShardCheck(path)
    name = path.name
    batches: list[pa.RecordBatch] = []
    try:
        reader = pa.ipc.open_stream(pa.memory_map(str(path), "r"))
        while True:
            try:
                b, md = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            batches.append(b)
            if md is not None and META_END in md:
                out.end = json.loads(md[META_END])
    except (pa.ArrowException, OSError, ValueError) as exc:
        out.problems.append(f"{name}: unreadable after {len(batches)} record batches ({str(exc).splitlines()[0]})")
    out.batches = len(batches)
    out.num_rows = sum(b.num_rows for b in batches)
    if out.problems:
        return out
    if not isinstance(out.end, dict):
        out.problems.append(f"{name}: no end record (truncated, or never finalized); run `teleforge recover`")
        return out
    want = out.end.get("num_steps")
    if isinstance(want, int) and want != out.num_rows:
        out.problems.append(f"{name}: holds {out.num_rows} steps but its end record says {want}")
    sums = out.end.get("checksums")
    if not isinstance(sums, dict) or not isinstance(sums.get("batches"), list):
        out.notes.append(f"{name}: no checksum (written before checksums existed); readable, {out.num_rows} steps")
        return out
    if sums.get("algo") != CHECKSUM_ALGO:
        out.problems.append(f"{name}: unknown checksum algorithm {sums.get('algo')!r}")
        return out
    stored = sums["batches"]
    if len(stored) != len(batches):
        out.problems.append(f"{name}: {len(batches)} record batches but {len(stored)} checksums")
    lo = 0
    for i, (b, want_crc) in enumerate(zip(batches, stored)):
        got = batch_checksum(b)
        if got != want_crc:
            out.problems.append(
                f"{name}: batch {i} (steps {lo}..{lo + b.num_rows - 1}) checksum mismatch "
                f"(stored {int(want_crc):08x}, computed {got:08x}): its bytes changed since it was written"
            )
        lo += b.num_rows
    return out


def first_problem(path: Path) -> str | None:
    """The first problem :func:`verify_shard` finds, or None (for readers that verify on open)."""
    check = verify_shard(path)
    return check.problems[0] if check.problems else None


def verify_dataset(root: Path | str) -> VerifyReport:
    """Check the catalog, edits.jsonl, every shard and every view of the dataset at ``root``."""
    root = Path(root)
    read_manifest(root)  # a folder that is no dataset: the typed error says so
    rep = VerifyReport(root)
    try:
        cat = read_catalog(root)
        rows = cat.to_pylist()
    except CatalogError as exc:
        rep.problems.append(str(exc))
        rows = []
    rep.catalog_rows = len(rows)
    log = read_edits(root)
    rep.problems += log.problems
    if log.torn_tail:
        rep.notes.append("edits.jsonl: its last line is incomplete (a crash mid-edit) and is ignored")

    steps: dict[int, int] = {}
    seen: set[str] = set()
    for r in rows:
        eid = r.get("episode_id")
        try:
            path = shard_path(root, r.get("file"))
        except CatalogError as exc:
            rep.problems.append(f"episode {eid}: {exc}")
            continue
        seen.add(path.name)
        if not path.is_file():
            rep.problems.append(f"{path.name}: missing (the catalog lists episode {eid}); run `teleforge recover {root}`")
            continue
        check = _check(rep, path)
        steps[int(eid)] = check.num_rows
        if not check.problems:
            if r.get("num_steps") != check.num_rows:
                rep.problems.append(f"{path.name}: holds {check.num_rows} steps but the catalog says {r.get('num_steps')}")
            folded = fold_checksums((check.end or {}).get("checksums"))
            if r.get("checksum") and folded and r["checksum"] != folded:
                rep.problems.append(f"{path.name}: checksums differ from the catalog's ({r['checksum']} vs {folded})")

    ep_dir = root / EPISODES
    for path in sorted(ep_dir.iterdir()) if ep_dir.is_dir() else []:
        parsed = parse_shard_name(path.name)
        if parsed is None or path.name in seen:
            continue
        if parsed[1]:
            wid = _writer_of(path)
            alive, why = writer_alive(root, wid) if wid else (False, "")
            if alive:
                rep.notes.append(f"{path.name}: {why}")
            else:
                rep.problems.append(f"{path.name}: unfinished shard left by a crash; run `teleforge recover {root}`")
            continue
        check = _check(rep, path)
        if not check.problems:
            rep.problems.append(f"{path.name}: finalized shard not in the catalog; run `teleforge recover {root}`")

    _check_views(rep, root, steps)
    return rep


def _check(rep: VerifyReport, path: Path) -> ShardCheck:
    check = verify_shard(path)
    rep.shards += 1
    rep.batches += check.batches
    rep.steps += check.num_rows
    rep.problems += check.problems
    rep.notes += check.notes
    return check


def _writer_of(path: Path) -> str | None:
    try:
        md = pa.ipc.open_stream(pa.memory_map(str(path), "r")).schema.metadata or {}
        wid = json.loads(md.get(META_START, b"{}")).get("writer")
    except (pa.ArrowException, OSError, ValueError, AttributeError):
        return None
    return wid if isinstance(wid, str) else None


def _check_views(rep: VerifyReport, root: Path, steps: dict[int, int]) -> None:
    d = root / VIEWS
    for path in sorted(d.glob("*.json")) if d.is_dir() else []:
        rep.views += 1
        try:
            view = View.from_dict(json.loads(path.read_text()), str(path))
        except (ValueError, TeleforgeError) as exc:
            rep.problems.append(f"views/{path.name}: {str(exc).splitlines()[0]}")
            continue
        missing = sorted(set(view.episodes) - set(steps))
        if missing:
            rep.problems.append(f"views/{path.name}: names episodes the dataset does not hold: {missing[:10]}")
        for i, (a, b) in sorted(view.trims.items()):
            n = steps.get(i)
            if n is not None and not 0 <= a < b <= n:
                rep.problems.append(f"views/{path.name}: trim {a}..{b} of episode {i} is outside its 0..{n} steps")
