import numpy as np
import pytest

from teleforge.robots.expert import ScriptedExpert
from teleforge.robots.sim_robot import SimRobot


@pytest.fixture
def robot() -> SimRobot:
    r = SimRobot(control_hz=20)
    r.connect()
    return r


def run_expert(robot: SimRobot, task: str, seed: int, quality: float = 1.0, failure: str | None = None,
               stop_on_success: bool = True) -> tuple[bool, ScriptedExpert, list[np.ndarray]]:
    """Run one episode to success or the time limit; returns (success, expert, actions)."""
    info = robot.reset(task, seed)
    expert = ScriptedExpert(task, quality=quality, failure=failure, seed=seed)
    expert.reset(robot)
    actions = []
    ok = False
    for _ in range(int(info.time_limit_s * robot.control_hz)):
        a = expert.act(robot)
        actions.append(a)
        robot.act(a)
        if robot.success():
            ok = True
            if stop_on_success:
                break
    return ok, expert, actions
