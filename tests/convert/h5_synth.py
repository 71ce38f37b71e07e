"""A small synthetic native dataset for the HF/Hub/HDF5 converter tests (no simulator)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tests.dataset.synth import make_dataset, make_start, make_step

from teleforge.dataset import EpisodeEnd, EpisodeWriter


def build_dataset(root: Path, episodes: int = 3, steps: int = 12, cams: tuple[str, ...] = ("front", "wrist"),
                  encoding: str = "jpeg", first_frame_missing: bool = False) -> Path:
    """``episodes`` episodes of ``steps`` steps, two tasks, mixed outcomes, 24x32 frames."""
    root, spec = make_dataset(root, cams=cams, encoding=encoding)
    rng = np.random.default_rng(7)
    for e in range(episodes):
        task = "pick_cube" if e % 2 == 0 else "stack"
        w = EpisodeWriter(root, spec, make_start(task=task, seed=e))
        for i in range(steps):
            rec = make_step(i, spec, rng)
            if first_frame_missing and i == 0:
                rec.images.pop(cams[0])  # camera had not delivered yet
            w.append(rec)
        w.finalize(EpisodeEnd("success" if e != 1 else "failure"))
    return root


def write_view(root: Path, name: str, episodes: list[int], trims: dict[int, tuple[int, int]] | None = None,
               rules: list[dict] | None = None, rules_hash: str = "", parent: str | None = None) -> Path:
    """A view written through the curation API (``views/<name>.json``), as `teleforge curate` makes them."""
    from teleforge.dataset.views import View, save_view

    return save_view(root, View(name=name, episodes=list(episodes), trims=dict(trims or {}), rules=list(rules or []),
                                rules_hash=rules_hash, parent=parent, operation="trim" if trims else "filter"))
