"""The one closed-loop runner on a fake arm: its success rule and its observation path, no sim needed."""

from __future__ import annotations

import numpy as np

from teleforge.dataset.images import jpeg_roundtrip
from teleforge.robots.types import ActResult, RobotState, TaskInfo
from teleforge.train_adapter.closed_loop import LoopConfig, run_episode
from teleforge.train_adapter.policy import PolicyInfo, PolicyObs


class FakeArm:
    """Records the actions it is sent; its state never changes."""

    def __init__(self) -> None:
        self.actions: list[np.ndarray] = []

    def observe(self) -> RobotState:
        return RobotState(joint_pos=np.zeros(7), joint_vel=np.zeros(7), ee_pos=np.array([0.5, 0.0, 0.3]),
                          ee_quat=np.array([1.0, 0, 0, 0]), gripper=1.0)

    def act(self, action: np.ndarray) -> ActResult:
        self.actions.append(np.asarray(action))
        return ActResult(np.zeros(3), np.array([1.0, 0, 0, 0]), np.zeros(7), float(action[6]))


class ScriptedScene:
    """Success is read from a fixed per-step script (one entry per act)."""

    def __init__(self, arm: FakeArm, script: list[bool]) -> None:
        self.arm, self.script = arm, script

    def reset(self, task: str, seed: int) -> TaskInfo:
        self.arm.actions.clear()
        return TaskInfo(task=task, instruction=f"do {task}", seed=seed, time_limit_s=1.0)

    def success(self) -> bool:
        return self.script[len(self.arm.actions) - 1]


class Recording:
    def __init__(self, chunk: int = 2) -> None:
        self.info = PolicyInfo(head="rec", chunk=chunk, cameras=("front",), image_size=16)
        self.obs: list[PolicyObs] = []

    def reset(self, instruction: str) -> None:
        pass

    def predict(self, obs: PolicyObs) -> np.ndarray:
        self.obs.append(obs)
        return np.zeros((self.info.chunk, 7), np.float32)


NOISE = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def _frames(camera: str, size: int) -> np.ndarray:
    assert size == 32
    return NOISE.copy()


def test_success_ends_the_episode_only_once_it_has_held_for_hold_steps() -> None:
    arm = FakeArm()
    script = [False, False, True, False, False, True, True, True, True, True]
    r = run_episode(Recording(), arm, ScriptedScene(arm, script), _frames, "pick_cube", 7, LoopConfig(max_steps=10, hold_steps=3,
                                                                                                         execute=2, render_size=32))
    assert r.success and r.ended_by == "success"
    assert r.first_success_step == 2  # the one-step blip counts as first seen, not as success
    assert r.steps == 8 and len(arm.actions) == 8  # held at steps 5, 6, 7
    assert r.chunks == 4 == len(r.latency_ms)


def test_a_predicate_that_never_holds_long_enough_runs_to_the_time_limit() -> None:
    arm = FakeArm()
    script = [True, False] * 5
    r = run_episode(Recording(), arm, ScriptedScene(arm, script), _frames, "pick_cube", 0, LoopConfig(max_steps=10, hold_steps=2,
                                                                                                         render_size=32))
    assert r.ended_by == "time_limit" and r.steps == 10
    assert not r.success  # the predicate is false at the last step
    script[-1] = True  # steps 8 and 9 hold: two steps, one short of hold_steps
    r = run_episode(Recording(), arm, ScriptedScene(arm, script), _frames, "pick_cube", 0, LoopConfig(max_steps=10, hold_steps=3,
                                                                                                         render_size=32))
    assert r.ended_by == "time_limit" and r.success  # true at the time limit still counts, as eval always did


def test_the_policy_sees_the_recorders_jpeg_and_the_video_keeps_every_step() -> None:
    arm = FakeArm()
    pol = Recording(chunk=3)
    r = run_episode(pol, arm, ScriptedScene(arm, [False] * 6), _frames, "stack", 1,
                    LoopConfig(max_steps=6, execute=3, render_size=32, jpeg_quality=95, video_camera="front"))
    seen = pol.obs[0].images["front"]
    assert np.array_equal(seen, jpeg_roundtrip(NOISE, 95)) and not np.array_equal(seen, NOISE)
    assert pol.obs[0].instruction == "do stack" and r.instruction == "do stack"
    assert len(r.frames) == 6 and np.array_equal(r.frames[0], seen) and np.array_equal(r.frames[1], NOISE)
    raw = Recording()
    run_episode(raw, arm, ScriptedScene(arm, [False] * 2), _frames, "stack", 1, LoopConfig(max_steps=2, render_size=32, jpeg_quality=None))
    assert np.array_equal(raw.obs[0].images["front"], NOISE)
