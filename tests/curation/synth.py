"""Synthetic native datasets for the curation tests: smooth expert-like trajectories
with controllable defects (idle pauses, jitter, NaN, black camera, duplicates)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from teleforge.dataset import CameraConfig, DatasetSpec, EpisodeEnd, EpisodeStart, EpisodeWriter, StepRecord, create_dataset

N_JOINTS = 7
FPS = 20.0


def make_spec(cams: tuple[str, ...] = ("front",), size: int = 32, robot: str = "sim_arm", n_joints: int = N_JOINTS) -> DatasetSpec:
    return DatasetSpec(fps=FPS, robot_embodiment=robot, n_joints=n_joints,
                       cameras=[CameraConfig(name=c, height=size, width=size) for c in cams])


@dataclass
class EpisodePlan:
    task: str = "pick_cube"
    steps: int = 60
    seed: int = 0
    outcome: str = "success"
    idle_head: int = 0
    idle_tail: int = 0
    idle_pause: int = 0  # zero-action steps in the middle
    jitter: float = 0.0  # noise std as a fraction of the action bound
    nan_step: int | None = None
    black_camera: bool = False
    noise_m: float = 0.0  # position noise on the trajectory (near-duplicates)
    overshoot_m: float = 0.0  # go this far past the goal (horizontally) before the grasp, then come back
    label: str | None = None
    extras: dict = field(default_factory=dict)


def trajectory(plan: EpisodePlan) -> tuple[np.ndarray, np.ndarray]:
    """(actions (T,7), ee positions (T,3)) of a smooth reach-grasp-lift."""
    rng = np.random.default_rng(plan.seed)
    move = plan.steps - plan.idle_head - plan.idle_tail - plan.idle_pause
    goal = np.array([0.4, 0.0, 0.05]) + rng.uniform(-0.1, 0.1, 3) * np.array([1, 1, 0])
    start = np.array([0.3, 0.0, 0.3])
    s = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, move + 1)[1:])  # smooth: low jerk, moving from step 0
    path = start + s[:, None] * (goal - start)
    if plan.overshoot_m:
        u = (goal - start) * np.array([1, 1, 0])
        past = goal + u / np.linalg.norm(u) * plan.overshoot_m
        k = int(move * 0.6)
        s1 = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k + 1)[1:])
        s2 = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, move - k + 1)[1:])
        path = np.concatenate([start + s1[:, None] * (past - start), past + s2[:, None] * (goal - past)])
    path = np.concatenate([start[None], path])
    deltas = np.diff(path, axis=0)
    grip = (np.arange(move) > move * (0.9 if plan.overshoot_m else 0.6)).astype(float)
    a_move = np.concatenate([deltas, np.zeros((move, 3)), grip[:, None]], axis=1)
    if plan.jitter:
        a_move[:, :3] += rng.normal(0, plan.jitter * 0.03, (move, 3))
    half = move // 2
    idle_a = lambda n, g: np.tile(np.array([0, 0, 0, 0, 0, 0, g], float), (n, 1))  # noqa: E731
    actions = np.concatenate([idle_a(plan.idle_head, 0.0), a_move[:half], idle_a(plan.idle_pause, a_move[half - 1, 6]),
                              a_move[half:], idle_a(plan.idle_tail, a_move[-1, 6])])
    ee = start + np.cumsum(actions[:, :3], axis=0)
    if plan.noise_m:
        ee = ee + rng.normal(0, plan.noise_m, ee.shape)
    return actions.astype(np.float32), ee.astype(np.float32)


def _frame(ee: np.ndarray, size: int, black: bool) -> np.ndarray:
    if black:
        return np.zeros((size, size, 3), np.uint8)
    img = np.full((size, size, 3), 90, np.uint8)
    x = int(np.clip((ee[0] - 0.2) / 0.4 * (size - 4), 0, size - 4))
    y = int(np.clip((ee[2]) / 0.35 * (size - 4), 0, size - 4))
    img[y : y + 4, x : x + 4] = 250
    img[:, :2] = 30
    return img


def write_episode(root: Path, spec: DatasetSpec, plan: EpisodePlan, episode_id: int | None = None) -> int:
    actions, ee = trajectory(plan)
    start = EpisodeStart(task=plan.task, instruction=f"do {plan.task}", robot_embodiment=spec.robot_embodiment,
                         seed=plan.seed, device="scripted", operator_id="op", session_id="s1", fps=spec.fps,
                         extras={"time_limit_s": 20.0, **plan.extras})
    w = EpisodeWriter(root, spec, start, episode_id=episode_id)
    t0 = 1_000_000_000
    n = spec.n_joints
    for i in range(len(actions)):
        a = actions[i].copy()
        if plan.nan_step == i:
            a[0] = np.nan
        tick = t0 + int(i * 1e9 / spec.fps)
        rec = StepRecord(step=i, tick_ns=tick, action=a, joint_pos=np.full(n, ee[i, 0], np.float32),
                         joint_vel=np.zeros(n, np.float32), ee_pos=ee[i], ee_quat=np.array([1, 0, 0, 0], np.float32),
                         gripper=1.0 - float(a[6]), target_ee_pos=ee[i], target_ee_quat=np.array([1, 0, 0, 0], np.float32),
                         target_joint_pos=np.zeros(n, np.float32), command_twist=np.zeros(6, np.float32),
                         command_gripper=float(a[6]), success=plan.outcome == "success" and i == len(actions) - 1)
        for cam in spec.cameras:
            rec.images[cam.name] = _frame(ee[i], cam.height, plan.black_camera)
            rec.image_t_ns[cam.name] = tick - 20_000_000
            rec.image_seq[cam.name] = i
        w.append(rec)
    labels = {"failure": plan.label} if plan.label else {}
    return w.finalize(EpisodeEnd(outcome=plan.outcome, labels=labels)).episode_id


def make_dataset(root: Path, plans: list[EpisodePlan], spec: DatasetSpec | None = None) -> Path:
    spec = spec or make_spec()
    create_dataset(root, spec)
    for p in plans:
        write_episode(root, spec, p)
    return root


def shard_digests(root: Path) -> dict[str, str]:
    """sha256 of every shard: curation must leave them byte-identical."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "episodes").glob("ep-*"))}


def mixed_plans() -> list[EpisodePlan]:
    """Clean demos plus one of each defect (labels say which)."""
    plans = [EpisodePlan(seed=i, idle_head=3, idle_tail=8) for i in range(8)]
    plans += [EpisodePlan(task="place_in_bin", seed=100 + i, idle_tail=5) for i in range(6)]
    plans += [
        EpisodePlan(seed=20, steps=120, idle_pause=60, label="idle"),
        EpisodePlan(seed=21, jitter=0.8, label="jitter"),
        EpisodePlan(seed=22, outcome="failure", label="wrong_object"),
        EpisodePlan(seed=23, nan_step=10, label="corrupt"),
        EpisodePlan(seed=24, black_camera=True, label="camera"),
        EpisodePlan(seed=25, steps=80, overshoot_m=0.08, label="overshoot"),
    ]
    return plans
