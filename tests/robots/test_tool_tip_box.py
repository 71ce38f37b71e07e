"""A held rotation must not carry the tool (TCP, flange, fingers) out of the workspace box (issue 11, item 6)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from teleforge.robots.sim_robot import SimRobot
from teleforge.teleop.command import Command
from teleforge.teleop.safety import SafetyConfig, SafetyGuard

SECONDS = 8.0
TOL = 0.01  # m: tracking slack of the sim controller around a box wall


def _points(robot: SimRobot) -> dict[str, np.ndarray]:
    """World positions of the TCP, the flange (hand origin) and both fingertips (pads)."""
    m, d = robot.model, robot.data
    out = {"tcp": robot.observe().ee_pos}
    for name, kind in (("hand", mujoco.mjtObj.mjOBJ_BODY), ("left_pad", mujoco.mjtObj.mjOBJ_GEOM),
                       ("right_pad", mujoco.mjtObj.mjOBJ_GEOM)):
        i = mujoco.mj_name2id(m, kind, name)
        out[name] = (d.xpos[i] if kind == mujoco.mjtObj.mjOBJ_BODY else d.geom_xpos[i]).copy()
    return out


@pytest.mark.parametrize("conservative", [False, True])
@pytest.mark.parametrize("twist", [(0, 0, 0, 1, 0, 0), (0, 0, 0, 0, 1, 0), (0, 0, 0, 0, -1, 0), (0, 0, 0, 1, 1, 0),
                                   (0, 0, -1, 0, 1, 0), (1, 0, 0, 0, -1, 0)])
def test_a_held_rotation_keeps_the_tool_inside_the_box(twist, conservative: bool) -> None:
    robot = SimRobot()
    robot.connect()
    robot.reset("pick_cube", 3)
    cfg = SafetyConfig.for_robot(robot)
    if conservative:
        cfg = SafetyConfig.conservative(**{k: getattr(cfg, k) for k in ("workspace_min", "workspace_max", "tool_points")})
    guard = SafetyGuard(cfg)
    lo, hi = np.array(cfg.workspace_min), np.array(cfg.workspace_max)
    dt = 1.0 / robot.config.control_hz
    now = 10**12
    worst = {}
    for _ in range(int(SECONDS / dt)):
        st = robot.observe()
        cmd = Command(twist=np.array(twist, np.float32), gripper=0.0)
        a = guard.command_to_action(cmd, st.ee_pos, dt)
        a, _ = guard.filter(a, st.ee_pos, now, now, True, dt, ee_quat=st.ee_quat)
        robot.act(a)
        now += int(dt * 1e9)
        for name, p in _points(robot).items():
            out = float(np.max(np.concatenate([lo - p, p - hi])))
            worst[name] = max(worst.get(name, -1.0), out)
    robot.disconnect()
    assert all(v <= TOL for v in worst.values()), worst
