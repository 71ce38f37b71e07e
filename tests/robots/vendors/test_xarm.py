"""The xArm adapter against a fake XArmAPI: units, modes, limits, faults, e-stop, lost link, shadow."""

from __future__ import annotations

import numpy as np
import pytest

from teleforge.errors import ControllerFaultError, RobotConnectionLostError, RobotDependencyError, RobotStoppedError
from teleforge.robots.types import Robot
from teleforge.robots.vendors.rotations import mat_from_rpy, quat_from_mat
from teleforge.robots.vendors.xarm import XArmConfig, XArmRobot
from teleforge.robots.vendors.xarm.robot import pose_from_sdk, pose_to_sdk

from .fake_xarm import FakeXArmAPI


def make(**kw: object) -> tuple[XArmRobot, FakeXArmAPI]:
    FakeXArmAPI.instances.clear()
    robot = XArmRobot(XArmConfig(host="10.0.0.2", control_hz=50, **kw), api_factory=FakeXArmAPI)  # type: ignore[arg-type]
    robot.connect()
    return robot, FakeXArmAPI.instances[-1]


def act(dx: float = 0.0, dy: float = 0.0, dz: float = 0.0, g: float = 0.0, rot: tuple[float, float, float] = (0, 0, 0)) -> np.ndarray:
    return np.array([dx, dy, dz, *rot, g], np.float32)


def test_is_a_robot_and_declares_its_limits() -> None:
    robot, _ = make()
    assert isinstance(robot, Robot)
    assert robot.n_joints == 7 and robot.embodiment == "ufactory_xarm7"
    js = robot.state_spec["joint_pos"]
    assert js.low is not None and js.high is not None and len(js.low) == 7
    assert np.isclose(js.low[1], np.radians(-113)) and np.isclose(js.high[3], np.radians(220))
    assert robot.action_spec.high is not None and np.isclose(robot.action_spec.high[0], 0.1 / 50)
    lines = robot.describe_limits()
    assert any("tool-tip workspace" in ln for ln in lines) and any("joint range" in ln for ln in lines)


def test_connect_enables_servo_mode_and_reads_si_units() -> None:
    robot, api = make()
    assert api.names()[:5] == ["motion_enable", "set_mode", "set_state", "set_gripper_mode", "set_gripper_enable"]
    assert api.mode == 1
    st = robot.observe()
    np.testing.assert_allclose(st.ee_pos, [0.4, 0.0, 0.3], atol=1e-6)  # mm -> m
    np.testing.assert_allclose(st.joint_pos[3], np.radians(40), atol=1e-6)  # deg -> rad
    assert st.gripper == pytest.approx(1.0)  # 850 pulses = open
    np.testing.assert_allclose(np.abs(st.ee_quat), np.abs(quat_from_mat(mat_from_rpy(np.pi, 0, 0))), atol=1e-6)


def test_unit_boundary_round_trips() -> None:
    mat = mat_from_rpy(0.3, -0.2, 1.1)
    sdk = pose_to_sdk(np.array([0.41, -0.05, 0.2]), mat)
    np.testing.assert_allclose(sdk[:3], [410.0, -50.0, 200.0])
    np.testing.assert_allclose(sdk[3:], np.degrees([0.3, -0.2, 1.1]), atol=1e-9)
    pos, back = pose_from_sdk(sdk)
    np.testing.assert_allclose(pos, [0.41, -0.05, 0.2])
    np.testing.assert_allclose(back, mat, atol=1e-12)


def test_act_streams_servo_poses_in_mm_and_degrees() -> None:
    robot, api = make()
    res = robot.act(act(dx=0.001, g=1.0))
    sent = [c for c in api.calls if c.method == "set_servo_cartesian"][-1]
    assert sent.kwargs["is_radian"] is False
    np.testing.assert_allclose(sent.args[0][:3], [401.0, 0.0, 300.0], atol=1e-6)
    grip = [c for c in api.calls if c.method == "set_gripper_position"][-1]
    assert grip.args[0] == pytest.approx(0.0)  # 1 = closed -> 0 pulses
    np.testing.assert_allclose(res.target_ee_pos, [0.401, 0.0, 0.3], atol=1e-6)
    assert not res.clamped
    # the gripper is sent only when its target moves
    robot.act(act(dx=0.001, g=1.0))
    assert api.names().count("set_gripper_position") == 1


