"""The client drives a served sim exactly as the sim is driven directly."""

from __future__ import annotations

import time

import numpy as np
import pytest

from teleforge.errors import RobotBusyError, RobotError, RobotNotConnectedError, UnknownTaskError
from teleforge.robots.remote import RemoteRobot
from teleforge.robots.sim_robot import SimRobot
from teleforge.robots.types import ActResult, Robot, RobotState

from ..session.fakes import PointRobot


def _actions(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.uniform(-0.03, 0.03, size=(n, 7)).astype(np.float32)
    a[:, 3:6] *= 2
    a[:, 6] = rng.random(n) > 0.5
    return a


def test_remote_sim_matches_direct_sim_bit_for_bit(serve, clients):
    # A long watchdog: a loaded test box must not let the server hold between our acts.
    srv = serve(SimRobot(control_hz=20), watchdog_s=30.0)
    remote = clients(srv.address)
    direct = SimRobot(control_hz=20)
    remote.connect()
    direct.connect()
    assert remote.reset("pick_cube", 7) == direct.reset("pick_cube", 7)
    for i, a in enumerate(_actions(60, seed=3)):
        if i % 20 == 19:
            q = direct.observe().joint_pos + 0.01
            r, d = remote.act_joints(q, 0.5), direct.act_joints(q, 0.5)
        elif i % 15 == 14:
            r, d = remote.hold(), direct.hold()
        else:
            r, d = remote.act(a), direct.act(a)
        assert isinstance(r, ActResult)
        assert np.array_equal(r.target_joint_pos, d.target_joint_pos) and r.clamped == d.clamped
        assert np.array_equal(r.target_ee_quat, d.target_ee_quat) and r.ik_error == d.ik_error
    ro, do = remote.observe(), direct.observe()
    for f in ("joint_pos", "joint_vel", "ee_pos", "ee_quat"):
        assert np.array_equal(getattr(ro, f), getattr(do, f)), f
    assert ro.gripper == do.gripper
    assert remote.success() == direct.success()
    assert np.array_equal(remote.get_sim_state(), direct.get_sim_state())
    assert np.array_equal(remote.state_snapshot(), direct.state_snapshot())


def test_remote_robot_satisfies_the_robot_protocol_with_the_served_specs(serve, clients):
    srv = serve()
    remote = clients(srv.address)
    remote.connect()
    assert isinstance(remote, Robot)
    assert remote.embodiment == "teleforge_sim_panda" and remote.n_joints == 7
    assert remote.action_spec == srv.robot.action_spec
    assert remote.state_spec["joint_pos"] == srv.robot.state_spec["joint_pos"]
    assert remote.name == "remote:sim"
    # the privileged state the scripted expert reads is forwarded
    assert remote.control_hz == 20.0 and remote.binding == srv.robot.binding
    pos, mat = remote.target_pose
    assert pos.shape == (3,) and mat.shape == (3, 3)
    assert set(remote.object_states()) == set(srv.robot.object_states())


def test_observation_is_stamped_on_the_client_clock(serve, clients):
    srv = serve()
    remote = clients(srv.address)
    remote.connect()
    before = time.monotonic_ns()
    st = remote.observe()
    assert isinstance(st, RobotState)
    assert before <= st.t_ns <= time.monotonic_ns()


def test_capabilities_absent_on_the_served_robot_are_absent_on_the_client(serve, clients):
    srv = serve(PointRobot())  # no get_sim_state, no object_states
    remote = clients(srv.address)
    remote.connect()
    assert getattr(remote, "get_sim_state", None) is None
    assert getattr(remote, "binding", None) is None
    assert callable(getattr(remote, "state_snapshot", None))  # PointRobot has one
    info = remote.reset("t", 4)
    assert info.seed == 4 and info.instruction == "move right (4)"
    remote.act(np.array([0.1, 0, 0, 0, 0, 0, 0], np.float32))
    assert remote.success() and srv.robot.acts == 1


def test_robot_errors_arrive_as_the_same_error_types(serve, clients):
    srv = serve()
    remote = clients(srv.address)
    with pytest.raises(RobotNotConnectedError, match="connect"):
        remote.act(np.zeros(7))
    remote.connect()
    with pytest.raises(UnknownTaskError):
        remote.reset("juggle", 0)
    with pytest.raises(RobotError, match="7 finite numbers"):
        remote.act(np.array([np.nan] * 7))
    with pytest.raises(RobotError, match="no frobnicate"):
        remote._call("call", {"name": "frobnicate", "args": []})
    remote.act(np.zeros(7, np.float32))  # the server keeps serving after errors


def test_second_client_is_told_the_robot_is_busy_until_the_first_disconnects(serve, clients):
    srv = serve(lease_s=60.0)
    first, second = clients(srv.address), clients(srv.address)
    first.connect()
    with pytest.raises(RobotBusyError, match="in use by another client"):
        second.connect()
    with pytest.raises(RobotBusyError):
        second.observe()
    assert second.ping() > 0  # pings and specs stay open to everyone
    first.act(np.zeros(7, np.float32))
    first.disconnect()
    second.connect()
    second.act(np.zeros(7, np.float32))
    with pytest.raises(RobotBusyError):
        first.act(np.zeros(7, np.float32))


def test_silent_client_loses_its_claim_after_the_lease(serve, clients):
    srv = serve(lease_s=0.3)
    first, second = clients(srv.address), clients(srv.address)
    first.connect()
    deadline = time.monotonic() + 10
    while True:  # bounded: the lease is 0.3 s
        try:
            second.connect()
            break
        except RobotBusyError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    with pytest.raises(RobotBusyError):
        first.observe()
    assert srv.stats.clients == 2


def test_latency_stats_cover_every_request_kind(serve, clients):
    srv = serve()
    remote = clients(srv.address)
    remote.connect()
    for _ in range(20):
        remote.act(np.zeros(7, np.float32))
        remote.observe()
    act = remote.latency("act")
    assert act.n == 20 and 0 < act.p50_ms <= act.p99_ms <= act.max_ms
    report = remote.latency_report()
    assert {"act", "observe", "connect"} <= set(report)
    assert remote.latency().n == sum(s.n for s in report.values())
    assert np.isnan(remote.latency("hold").p50_ms)


def test_closed_client_releases_the_arm(serve):
    srv = serve(lease_s=60.0)
    with RemoteRobot(srv.address, timeout_s=5.0) as first:
        first.act(np.zeros(7, np.float32))
    second = RemoteRobot(srv.address, timeout_s=5.0)
    try:
        second.connect()  # not busy: close() released the claim
    finally:
        second.close()
