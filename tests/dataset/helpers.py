"""Small helpers for the dataset integrity tests: record episodes synchronously, run children."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from teleforge.dataset import EpisodeEnd, EpisodeWriter
from tests.dataset.synth import make_spec, make_start, make_step

REPO = Path(__file__).resolve().parents[2]


def child_env() -> dict[str, str]:
    """Environment for a child python: this worktree's src first (not the shared venv's editable install)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")])}


def run_child(code: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=child_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def record(root: Path, n_steps: int = 20, outcome: str = "success", seed: int = 0, action: float | None = None) -> int:
    """Write one finalized episode synchronously; ``action`` fills every action with one value."""
    spec = make_spec()
    rng = np.random.default_rng(seed)
    w = EpisodeWriter(root, spec, make_start(), batch_rows=8)
    for i in range(n_steps):
        rec = make_step(i, spec, rng)
        if action is not None:
            rec.action = np.full(7, action, np.float32)
        w.append(rec)
    w.finalize(EpisodeEnd(outcome))
    return w.episode_id
