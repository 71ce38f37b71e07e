"""Synthetic steps and datasets for the dataset tests (no simulator)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from teleforge.dataset import CameraConfig, DatasetSpec, EpisodeStart, StepRecord, create_dataset

N_JOINTS = 7


def make_spec(cams: tuple[str, ...] = ("front", "wrist"), h: int = 24, w: int = 32, encoding: str = "jpeg", fps: float = 50.0) -> DatasetSpec:
    return DatasetSpec(
        fps=fps,
        robot_embodiment="test_arm_7dof",
        n_joints=N_JOINTS,
        cameras=[CameraConfig(name=c, height=h, width=w, encoding=encoding) for c in cams],
    )


def make_dataset(root: Path, **kw) -> tuple[Path, DatasetSpec]:
    spec = make_spec(**kw)
    create_dataset(root, spec)
    return root, spec


def make_start(task: str = "pick_cube", session: str = "s1", seed: int | None = 3) -> EpisodeStart:
    return EpisodeStart(
        task=task,
        instruction=f"do {task}",
        robot_embodiment="test_arm_7dof",
        seed=seed,
        device="scripted",
        operator_id="op1",
        session_id=session,
        fps=50.0,
        extras={"quality": 0.9},
    )


def make_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    # Smooth gradient + mild noise: JPEG-realistic, so lossy round trips stay close.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), (xx + yy) * 255 // max(1, h + w - 2)], -1)
    shift = rng.integers(0, 60)
    return np.clip(base + shift + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)


def make_step(i: int, spec: DatasetSpec, rng: np.random.Generator, t0: int | None = None, with_images: bool = True) -> StepRecord:
    t0 = time.monotonic_ns() if t0 is None else t0
    n = spec.n_joints
    f = lambda k: rng.standard_normal(k).astype(np.float32)  # noqa: E731
    rec = StepRecord(
        step=i,
        tick_ns=t0 + int(i * 1e9 / spec.fps),
        action=f(7),
        joint_pos=f(n),
        joint_vel=f(n),
        ee_pos=f(3),
        ee_quat=np.array([1, 0, 0, 0], np.float32),
        gripper=float(rng.random()),
        target_ee_pos=f(3),
        target_ee_quat=np.array([0, 1, 0, 0], np.float32),
        target_joint_pos=f(n),
        command_twist=f(6),
        command_gripper=float(i % 2),
        reward=float(i == 5),
        success=i >= 5,
        hold=i == 2,
        estop=False,
        clamped=i == 3,
    )
    if with_images:
        for k, cam in enumerate(spec.cameras):
            rec.images[cam.name] = make_image(rng, cam.height, cam.width)
            rec.image_t_ns[cam.name] = rec.tick_ns - 1_000_000 * (k + 1)
            rec.image_seq[cam.name] = i + 100 * k
    return rec
