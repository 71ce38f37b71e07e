"""A minimal closed-loop check used while training (the full `teleforge eval` lives in eval.py).

SimRobot.reset(task, seed) -> synchronous renders at collection size -> PolicyObs.from_robot
-> execute ``execute`` actions of each predicted chunk; success = the task predicate held at
any step before the time limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class RolloutResult:
    task: str
    seeds: list[int]
    successes: list[bool]
    steps: list[int]

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.successes)) if self.successes else 0.0


def run_episode(policy: Any, sim: Any, task: str, seed: int, execute: int | None = None) -> tuple[bool, int]:
    from teleforge.train_adapter.policy import PolicyObs

    robot = sim.robot
    info = robot.reset(task, seed)
    policy.reset(info.instruction)
    n_exec = execute or policy.info.chunk
    limit = int(info.time_limit_s * robot.control_hz)
    step = 0
    while step < limit:
        obs = PolicyObs.from_robot(robot.observe(), sim.frames(policy.info.cameras), info.instruction)
        chunk = policy.predict(obs)
        for a in chunk[:n_exec]:
            robot.act(a)
            step += 1
            if robot.success():
                return True, step
            if step >= limit:
                break
    return False, step


def _worker(args: tuple) -> list[tuple[bool, int]]:
    ckpt, head, task, seeds, execute, render_size = args
    import torch

    torch.set_num_threads(1)
    from teleforge.train_adapter.checkpoint import load_policy
    from teleforge.train_adapter.sim_data import _Sim

    pol = load_policy(ckpt, head)
    sim = _Sim(render_size)
    return [run_episode(pol, sim, task, s, execute) for s in seeds]


def quick_eval(ckpt: str, task: str = "pick_cube", seeds: list[int] | None = None, head: str | None = None,
               execute: int | None = None, workers: int = 1, render_size: int = 128) -> RolloutResult:
    """Success over ``seeds`` (default: 50 seeds from 10_000, disjoint from pretraining's)."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    seeds = list(seeds if seeds is not None else range(10_000, 10_050))
    parts = [seeds[i::workers] for i in range(max(1, workers))]
    args = [(str(ckpt), head, task, p, execute, render_size) for p in parts if p]
    if workers <= 1:
        res = [_worker(a) for a in args]
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(len(args)) as pool:
            res = pool.map(_worker, args)
    by_seed = {}
    for a, r in zip(args, res):
        for s, (ok, n) in zip(a[3], r):
            by_seed[s] = (ok, n)
    return RolloutResult(task, seeds, [by_seed[s][0] for s in seeds], [by_seed[s][1] for s in seeds])
