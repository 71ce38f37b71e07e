"""The UR adapter against fake ur_rtde interfaces: units, positional calls, limits, stops, lost link, shadow."""

from __future__ import annotations

import numpy as np
import pytest

from teleforge.errors import ControllerFaultError, RobotConnectionLostError, RobotError, RobotStoppedError
from teleforge.robots.types import Robot
from teleforge.robots.vendors.rotations import mat_from_rotvec, quat_from_mat
from teleforge.robots.vendors.ur import URConfig, URRobot
from teleforge.robots.vendors.ur.robot import pose_from_sdk, pose_to_sdk

from .fake_ur import FakeUR


def make(**kw: object) -> tuple[URRobot, FakeUR]:
    ur = FakeUR()
    robot = URRobot(URConfig(host="10.0.0.3", control_hz=125, **kw), ur.control_factory, ur.receive_factory)  # type: ignore[arg-type]
    robot.connect()
    return robot, ur


def act(dx: float = 0.0, dz: float = 0.0, rz: float = 0.0) -> np.ndarray:
    return np.array([dx, 0.0, dz, 0.0, 0.0, rz, 0.0], np.float32)


def test_is_a_robot_with_declared_limits() -> None:
    robot, _ = make()
    assert isinstance(robot, Robot) and robot.n_joints == 6 and robot.embodiment == "ur_ur5e"
    assert robot.state_spec["joint_pos"].high == (pytest.approx(np.radians(355)),) * 6


def test_observe_converts_rotation_vectors() -> None:
    robot, _ = make()
    st = robot.observe()
    np.testing.assert_allclose(st.ee_pos, [0.4, 0.0, 0.3], atol=1e-6)
    np.testing.assert_allclose(np.abs(st.ee_quat), np.abs(quat_from_mat(mat_from_rotvec([np.pi, 0, 0]))), atol=1e-6)


def test_unit_boundary_round_trips() -> None:
    rv = np.array([0.1, -0.7, 0.4])
    sdk = pose_to_sdk(np.array([0.3, 0.1, 0.2]), mat_from_rotvec(rv))
    np.testing.assert_allclose(sdk, [0.3, 0.1, 0.2, *rv], atol=1e-9)
    pos, mat = pose_from_sdk(sdk)
    np.testing.assert_allclose(mat, mat_from_rotvec(rv), atol=1e-12)


def test_servo_l_is_called_positionally_with_period_lookahead_gain() -> None:
    robot, ur = make(lookahead_time=0.05, gain=500)
    robot.act(act(dx=0.0005, rz=0.002))
    c = [c for c in ur.calls if c.method == "servoL"][-1]
    pose, speed, acc, t, lookahead, gain = c.args
    assert c.kwargs == {} and t == pytest.approx(1 / 125) and lookahead == 0.05 and gain == 500
    np.testing.assert_allclose(pose[:3], [0.4005, 0.0, 0.3], atol=1e-9)


def test_workspace_and_speed_caps() -> None:
    robot, ur = make()
    res = robot.act(act(dx=1.0))
    assert res.clamped and res.target_ee_pos[0] == pytest.approx(0.4 + 0.1 / 125, abs=1e-6)
    for _ in range(400):
        res = robot.act(act(dz=-0.01))
        robot.observe()
    assert res.target_ee_pos[2] == pytest.approx(0.05, abs=1e-6)  # the floor of the tool-tip box


def test_velocity_mode_speed_l_and_speed_stop() -> None:
    robot, ur = make(mode="velocity")
    robot.act(act(dx=0.0004))
    c = [c for c in ur.calls if c.method == "speedL"][-1]
    np.testing.assert_allclose(c.args[0][:3], [0.05, 0.0, 0.0], atol=1e-6)  # 0.4 mm per 8 ms
    robot.hold()
    assert ur.names()[-1] == "speedStop"


def test_home_is_a_slow_blocking_move_j() -> None:
    robot, ur = make(home_joints=(0.0, -1.2, 1.2, -1.57, -1.57, 0.0))
    robot.reset("stack", 0)
    c = [c for c in ur.calls if c.method == "moveJ"][-1]
    assert c.args[1] <= robot.limits.max_joint_speed and c.args[3] is False
    with pytest.raises(RobotError, match="home_joints"):
        URRobot(URConfig(home_joints=(0.0,)))


@pytest.mark.parametrize("flag,word", [("protective", "protective stop"), ("estop", "emergency stop")])
def test_stops_become_typed(flag: str, word: str) -> None:
    robot, ur = make()
    setattr(ur, flag, True)
    with pytest.raises(RobotStoppedError, match=word):
        robot.observe()
    with pytest.raises(RobotStoppedError, match=word):
        robot.act(act(dx=0.0005))  # servoL returns False: the adapter asks why


def test_control_script_stopping_is_a_fault() -> None:
    robot, ur = make()
    ur.program_running = False
    with pytest.raises(ControllerFaultError, match="control script"):
        robot.observe()


def test_lost_link_and_slow_replies() -> None:
    robot, ur = make()
    ur.connected = False
    with pytest.raises(RobotConnectionLostError):
        robot.observe()
    robot, ur = make(reply_timeout_s=0.01)
    ur.reply_delay_s = 0.05
    with pytest.raises(RobotConnectionLostError, match="to reply"):
        robot.act(act(dx=0.0005))


def test_shadow_never_opens_the_control_interface() -> None:
    robot, ur = make(shadow=True)
    assert ur.control_opened == 0
    robot.observe()
    robot.act(act(dx=0.0005))
    robot.hold()
    robot.disconnect()
    assert not any(n in ur.names() for n in ("servoL", "speedL", "servoStop", "moveJ"))
    assert robot.shadow_log[0].startswith("servoL([0.4005")


def test_disconnect_stops_and_releases() -> None:
    robot, ur = make()
    robot.disconnect()
    assert ur.names()[-4:] == ["servoStop", "stopScript", "control.disconnect", "receive.disconnect"]
