"""A labelled scripted dataset, stepped as fast as the CPU allows (no session clock).

For curation research the operator's real-time loop only costs time: this steps the sim
and the expert directly (clean, subtle defects and crude failures drawn per scene seed,
see :mod:`teleforge.robots.expert_defects`), renders the cameras synchronously and writes
native shards with exact tick stamps (one control period apart). Episodes end the way a
scripted collection ends them: the success predicate held for 0.5 s, the expert gave up
for 1.5 s, or the task's time limit. Several spawn worker processes write in parallel,
each with pre-assigned episode ids, so the dataset is the same whatever the worker count.

Labels per episode: ``quality`` (continuous, 1 clean), ``quality_tier`` (clean | subtle |
crude), ``defect`` or ``failure`` (the kind), ``defect_severity`` and ``success_check``.
Operators are ``op0``..``op3``, with defect rates that differ (for the per-operator report).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.dataset import CameraConfig, DatasetSpec, EpisodeEnd, EpisodeStart, EpisodeWriter, StepRecord, open_or_create
from teleforge.dataset.reader import Dataset
from teleforge.progress import Progress, or_null, tracked
from teleforge.robots.expert_defects import EpisodeQuality, draw_quality, make_expert

# Share of the defects each operator makes, relative to the mean (op3 is the sloppy one).
OPERATOR_SKEW: tuple[float, ...] = (0.4, 0.8, 1.2, 1.6)
T0_NS = 1_000_000_000


@dataclass
class ScriptedDatasetConfig:
    """A labelled collection: ``episodes`` scene seeds from ``seed``, drawn into clean / subtle / crude."""

    root: Path = Path("teleforge_scripted")
    task: str = "pick_cube"
    episodes: int = 200
    seed: int = 0
    subtle_rate: float = 0.3
    crude_rate: float = 0.1
    cameras: tuple[str, ...] = ("front", "wrist")
    image_size: int = 128
    hz: float = 20.0
    hold_s: float = 0.5  # success must hold this long to end the episode
    give_up_s: float = 1.5  # the expert's idle time after its script before it stops
    workers: int = 1
    session_id: str = "scripted"


def episode_plan(cfg: ScriptedDatasetConfig) -> list[tuple[int, int, str, EpisodeQuality]]:
    """(episode_id, seed, operator, quality setting) per episode; ids continue after what ``root`` holds."""
    out = []
    first = _next_id(cfg.root)
    for i in range(cfg.episodes):
        seed = cfg.seed + i
        op = i % len(OPERATOR_SKEW)
        k = OPERATOR_SKEW[op]
        q = draw_quality(seed, min(0.95, cfg.subtle_rate * k), min(0.5, cfg.crude_rate * k), cfg.task)
        out.append((first + i, seed, f"op{op}", q))
    return out


def _next_id(root: Path) -> int:
    if not (Path(root) / "catalog.parquet").exists():
        return 0
    ids = Dataset.open(root).episode_ids
    return (max(ids) + 1) if ids else 0


def _spec(cfg: ScriptedDatasetConfig, robot: Any) -> DatasetSpec:
    return DatasetSpec(fps=cfg.hz, robot_embodiment=robot.embodiment, n_joints=robot.n_joints,
                       cameras=[CameraConfig(name=c, height=cfg.image_size, width=cfg.image_size, encoding="jpeg", quality=95)
                                for c in cfg.cameras])


def _vec(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def record_episode(robot: Any, renderer: Any, cfg: ScriptedDatasetConfig, spec: DatasetSpec, episode_id: int, seed: int,
                   operator: str, q: EpisodeQuality) -> dict[str, Any]:
    """Run one expert episode on ``robot`` and write it as ``episode_id``; returns its labels."""
    info = robot.reset(cfg.task, seed)
    expert = make_expert(cfg.task, q, seed)
    expert.reset(robot)
    start = EpisodeStart(task=info.task, instruction=info.instruction, robot_embodiment=robot.embodiment, seed=seed,
                         device="scripted", operator_id=operator, session_id=f"{cfg.session_id}-{operator}", fps=cfg.hz,
                         extras={"time_limit_s": float(info.time_limit_s)})
    w = EpisodeWriter(cfg.root, spec, start, episode_id=episode_id)
    period = int(round(1e9 / cfg.hz))
    ok_steps = done_steps = 0
    success = False
    ended_by = "time_limit"
    limit = int(info.time_limit_s * cfg.hz)
    try:
        for step in range(limit):
            st = robot.observe()
            tick = T0_NS + step * period
            a = _vec(expert.act(robot))
            act = robot.act(a)
            success = bool(robot.success())
            rec = StepRecord(step=step, tick_ns=tick, action=a, joint_pos=_vec(st.joint_pos), joint_vel=_vec(st.joint_vel),
                             ee_pos=_vec(st.ee_pos), ee_quat=_vec(st.ee_quat), gripper=float(st.gripper),
                             target_ee_pos=_vec(act.target_ee_pos), target_ee_quat=_vec(act.target_ee_quat),
                             target_joint_pos=_vec(act.target_joint_pos), command_twist=np.zeros(6, np.float32),
                             command_gripper=float(a[-1]), reward=1.0 if success else 0.0, success=success,
                             clamped=bool(act.clamped))
            if renderer is not None:
                snap = robot.state_snapshot()
                for c in cfg.cameras:
                    rec.images[c] = renderer.render(snap, c).copy()
                    rec.image_t_ns[c] = tick
                    rec.image_seq[c] = step
            w.append(rec)
            ok_steps = ok_steps + 1 if success else 0
            done_steps = done_steps + 1 if expert.labels.get("phase") in ("hold", "dropped") else 0
            if ok_steps >= cfg.hold_s * cfg.hz:
                ended_by = "success"
                break
            if done_steps > cfg.give_up_s * cfg.hz:
                ended_by = "device_stopped"
                break
    except BaseException:
        w.discard()
        raise
    labels = dict(expert.labels)
    labels.pop("phase", None)
    labels.update({"quality": q.quality, "quality_tier": q.tier, "ended_by": ended_by, "success_check": success})
    if q.tier == "subtle":
        labels["defect"] = q.kind
        labels["defect_severity"] = round(q.severity, 3)
    elif q.tier == "crude":
        labels["failure"] = q.kind
    w.finalize(EpisodeEnd(outcome="success" if success else "failure", labels=labels))
    return {"episode_id": episode_id, "seed": seed, "success": success, **labels}


def _worker(args: tuple[ScriptedDatasetConfig, list[tuple[int, int, str, EpisodeQuality]]]) -> list[dict[str, Any]]:
    cfg, jobs = args
    os.environ.setdefault("MUJOCO_GL", "egl")
    from teleforge.robots.sim_cameras import SnapshotRenderer  # lazy: GL context per process
    from teleforge.robots.sim_robot import SimRobot

    robot = SimRobot(control_hz=cfg.hz)
    robot.connect()
    renderer = SnapshotRenderer(robot.xml, cfg.image_size, cfg.image_size) if cfg.cameras else None
    spec = _spec(cfg, robot)
    try:
        return [record_episode(robot, renderer, cfg, spec, *job) for job in jobs]
    finally:
        if renderer is not None:
            renderer.close()
        robot.disconnect()


def collect_scripted(cfg: ScriptedDatasetConfig, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Record ``cfg.episodes`` labelled expert episodes into ``cfg.root``; returns one label dict per episode.

    One progress unit per episode. ``workers`` > 1 runs spawn processes (2 episodes per job).
    """
    from teleforge.robots.sim_robot import SimRobot

    probe = SimRobot(control_hz=cfg.hz)
    open_or_create(cfg.root, _spec(cfg, probe))
    plan = episode_plan(cfg)
    jobs = [plan[i:i + 2] for i in range(0, len(plan), 2)]
    out: list[dict[str, Any]] = []
    with tracked(or_null(progress), len(plan), f"scripted {cfg.task} ({len(plan)})") as prog:
        if cfg.workers <= 1:
            for job in jobs:
                out.extend(_worker((cfg, job)))
                prog.advance(len(job))
        else:
            with mp.get_context("spawn").Pool(cfg.workers) as pool:
                for res in pool.imap(_worker, [(cfg, j) for j in jobs]):
                    out.extend(res)
                    prog.advance(len(res))
    return out


__all__ = ["OPERATOR_SKEW", "ScriptedDatasetConfig", "collect_scripted", "episode_plan", "record_episode"]
