"""A real crash: SIGKILL a recording process mid-episode, then recover."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from teleforge.dataset import Dataset, read_catalog, recover

REPO = Path(__file__).resolve().parents[2]


def test_kill_mid_episode_keeps_prior_episodes_and_recovers_all_but_last_second(tmp_path):
    root = tmp_path / "ds"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.dataset.crash_child", str(root)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    finals, seen = [], 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, n = line.split()
            if kind == "final":
                finals.append(int(n))
            elif kind == "step":
                seen = int(n)
                if seen >= 110:  # ~2.2 s into the third episode
                    break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert finals == [0, 1]

    partial = root / "episodes" / "ep-000002.arrow.partial"
    assert partial.exists()
    ds = Dataset.open(root)
    assert [e.episode_id for e in ds.episodes] == [0, 1]  # finalized ones are untouched by the crash
    assert [e.outcome for e in ds.episodes] == ["success", "failure"]

    report = recover(root)
    assert report.recovered == [2]
    fps = ds.spec.fps
    got = report.recovered_steps[2]
    assert seen - fps <= got <= seen + 5, (seen, got)  # lose at most ~the last second
    assert not partial.exists()

    ds = Dataset.open(root)
    cat = read_catalog(root)
    assert cat.column("episode_id").to_pylist() == [0, 1, 2]
    ep = ds.episode(2)
    assert ep.meta.recovered and ep.meta.outcome == "unknown" and ep.num_steps == got
    np.testing.assert_array_equal(ep.column("step"), np.arange(got))
    assert ep.image("front", got - 1).shape == (64, 64, 3)
    assert ep.meta.period_p50_ms is not None  # loop stats recomputed from tick_ns
    for i in (0, 1):
        assert ds.episode(i).num_steps == 40
    again = recover(root)  # idempotent
    assert again.recovered == [] and again.catalog_episodes == 3
    assert read_catalog(root).drop_columns(["created_at"]).to_pylist() == cat.drop_columns(["created_at"]).to_pylist()