def test_speed_and_workspace_limits_clamp_the_tool_tip() -> None:
    robot, api = make()
    res = robot.act(act(dx=0.05))  # 2.5 m/s at 50 Hz: capped to 0.1 m/s -> 2 mm
    assert res.clamped
    np.testing.assert_allclose(res.target_ee_pos[0], 0.402, atol=1e-6)
    for _ in range(200):  # walk up against the z ceiling (0.5 m)
        res = robot.act(act(dz=0.002))
        robot.observe()
    assert res.clamped and res.target_ee_pos[2] == pytest.approx(0.5, abs=1e-6)
    last = [c for c in api.calls if c.method == "set_servo_cartesian"][-1]
    assert last.args[0][2] <= 500.0 + 1e-6


def test_leash_keeps_the_target_near_the_measured_tip() -> None:
    robot, api = make()
    api.set_servo_cartesian = lambda *a, **k: 0  # type: ignore[method-assign]  # the arm does not follow
    for _ in range(100):
        res = robot.act(act(dx=0.002))
        robot.observe()
    assert res.target_ee_pos[0] <= 0.4 + robot.limits.leash + 1e-6


def test_joint_streaming_respects_joint_range_and_speed() -> None:
    robot, api = make()
    before = np.radians([0, -20, 0, 40, 0, 60, 0])
    robot.observe()
    res = robot.act_joints(np.full(7, 3.0), 0.0)
    assert res.clamped
    call = [c for c in api.calls if c.method == "set_servo_angle_j"][-1]
    step = np.radians(np.asarray(call.args[0])) - before
    assert np.all(np.abs(step) <= robot.limits.max_joint_speed / 50 + 1e-9)


def test_home_uses_position_mode_slowly_then_returns_to_servo() -> None:
    robot, api = make(home_joints=(0.0, -0.3, 0.0, 0.8, 0.0, 1.1, 0.0))
    info = robot.reset("wipe", 3)
    names = api.names()
    i = names.index("set_servo_angle")
    assert api.calls[i].kwargs["wait"] is True and api.calls[i].mode == 0
    assert names[i + 1 : i + 3] == ["set_mode", "set_state"] and api.mode == 1
    assert info.task == "wipe" and info.seed == 3 and not robot.success()


def test_hold_resends_the_measured_pose() -> None:
    robot, api = make()
    robot.act(act(dx=0.002))
    robot.observe()
    robot.hold()
    last = [c for c in api.calls if c.method == "set_servo_cartesian"][-1]
    np.testing.assert_allclose(last.args[0][:3], api.pose[:3])


@pytest.mark.parametrize("code,err,word", [(1, RobotStoppedError, "emergency"), (31, RobotStoppedError, "protective"),
                                           (10, ControllerFaultError, "C10")])
def test_controller_errors_become_typed(code: int, err: type, word: str) -> None:
    robot, api = make()
    api.inject_error(code)
    with pytest.raises(err, match=word):
        robot.observe()
    with pytest.raises(err):
        robot.act(act(dx=0.001))


def test_estop_code_on_a_command() -> None:
    robot, api = make()
    api.return_code = -9
    with pytest.raises(RobotStoppedError, match="emergency stop"):
        robot.act(act(dx=0.001))


def test_dropped_connection_and_slow_replies() -> None:
    robot, api = make()
    api.drop()
    with pytest.raises(RobotConnectionLostError):
        robot.observe()
    robot, api = make(reply_timeout_s=0.01)
    api.reply_delay_s = 0.05
    with pytest.raises(RobotConnectionLostError, match="to reply"):
        robot.observe()


def test_shadow_mode_reads_but_sends_no_motion() -> None:
    robot, api = make(shadow=True)
    assert api.motion_calls() == []  # not even motion_enable
    robot.observe()
    robot.act(act(dx=0.001, g=1.0))
    robot.hold()
    assert api.motion_calls() == []
    assert any(s.startswith("set_servo_cartesian([401") for s in robot.shadow_log)
    assert any("SHADOW" in ln for ln in robot.describe_limits())


def test_velocity_mode_lapses_quickly() -> None:
    robot, api = make(mode="velocity")
    assert api.mode == 5
    robot.act(act(dy=0.001))
    c = [c for c in api.calls if c.method == "vc_set_cartesian_velocity"][-1]
    np.testing.assert_allclose(c.args[0][:3], [0.0, 50.0, 0.0], atol=1e-6)  # 1 mm / 20 ms = 50 mm/s
    robot.hold()
    c = [c for c in api.calls if c.method == "vc_set_cartesian_velocity"][-1]
    assert c.args[0] == [0.0] * 6


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_xarm(name: str, *a: object, **k: object) -> object:
        if name.startswith("xarm"):
            raise ImportError("No module named 'xarm'")
        return real(name, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_xarm)
    with pytest.raises(RobotDependencyError, match=r"teleforge\[xarm\]"):
        XArmRobot(XArmConfig()).connect()
