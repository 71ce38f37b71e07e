"""What every handoff target shares: its config and result records and the statistics helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from teleforge.convert.rlds.gripper import binarize_gripper
from teleforge.dataset.selection import ExportSource
from teleforge.errors import HandoffError


@dataclass
class HandoffConfig:
    """What to hand off, to which trainer, and where to write it."""

    target: str
    dataset: Path
    out: Path
    view: str | None = None
    name: str | None = None  # RLDS dataset name / LeRobot repo id stem; default from the dataset folder
    primary_camera: str | None = None  # default: "front" when recorded, else the first camera
    overwrite: bool = False


@dataclass
class HandoffResult:
    """What a handoff wrote: counts, files by role and the commands its README gives."""

    target: str
    out: Path
    episodes: int
    steps: int
    files: dict[str, Path] = field(default_factory=dict)  # role -> path
    commands: list[str] = field(default_factory=list)


def ee_arrays(src: ExportSource, openvla: bool) -> tuple[np.ndarray, np.ndarray]:
    """(actions (N, 7), ee state (N, 8)) over the selection's kept steps; numeric columns only."""
    acts, states = [], []
    for eid in src.episode_ids:
        ep = src.episode(eid)
        a = np.asarray(ep.column("action"), np.float64)
        if openvla:
            a = a.copy()
            a[:, 6] = binarize_gripper(1.0 - a[:, 6])  # the `openvla` RLDS action space
        pos = np.asarray(ep.column("observation.state.ee_pos"), np.float64)
        quat = np.asarray(ep.column("observation.state.ee_quat"), np.float64)
        grip = np.asarray(ep.column("observation.state.gripper"), np.float64).reshape(len(pos), -1)
        acts.append(a)
        states.append(np.concatenate([pos, quat, grip], axis=1))
    if not acts:
        raise HandoffError("the selection has no episodes; check the view")
    return np.concatenate(acts), np.concatenate(states)


def norm_stats(x: np.ndarray) -> dict[str, list[float]]:
    """openpi's NormStats fields (mean, std, q01, q99)."""
    return {
        "mean": x.mean(0).tolist(),
        "std": x.std(0).tolist(),
        "q01": np.quantile(x, 0.01, axis=0).tolist(),
        "q99": np.quantile(x, 0.99, axis=0).tolist(),
    }
