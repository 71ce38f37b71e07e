"""A small native dataset with a depth camera, for the depth export tests and the consumer checks.

Camera ``front`` records colour and depth (uint16 mm, some pixels 0 = no reading, and some steps with
no depth frame at all); ``wrist`` records colour only. Run as a script to build one:
``python -m tests.convert.depth_synth OUT`` (prints the episode ids).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tests.dataset.synth import make_spec, make_start, make_step

from teleforge.dataset import AsyncRecorder, CameraConfig, EpisodeEnd, create_dataset

MISSING = (2, 5)  # steps recorded without a depth frame


def _depth(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    d = rng.integers(0, 65536, (h, w)).astype(np.uint16)  # the full uint16 range: a lossy path shows
    d[::3, ::4] = 0
    return d


def make_depth_dataset(root: Path, steps: tuple[int, ...] = (7, 5), h: int = 12, w: int = 16,
                       missing: tuple[int, ...] = MISSING, seed: int = 7) -> dict[int, list[np.ndarray | None]]:
    """Create ``root`` with one episode per entry of ``steps``; returns episode id -> per-step (h, w) uint16 depth
    of camera ``front`` (None where the step had no depth frame)."""
    spec = make_spec(("front", "wrist"), h=h, w=w)
    spec.cameras = [CameraConfig("front", h, w, depth=True), CameraConfig("wrist", h, w)]
    create_dataset(root, spec)
    rng = np.random.default_rng(seed)
    truth: dict[int, list[np.ndarray | None]] = {}
    rec = AsyncRecorder(root)
    try:
        for n in steps:
            rec.start_episode(make_start())
            depths: list[np.ndarray | None] = []
            for i in range(n):
                s = make_step(i, spec, rng, t0=0)
                d = None if i in missing else _depth(rng, h, w)
                if d is not None:
                    s.depth = {"front": d}
                depths.append(d)
                rec.submit(s)
            truth[rec.finish(EpisodeEnd("success")).episode_id] = depths
    finally:
        rec.close()
    return truth


if __name__ == "__main__":
    print(list(make_depth_dataset(Path(sys.argv[1]))))
