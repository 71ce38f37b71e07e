"""The scripted expert as a Device: autonomous, labels its own failures."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from teleforge.robots.types import TaskInfo
from teleforge.teleop.command import Command


class ExpertDevice:
    """Drives the sim with ``robots.expert.ScriptedExpert`` using privileged state.

    ``quality`` 1.0 is the expert's best setting; below 1 it injects a failure
    mode (drawn per episode from the seed unless ``failure`` names one) and
    records the ground truth in the episode labels.
    """

    autonomous = True

    def __init__(self, quality: float = 1.0, failure: str | None = None, name: str = "scripted") -> None:
        self.name = name
        self.quality = float(quality)
        self.failure = failure
        self._expert: Any = None
        self._robot: Any = None

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def connected(self) -> bool:
        return True

    def on_reset(self, robot: Any, info: TaskInfo) -> None:
        from teleforge.robots.expert import ScriptedExpert

        self._robot = robot
        self._expert = ScriptedExpert(info.task, quality=self.quality, failure=self.failure, seed=info.seed)
        self._expert.reset(robot)

    def read(self) -> Command:
        if self._expert is None:
            return Command(t_ns=time.monotonic_ns())
        a = np.asarray(self._expert.act(self._robot), dtype=np.float32)
        return Command(gripper=float(a[6]), t_ns=time.monotonic_ns(), native_action=a)

    def labels(self) -> dict[str, Any]:
        return dict(self._expert.labels) if self._expert is not None else {}
