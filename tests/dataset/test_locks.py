"""Item 9 and 10 of issue 11: recover leaves a live writer's .partial alone; the catalog has one writer at a time."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from teleforge.dataset import read_catalog, recover
from teleforge.dataset.catalog import upsert_rows
from teleforge.dataset.lock import WriterLock, live_writers, pid_alive, writer_alive
from tests.dataset.helpers import record, run_child

LIVE_WRITER = r"""
import sys, time
import numpy as np
from pathlib import Path
from teleforge.dataset import EpisodeWriter
from tests.dataset.synth import make_spec, make_start, make_step
spec = make_spec()
w = EpisodeWriter(Path(sys.argv[1]), spec, make_start(), batch_rows=4)
rng = np.random.default_rng(0)
for i in range(12):
    w.append(make_step(i, spec, rng))
w.flush()
print("ready", w.episode_id, flush=True)
time.sleep(120)
"""


def test_recover_during_a_live_writer_leaves_its_partial_alone(ds_root):
    root, _ = ds_root
    record(root)
    proc = run_child(LIVE_WRITER, str(root))
    try:
        line = proc.stdout.readline().split()
        assert line and line[0] == "ready", proc.stderr.read()
        ep = int(line[1])
        partial = root / "episodes" / f"ep-{ep:06d}.arrow.partial"
        assert partial.exists()
        assert [w.pid for w in live_writers(root)] == [proc.pid]
        report = recover(root)
        assert partial.exists(), "recover touched a live writer's shard"
        assert report.recovered == []
        assert any(s.startswith(partial.name) and "live writer" in s and str(proc.pid) in s for s in report.skipped), report.skipped
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    # The writer is gone now: recover salvages its shard.
    report = recover(root)
    assert report.recovered == [ep]
    assert not partial.exists()
    assert live_writers(root) == []


def test_writer_lock_stale_detection(tmp_path):
    lock = WriterLock(tmp_path)
    assert writer_alive(tmp_path, lock.writer_id)[0]
    lock.release()
    alive, why = writer_alive(tmp_path, lock.writer_id)
    assert not alive and "no lock file" in why
    assert not pid_alive(999_999_999)


def test_zombie_counts_as_dead():
    z = subprocess.Popen([sys.executable, "-c", "pass"])  # never polled until the end: it stays a zombie
    state = ""
    for _ in range(600):
        state = open(f"/proc/{z.pid}/stat").read().rsplit(")", 1)[-1].split()[0]
        if state == "Z":
            break
        time.sleep(0.05)
    assert state == "Z"
    assert not pid_alive(z.pid)
    z.wait()


UPSERTER = r"""
import sys
from pathlib import Path
from teleforge.dataset.catalog import upsert_rows
root, base, n = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    upsert_rows(root, [{"episode_id": base + i, "file": f"episodes/ep-{base + i:06d}.arrow", "outcome": "success", "num_steps": 1}])
print("done", flush=True)
"""


def test_two_concurrent_catalog_writers_lose_no_rows(ds_root):
    root, _ = ds_root
    n = 40
    procs = [run_child(UPSERTER, str(root), str(base), str(n)) for base in (0, 1000)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    ids = read_catalog(root).column("episode_id").to_pylist()
    assert sorted(ids) == list(range(n)) + list(range(1000, 1000 + n))


REWRITER = r"""
import sys, time
from pathlib import Path
from teleforge.dataset.catalog import read_catalog, write_catalog
root = Path(sys.argv[1])
t = read_catalog(root)
print("go", flush=True)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    write_catalog(root, t)
"""


def test_catalog_reads_survive_a_concurrent_rewrite(ds_root):
    root, _ = ds_root
    upsert_rows(root, [{"episode_id": i, "file": f"episodes/ep-{i:06d}.arrow", "num_steps": 1} for i in range(300)])
    proc = run_child(REWRITER, str(root), "3")
    try:
        assert proc.stdout.readline().strip() == "go"
        reads = 0
        while proc.poll() is None:
            assert read_catalog(root).num_rows == 300
            reads += 1
    finally:
        proc.wait(timeout=60)
    assert reads > 0
