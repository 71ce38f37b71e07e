"""Reference policies that bracket a learned one: the scripted oracle (ceiling) and a do-nothing policy (floor)."""

from __future__ import annotations

from typing import Any

import numpy as np

from teleforge.errors import EvalError
from teleforge.robots.expert import ScriptedExpert
from teleforge.spec import ACTION_DIM
from teleforge.train_adapter.policy import PolicyInfo, PolicyObs


class ExpertPolicy:
    """The sim's scripted expert behind the Policy protocol: privileged, so it needs ``bind(robot)``.

    A sanity check for the evaluator (it should succeed nearly always) and the ceiling a
    learned policy is compared with.
    """

    def __init__(self, task: str = "pick_cube", cameras: tuple[str, ...] = ("front",), image_size: int = 224,
                 control_hz: float = 20.0) -> None:
        self.task = task
        self.info = PolicyInfo(head="expert", chunk=1, cameras=cameras, image_size=image_size, control_hz=control_hz,
                               extra={"tasks": [task], "kind": "scripted oracle"})
        self._robot: Any = None
        self._expert: Any = None

    def bind(self, robot: Any) -> None:
        """Read the sim's state from ``robot`` (a ``SimRobot``); the closed-loop runner calls this after each reset."""
        self._robot = robot

    def reset(self, instruction: str) -> None:
        if self._robot is None:
            raise EvalError("the scripted oracle reads the sim's state: the evaluator must call bind(robot) before reset()")
        self._expert = ScriptedExpert(self.task, seed=self._robot.task_info.seed)
        self._expert.reset(self._robot)

    def predict(self, obs: PolicyObs) -> np.ndarray:
        """One ``(1, 7)`` native action from the expert."""
        return np.asarray(self._expert.act(self._robot), dtype=np.float32)[None]


class ZeroPolicy:
    """Never moves, gripper open: the floor any trained policy must beat."""

    def __init__(self, cameras: tuple[str, ...] = ("front",), image_size: int = 224, chunk: int = 8,
                 control_hz: float = 20.0) -> None:
        self.info = PolicyInfo(head="zero", chunk=chunk, cameras=cameras, image_size=image_size, control_hz=control_hz)

    def reset(self, instruction: str) -> None:
        pass

    def predict(self, obs: PolicyObs) -> np.ndarray:
        """A ``(chunk, 7)`` array of zeros."""
        return np.zeros((self.info.chunk, ACTION_DIM), np.float32)


def reference_policy(name: str, task: str) -> ExpertPolicy | ZeroPolicy | None:
    """``"expert"`` (the scripted oracle for ``task``) or ``"zero"``; None for any other name (a checkpoint)."""
    if name == "expert":
        return ExpertPolicy(task)
    if name == "zero":
        return ZeroPolicy()
    return None
