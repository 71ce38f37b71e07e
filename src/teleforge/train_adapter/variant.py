"""A held-out fine-tune target: ``carry_left`` — pick up the named cube, then carry it 15 cm to the left.

Why this one: the bundled base was pretrained on pick_cube, place_in_bin, push_to_target and
stack only. ``carry_left`` is a new *goal* with new instruction words ("carry", "left" are not
in the tokenizer's vocabulary: hashed buckets the base never learned to read), in the default
scene and colours — so the sim makes it for free (no new object or colour), the base's grasp
still transfers, and a frozen-vision fine-tune can learn it (the change is in what to do after
the grasp, not in what to see). The base lifts the cube straight up, so it scores ~0 %.

Success: the named cube's bottom is more than 8 cm above the table and its centre has moved
at least ``LEFT_MIN`` (12 cm) toward +y (the robot's left) from where the episode started,
held for 0.5 s, within 20 s. The scripted expert runs the pick_cube phase machine and, once the
cube is up, moves the TCP ``LEFT_DY`` (15 cm) to +y at carrying height and holds.

Training seeds are ``TRAIN_SEED0 + i`` (20 000+); evaluation uses the held-out 9 000 000+.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from teleforge.dataset.images import jpeg_roundtrip
from teleforge.progress import Progress, or_null, tracked
from teleforge.robots.expert import ScriptedExpert
from teleforge.robots.types import TaskInfo
from teleforge.train_adapter.data import EpisodeArrays
from teleforge.train_adapter.frames import prep_images
from teleforge.train_adapter.normalize import state_vector

VARIANT = "carry_left"
TEMPLATES = (
    "pick up the {object} and carry it to the left",
    "carry the {object} to the left",
    "lift the {object} and carry it left",
    "grab the {object} and carry it to the left side",
)
LEFT_DY = 0.15  # m the expert carries the cube toward +y
LEFT_MIN = 0.12  # m of +y displacement the predicate needs
LIFT_MIN = 0.08  # m: the cube's bottom above the table
CARRY_Z = 0.25  # TCP height while carrying, m (the expert's pick height)
TIME_LIMIT_S = 20.0
TRAIN_SEED0 = 20_000
EVAL_SEED0 = 9_000_000


class CarryLeftScene:
    """A ``SimRobot`` set up as the ``carry_left`` task (the ``closed_loop.TaskScene`` protocol)."""

    def __init__(self, robot: Any) -> None:
        self.robot = robot
        self.y0 = 0.0
        self.obj = ""

    def reset(self, task: str = VARIANT, seed: int = 0) -> TaskInfo:
        """The pick_cube layout of ``seed`` with a carry-left instruction; ``task`` is ignored (always carry_left)."""
        info = self.robot.reset("pick_cube", seed)
        self.obj = self.robot.binding["object"]
        self.y0 = float(self.robot.object_states()[self.obj].pos[1])
        rng = np.random.default_rng(seed + 7)
        text = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(object=f"{self.obj} cube")
        return TaskInfo(task=VARIANT, instruction=text, seed=int(seed), time_limit_s=TIME_LIMIT_S,
                        extras={**info.extras, "start_y": self.y0})

    def success(self) -> bool:
        """The cube is up (bottom > 8 cm) and at least 12 cm left of where it started."""
        cube = self.robot.object_states()[self.obj]
        return bool(cube.bottom > LIFT_MIN and float(cube.pos[1]) - self.y0 >= LEFT_MIN)


class CarryLeftExpert:
    """The pick_cube expert until the cube is up, then a straight carry to +y at carrying height."""

    def __init__(self, seed: int) -> None:
        self.pick = ScriptedExpert("pick_cube", seed=seed)
        self.goal: np.ndarray | None = None

    def reset(self, robot: Any) -> None:
        self.pick.reset(robot)
        self.goal = None

    def act(self, robot: Any) -> np.ndarray:
        """The next native (7,) action."""
        if self.goal is None and self.pick.labels.get("phase") == "hold":
            tpos = robot.target_pose[0]
            self.goal = np.array([tpos[0], tpos[1] + LEFT_DY, CARRY_Z])
        if self.goal is None:
            return np.asarray(self.pick.act(robot), np.float64)
        tpos, tmat = robot.target_pose
        step_t = float(robot.action_spec.high[0])
        step_r = float(robot.action_spec.high[3])
        d = np.clip(self.goal - tpos, -step_t, step_t)
        rot = np.zeros(3)
        rot[:2] = np.clip(np.cross(tmat[:, 2], np.array([0.0, 0.0, -1.0]))[:2], -step_r, step_r)  # keep pointing down
        return np.concatenate([d, rot, [1.0]])


def scripted_carry_left(sim: Any, seed: int, cameras: tuple[str, ...], image_size: int,
                        jpeg_quality: int = 95, hold_s: float = 0.5) -> tuple[EpisodeArrays, bool]:
    """One expert demo of ``carry_left`` on ``seed`` (a ``sim_data._Sim``), frames as recorded data; and whether it succeeded."""
    robot = sim.robot
    scene = CarryLeftScene(robot)
    info = scene.reset(VARIANT, seed)
    expert = CarryLeftExpert(seed)
    expert.reset(robot)
    hz = robot.control_hz
    imgs, states, acts = [], [], []
    held, ok = 0, False
    for _ in range(int(TIME_LIMIT_S * hz)):
        st = robot.observe()
        frames = {c: jpeg_roundtrip(f, jpeg_quality) for c, f in sim.frames(cameras).items()}
        a = np.asarray(expert.act(robot), np.float32)
        imgs.append(prep_images(frames, cameras, image_size))
        states.append(state_vector(st.ee_pos, st.ee_quat, st.gripper, st.joint_pos))
        acts.append(a)
        robot.act(a)
        held = held + 1 if scene.success() else 0
        if held >= hold_s * hz:
            ok = True
            break
    return EpisodeArrays(np.stack(imgs), np.stack(states), np.stack(acts), info.instruction, VARIANT, seed), ok


def _collect_worker(args: tuple[list[int], tuple[str, ...], int]) -> list[EpisodeArrays]:
    import cv2

    from teleforge.train_adapter.sim_data import _Sim

    seeds, cameras, image_size = args
    cv2.setNumThreads(1)
    sim = _Sim(128)
    out = [ep for ep, ok in (scripted_carry_left(sim, s, cameras, image_size) for s in seeds) if ok]
    sim.renderer.close()
    return out


def collect_carry_left(n: int, seed0: int = TRAIN_SEED0, cameras: tuple[str, ...] = ("front", "wrist"),
                       image_size: int = 96, workers: int = 2, progress: Progress | None = None) -> list[EpisodeArrays]:
    """Successful scripted ``carry_left`` demos from seeds ``seed0 .. seed0 + n - 1`` (failed expert runs dropped)."""
    seeds = list(range(seed0, seed0 + n))
    from teleforge.train_adapter.sim_data import run_jobs  # lazy, like _Sim: the sim loads only to collect

    jobs = [(seeds[i:i + 5], tuple(cameras), image_size) for i in range(0, n, 5)]
    return run_jobs(_collect_worker, jobs, workers, f"scripted {VARIANT} demos ({n})", progress)


@dataclass
class VariantEval:
    """Closed-loop ``carry_left`` results of one checkpoint and head."""

    checkpoint: str
    head: str
    seeds: list[int]
    successes: list[bool]
    seconds: float
    latency_ms_p50: float = float("nan")
    flow_steps: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return sum(self.successes) / max(1, len(self.successes))

    def to_dict(self) -> dict[str, Any]:
        from teleforge.train_adapter.eval import wilson_interval

        k, n = sum(self.successes), len(self.successes)
        return {"task": VARIANT, "checkpoint": self.checkpoint, "head": self.head, "episodes": n, "successes": k,
                "success_rate": k / max(1, n), "ci95": list(wilson_interval(k, n)), "seeds": [self.seeds[0], self.seeds[-1]],
                "seconds": round(self.seconds, 1), "latency_ms_p50": self.latency_ms_p50, "flow_steps": self.flow_steps}


def _eval_worker(args: tuple[str, str, list[int], int | None]) -> tuple[list[bool], list[float]]:
    os.environ.setdefault("MUJOCO_GL", "egl")
    import torch

    from teleforge.robots.sim_cameras import render
    from teleforge.robots.sim_robot import SimRobot
    from teleforge.train_adapter.checkpoint import load_policy
    from teleforge.train_adapter.closed_loop import LoopConfig, run_episode

    ckpt, head, seeds, flow_steps = args
    torch.set_num_threads(1)
    pol = load_policy(ckpt, head)
    if flow_steps:
        pol.model.cfg.flow_steps = int(flow_steps)
    robot = SimRobot(control_hz=pol.info.control_hz)
    robot.connect()
    scene = CarryLeftScene(robot)
    size = int(pol.info.extra.get("render_size") or 128)
    hz = pol.info.control_hz
    loop = LoopConfig(max_steps=int(TIME_LIMIT_S * hz), hold_steps=int(round(0.5 * hz)), execute=pol.info.chunk, render_size=size)
    ok, lat = [], []
    try:
        for s in seeds:
            r = run_episode(pol, robot, scene, lambda cam, px: render(robot, cam, px, px), VARIANT, s, loop)
            ok.append(r.success)
            lat.extend(r.latency_ms)
    finally:
        robot.disconnect()
    return ok, lat


def evaluate_carry_left(checkpoint: str, head: str = "flow", episodes: int = 50, seed0: int = EVAL_SEED0, workers: int = 2,
                        flow_steps: int | None = None, progress: Progress | None = None) -> VariantEval:
    """Closed-loop ``carry_left`` success of ``checkpoint`` on seeds ``seed0 ..`` in ``workers`` spawn processes."""
    seeds = list(range(seed0, seed0 + episodes))
    w = max(1, min(workers, episodes))
    parts = [seeds[i::w] for i in range(w)]
    t0 = time.perf_counter()
    res: dict[int, bool] = {}
    lat: list[float] = []
    with tracked(or_null(progress), w, f"eval {VARIANT} {head} ({episodes} episodes)") as prog:
        jobs = [(str(checkpoint), head, p, flow_steps) for p in parts]
        if w == 1:
            outs = [_eval_worker(jobs[0])]
        else:
            with mp.get_context("spawn").Pool(w) as pool:
                outs = pool.map(_eval_worker, jobs)
        for p, (ok, la) in zip(parts, outs):
            res.update(zip(p, ok))
            lat.extend(la)
            prog.advance(1)
    return VariantEval(str(checkpoint), head, seeds, [res[s] for s in seeds], time.perf_counter() - t0,
                       round(float(np.median(lat)), 2) if lat else float("nan"), flow_steps)
