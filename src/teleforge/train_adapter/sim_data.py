"""Scripted demonstrations straight into memory, for pretraining the base (no recorder, no clock).

The same sim, expert and cameras as `teleforge collect --device scripted`, stepped as fast
as the CPU allows. Frames go through the same JPEG (quality 95) round trip at the same
collection size as recorded data, then the same resize as training and eval, so the base
sees what a fine-tune on a recorded dataset sees.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any, Callable

import cv2
import numpy as np

from teleforge.dataset.images import jpeg_roundtrip
from teleforge.progress import Progress, or_null, tracked
from teleforge.robots.expert import ScriptedExpert
from teleforge.robots.sim_cameras import SnapshotRenderer
from teleforge.robots.sim_robot import SimRobot
from teleforge.train_adapter.data import EpisodeArrays
from teleforge.train_adapter.frames import prep_images
from teleforge.train_adapter.normalize import state_vector

AUX_CENTER = np.array([0.5, 0.0, 0.05, 0.5, 0.0, 0.05], np.float32)


def aux_target(robot: Any, task: str) -> np.ndarray:
    """Where the named object is and where it must go, scaled to ~unit range (the grounding aid)."""
    objs = robot.object_states()
    b = robot.binding
    obj = objs[b["object"]].pos
    if task == "stack":
        goal = objs[b["support"]].pos
    elif task == "place_in_bin":
        goal = objs["bin"].pos
    elif task == "push_to_target":
        goal = objs["target_region"].pos
    else:
        goal = obj + np.array([0.0, 0.0, 0.1])
    return ((np.concatenate([obj, goal]).astype(np.float32) - AUX_CENTER) * 10).astype(np.float32)


class _Sim:
    """A SimRobot plus a synchronous renderer (one per process: GL contexts are per thread)."""

    def __init__(self, render_size: int, hz: float = 20.0) -> None:
        self.robot = SimRobot(control_hz=hz)
        self.robot.connect()
        self.renderer = SnapshotRenderer(self.robot.xml, render_size, render_size)

    def frames(self, cameras: tuple[str, ...]) -> dict[str, np.ndarray]:
        snap = self.robot.state_snapshot()
        return {c: self.renderer.render(snap, c).copy() for c in cameras}


def scripted_episode(sim: _Sim, task: str, seed: int, cameras: tuple[str, ...], image_size: int,
                     jpeg_quality: int = 95, hold_s: float = 0.5) -> tuple[EpisodeArrays, bool]:
    """Run the expert on one seed; return the episode and whether the task succeeded."""
    robot = sim.robot
    info = robot.reset(task, seed)
    expert = ScriptedExpert(task, seed=seed)
    expert.reset(robot)
    hz = robot.control_hz
    imgs, states, acts, aux = [], [], [], []
    ok_steps = done_steps = 0
    success = False
    for _ in range(int(info.time_limit_s * hz)):
        st = robot.observe()
        frames = {c: jpeg_roundtrip(f, jpeg_quality) for c, f in sim.frames(cameras).items()}
        a = np.asarray(expert.act(robot), np.float32)
        imgs.append(prep_images(frames, cameras, image_size))
        states.append(state_vector(st.ee_pos, st.ee_quat, st.gripper, st.joint_pos))
        acts.append(a)
        aux.append(aux_target(robot, task))
        robot.act(a)
        success = robot.success()
        ok_steps = ok_steps + 1 if success else 0
        done_steps = done_steps + 1 if expert.labels.get("phase") in ("hold", "dropped") else 0
        if ok_steps >= hold_s * hz or done_steps >= 1.5 * hz:
            break
    ep = EpisodeArrays(np.stack(imgs), np.stack(states), np.stack(acts), info.instruction, task, seed, np.stack(aux))
    return ep, success


def _worker(args: tuple) -> list[EpisodeArrays]:
    tasks_seeds, cameras, render_size, image_size = args
    cv2.setNumThreads(1)
    sim = _Sim(render_size)
    out = []
    for task, seed in tasks_seeds:
        ep, ok = scripted_episode(sim, task, seed, cameras, image_size)
        if ok:
            out.append(ep)
    sim.renderer.close()
    return out


def collect_arrays(tasks: dict[str, int], seed0: int = 1_000_000, cameras: tuple[str, ...] = ("front", "wrist"),
                   render_size: int = 128, image_size: int = 96, workers: int = 1,
                   progress: Progress | None = None) -> list[EpisodeArrays]:
    """Scripted successful episodes: ``tasks`` maps task -> episodes to try. Seeds are ``seed0 + i`` per task.

    Failed expert runs are dropped (the expert is not perfect). One progress unit per episode tried.
    """
    jobs: list[list[tuple[str, int]]] = []
    flat = [(t, seed0 + 100_000 * k + i) for k, (t, n) in enumerate(sorted(tasks.items())) for i in range(n)]
    per_job = 4
    for i in range(0, len(flat), per_job):
        jobs.append(flat[i:i + per_job])
    args = [(j, tuple(cameras), render_size, image_size) for j in jobs]
    return run_jobs(_worker, args, workers, f"scripted demos ({len(flat)})", progress)


def run_jobs(worker: Callable[[tuple], list[EpisodeArrays]], args: list[tuple], workers: int, label: str,
             progress: Progress | None = None) -> list[EpisodeArrays]:
    """Every job's episodes in job order: in this process (``workers <= 1``) or a spawn pool.

    ``args[i][0]`` is job i's list of seeds (one progress unit each); ``worker`` must be a
    module-level function (spawn pickles it by name).
    """
    out: list[EpisodeArrays] = []
    with tracked(or_null(progress), sum(len(a[0]) for a in args), label) as prog:
        if workers <= 1:
            for a in args:
                out.extend(worker(a))
                prog.advance(len(a[0]))
            return out
        with mp.get_context("spawn").Pool(workers) as pool:
            for res, a in zip(pool.imap(worker, args), args):
                out.extend(res)
                prog.advance(len(a[0]))
    return out
