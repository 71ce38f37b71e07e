"""Small stand-ins for the session's collaborators, at their protocol boundary."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from teleforge.robots.types import ActResult, ArraySpec, RobotState, TaskInfo
from teleforge.teleop.command import Command, Event


class PointRobot:
    """A 'robot' whose end effector integrates the action; success when x > goal."""

    name = "point"
    embodiment = "test_point"
    n_joints = 3
    action_spec = ArraySpec((7,))
    state_spec: dict = {}

    def __init__(self, goal: float = 0.05, time_limit_s: float = 5.0) -> None:
        self.goal = goal
        self.time_limit_s = time_limit_s
        self.pos = np.zeros(3)
        self.grip = 0.0
        self.holds = 0
        self.acts = 0
        self.resets: list[int] = []
        self.connected = False

    def connect(self) -> None:
        self.connected = True

    def disconnect(self) -> None:
        self.connected = False

    def reset(self, task: str, seed: int) -> TaskInfo:
        self.pos = np.zeros(3)
        self.resets.append(seed)
        return TaskInfo(task=task, instruction=f"move right ({seed})", seed=seed, time_limit_s=self.time_limit_s)

    def observe(self) -> RobotState:
        return RobotState(self.pos.copy(), np.zeros(3), self.pos.copy(), np.array([1.0, 0, 0, 0]), 1.0 - self.grip, time.monotonic_ns())

    def _result(self) -> ActResult:
        return ActResult(self.pos.copy(), np.array([1.0, 0, 0, 0]), self.pos.copy(), self.grip)

    def act(self, action: np.ndarray) -> ActResult:
        self.acts += 1
        self.pos = self.pos + action[:3]
        self.grip = float(action[6])
        return self._result()

    def act_joints(self, q: np.ndarray, gripper: float) -> ActResult:
        self.pos = np.asarray(q, dtype=float)[:3]
        return self._result()

    def hold(self) -> ActResult:
        self.holds += 1
        return self._result()

    def success(self) -> bool:
        return bool(self.pos[0] > self.goal)

    def state_snapshot(self) -> np.ndarray:
        return self.pos.copy()


class ScriptDevice:
    """Plays a list of (twist, events) per read; afterwards zero twist, no events."""

    name = "script"

    def __init__(self, script: list[Command], autonomous: bool = False, speed: float = 0.0) -> None:
        self.script = list(script)
        self.autonomous = autonomous
        self.speed = speed
        self.alive = True

    def open(self) -> None: ...

    def close(self) -> None: ...

    def connected(self) -> bool:
        return self.alive

    def read(self) -> Command:
        if self.script:
            c = self.script.pop(0)
        else:
            c = Command()
        if self.speed and c.native_action is None:
            c.native_action = np.array([self.speed, 0, 0, 0, 0, 0, 0], dtype=np.float32)
        c.t_ns = time.monotonic_ns()
        return c


@dataclass
class Summary:
    episode_id: int


@dataclass
class Status:
    queue_depth: int = 0
    behind: bool = False


@dataclass
class ListRecorder:
    """Keeps episodes in memory; can be told to fail on the k-th submit."""

    fail_on_submit: int | None = None
    fail_with: type[Exception] = RuntimeError
    episodes: list[dict] = field(default_factory=list)
    current: dict | None = None
    discards: int = 0
    submits: int = 0

    def start_episode(self, start) -> None:
        self.current = {"start": start, "steps": []}

    def submit(self, rec) -> None:
        self.submits += 1
        if self.fail_on_submit is not None and self.submits >= self.fail_on_submit:
            raise self.fail_with("disk full (test)")
        self.current["steps"].append(rec)

    def finish(self, end) -> Summary:
        self.current["end"] = end
        self.episodes.append(self.current)
        self.current = None
        return Summary(len(self.episodes) - 1)

    def discard(self) -> None:
        self.discards += 1
        self.current = None

    def status(self) -> Status:
        return Status()


class PassGuard:
    """Guard with only e-stop latching: enough to exercise the session's contract."""

    def __init__(self) -> None:
        self.estop = False

    def handle_events(self, events) -> None:
        for e in events:
            if e == Event.ESTOP:
                self.estop = True
            elif e == Event.ESTOP_RELEASE:
                self.estop = False

    def command_to_action(self, cmd: Command, ee_pos, dt):
        if cmd.native_action is not None:
            return np.asarray(cmd.native_action, dtype=np.float32)
        return np.concatenate([np.asarray(cmd.twist, dtype=np.float32) * 0.01, [cmd.gripper]]).astype(np.float32)

    def filter(self, action, ee_pos, now_ns, last_ns, connected, dt, ee_quat=None):
        @dataclass
        class S:
            hold: bool
            estop: bool
            clamped: bool = False
            reason: str = ""

        if self.estop:
            return np.zeros(7, np.float32), S(True, True, reason="e-stop")
        if not connected:
            return np.zeros(7, np.float32), S(True, False, reason="device lost")
        return action, S(False, False)
