"""Run as a subprocess by test_crash: records at ~50 Hz until killed.

Prints "final <id>" after each finalized episode and "step <n>" after each
submit of the episode that will be interrupted.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from teleforge.dataset import AsyncRecorder, EpisodeEnd, open_or_create
from tests.dataset.synth import make_spec, make_start, make_step


def main(root: Path) -> None:
    spec = make_spec(h=64, w=64)
    ds = open_or_create(root, spec)
    rng = np.random.default_rng(0)
    rec = AsyncRecorder(ds)
    period = 1.0 / spec.fps
    for ep in range(3):
        rec.start_episode(make_start(session="crash"))
        t_next = time.monotonic()
        for i in range(40 if ep < 2 else 10**9):
            rec.submit(make_step(i, spec, rng))
            if ep == 2:
                print(f"step {i + 1}", flush=True)
            t_next += period
            time.sleep(max(0.0, t_next - time.monotonic()))
        s = rec.finish(EpisodeEnd("success" if ep == 0 else "failure"))
        print(f"final {s.episode_id}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
