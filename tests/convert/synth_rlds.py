"""A small synthetic native dataset for the RLDS tests (no simulator; a few KB per episode)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from teleforge.dataset import CameraConfig, DatasetSpec, EpisodeEnd, EpisodeStart, EpisodeWriter, StepRecord, create_dataset

N_JOINTS = 7


def _image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), (xx + yy) * 255 // (h + w - 2)], -1)
    return np.clip(base + rng.integers(0, 60), 0, 255).astype(np.uint8)


def make_synthetic_dataset(
    root: Path,
    episodes: int = 3,
    steps: Sequence[int] = (6, 9, 4),
    cams: Sequence[str] = ("front", "wrist"),
    h: int = 24,
    w: int = 32,
    encoding: str = "jpeg",
    missing_first_frames: int = 0,
    seed: int = 0,
) -> Path:
    """Episodes alternate success / failure; ``missing_first_frames`` steps per episode have no wrist frame yet."""
    spec = DatasetSpec(fps=20.0, robot_embodiment="test_arm_7dof", n_joints=N_JOINTS,
                       cameras=[CameraConfig(name=c, height=h, width=w, encoding=encoding) for c in cams])
    create_dataset(root, spec)
    rng = np.random.default_rng(seed)
    for e in range(episodes):
        start = EpisodeStart(task="pick_cube" if e % 2 == 0 else "stack", instruction=f"pick up the cube {e}",
                             robot_embodiment="test_arm_7dof", seed=e, device="scripted", operator_id="op",
                             session_id="s1", fps=20.0)
        wr = EpisodeWriter(root, spec, start, batch_rows=4)
        t0 = time.monotonic_ns()
        for i in range(steps[e % len(steps)]):
            f = lambda k: rng.standard_normal(k).astype(np.float32)  # noqa: E731
            rec = StepRecord(step=i, tick_ns=t0 + i * 50_000_000, action=np.append(f(6), rng.random()).astype(np.float32),
                             joint_pos=f(N_JOINTS), joint_vel=f(N_JOINTS), ee_pos=f(3),
                             ee_quat=np.array([1, 0, 0, 0], np.float32), gripper=float(rng.random()),
                             target_ee_pos=f(3), target_ee_quat=np.array([1, 0, 0, 0], np.float32),
                             target_joint_pos=f(N_JOINTS), command_twist=f(6), command_gripper=0.0,
                             reward=float(i == 3), success=i >= 3)
            for k, cam in enumerate(cams):
                if k > 0 and i < missing_first_frames:
                    continue
                rec.images[cam] = _image(rng, h, w)
                rec.image_t_ns[cam] = rec.tick_ns
                rec.image_seq[cam] = i
            wr.append(rec)
        wr.finalize(EpisodeEnd(outcome="success" if e % 2 == 0 else "failure"))
    return root
