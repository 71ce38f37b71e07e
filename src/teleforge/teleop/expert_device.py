"""The scripted expert as a Device: autonomous, labels its own failures."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from teleforge.robots.expert import FAILURES, ScriptedExpert
from teleforge.robots.types import ControlRate, Robot, TaskInfo
from teleforge.spec import GRIPPER_INDEX
from teleforge.teleop.command import Command, Event

FAILURE_KINDS: tuple[str, ...] = FAILURES
_DEFAULT_HZ = 20.0  # control rate assumed for a robot that does not declare one


class ExpertDevice:
    """Drives the sim with ``robots.expert.ScriptedExpert`` using privileged state.

    ``quality`` 1.0 is the expert's best setting; below 1 the expert injects a
    failure mode. With ``failure_rate`` set, each episode independently gets a
    failure with that probability (kind from ``failures``), drawn from the scene
    seed so a collection is reproducible. The ground truth goes to the episode labels.
    """

    autonomous = True

    def __init__(
        self,
        quality: float = 1.0,
        failure: str | None = None,
        failure_rate: float | None = None,
        failures: tuple[str, ...] = FAILURE_KINDS,
        name: str = "scripted",
    ) -> None:
        self.name = name
        self.quality = float(quality)
        self.failure = failure
        self.failure_rate = failure_rate
        self.failures = failures
        self._expert: ScriptedExpert | None = None
        self._robot: Robot | None = None
        self._finished_steps = 0
        # Once its script is finished (holding still, or having dropped the cube),
        # the expert waits this long and then stops the episode, as an operator
        # would press "save": the session labels it with the task's predicate.
        self.give_up_after_s = 1.5

    def open(self) -> None:
        """Nothing to open: the expert lives in the process."""
        pass

    def close(self) -> None:
        """Nothing to release."""
        pass

    def connected(self) -> bool:
        """Always True."""
        return True

    def _episode_setting(self, seed: int) -> tuple[float, str | None]:
        if self.failure_rate is None:
            return self.quality, self.failure
        rng = np.random.default_rng([seed, 0x7E1E])
        if rng.random() >= self.failure_rate:
            return 1.0, None
        kind = self.failure or str(rng.choice(self.failures))
        return min(self.quality, 0.5), kind

    def on_reset(self, robot: Robot, info: TaskInfo) -> None:
        """Start a fresh expert for the new scene (quality and failure drawn from its seed)."""
        quality, failure = self._episode_setting(info.seed)
        self._robot = robot
        self._expert = ScriptedExpert(info.task, quality=quality, failure=failure, seed=info.seed)
        self._expert.reset(robot)
        self._finished_steps = 0

    def read(self) -> Command:
        """The expert's next native action (and STOP once it has given up)."""
        if self._expert is None:
            return Command(t_ns=time.monotonic_ns())
        a = np.asarray(self._expert.act(self._robot), dtype=np.float32)
        events: list[Event] = []
        if self._expert.labels.get("phase") in ("hold", "dropped"):
            self._finished_steps += 1
            hz = float(self._robot.control_hz) if isinstance(self._robot, ControlRate) else _DEFAULT_HZ
            if self._finished_steps > self.give_up_after_s * hz:
                events.append(Event.STOP)
        else:
            self._finished_steps = 0
        return Command(gripper=float(a[GRIPPER_INDEX]), t_ns=time.monotonic_ns(), native_action=a, events=events)

    def labels(self) -> dict[str, Any]:
        """The expert's ground-truth labels for the current episode."""
        return dict(self._expert.labels) if self._expert is not None else {}
