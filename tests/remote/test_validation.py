"""Every server entry point checks finiteness, shape and type BEFORE the robot is touched.

A refused request gets a typed error reply; the arm, the sim state and the
watchdog are exactly as they were.
"""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from teleforge.errors import RemoteRobotError, RobotError

from .conftest import CountingSim

NAN, INF = float("nan"), float("inf")


@pytest.fixture
def rig(serve, clients):
    srv = serve(CountingSim(control_hz=20), watchdog_s=30.0)
    remote = clients(srv.address)
    remote.connect()
    remote.reset("pick_cube", 0)
    remote.act(np.array([0.01, 0, 0, 0, 0, 0, 1.0], np.float32))
    return srv, remote


def _untouched(srv, call) -> str:
    """Run ``call`` (which must be refused) and check nothing about the arm changed; returns the error text."""
    sim = srv.robot
    before = (sim.get_sim_state(), sim.acts, sim.holds, srv._armed, srv._last_motion)
    with pytest.raises(RemoteRobotError) as err:
        call()
    after = (sim.get_sim_state(), sim.acts, sim.holds, srv._armed, srv._last_motion)
    assert np.array_equal(before[0], after[0]) and np.all(np.isfinite(after[0])), "the sim state changed"
    assert before[1:] == after[1:], "the robot or the watchdog was touched"
    return str(err.value)


def _ext_array(dtype: str, shape: list, raw: bytes) -> msgpack.ExtType:
    return msgpack.ExtType(1, msgpack.packb([dtype, shape, raw]))


BAD_ACTIONS = [
    np.array([NAN, 0, 0, 0, 0, 0, 0]),
    np.array([0, 0, 0, 0, 0, 0, NAN]),
    np.array([0, INF, 0, 0, 0, 0, 0]),
    np.array([0, 0, 0, 0, 0, -INF, 1.0]),
    np.zeros(6),
    np.zeros(8),
    np.zeros((1, 7)),
    np.zeros((7, 1)),
    np.zeros(7, bool),
    np.zeros(7, np.complex128),
    "0000000",
    None,
    1.0,
    ["a"] * 7,
    [0, 0, 0, 0, 0, 0, None],
    {"dx": 0.0},
    [[0] * 7],
    [True] * 7,
]


@pytest.mark.parametrize("bad", BAD_ACTIONS, ids=lambda b: repr(b)[:40])
def test_act_refuses_non_finite_misshapen_and_mistyped_actions(rig, bad):
    srv, remote = rig
    msg = _untouched(srv, lambda: remote._call("act", {"action": bad}))
    assert "act" in msg and "7" in msg
    remote.act(np.zeros(7, np.float32))  # and keeps serving


def test_act_without_an_action_is_refused(rig):
    srv, remote = rig
    _untouched(srv, lambda: remote._call("act", {}))
    _untouched(srv, lambda: remote._call("act", {"action": np.zeros(7), "extra": 1}))


@pytest.mark.parametrize("gripper", [NAN, INF, -INF, "0.5", None, [0.5], True])
def test_act_joints_refuses_a_bad_gripper(rig, gripper):
    srv, remote = rig
    q = srv.robot.observe().joint_pos
    msg = _untouched(srv, lambda: remote._call("act_joints", {"joint_targets": q, "gripper": gripper}))
    assert "gripper" in msg


@pytest.mark.parametrize(
    "bad", [np.full(7, NAN), np.array([0, 0, 0, INF, 0, 0, 0]), np.zeros(6), np.zeros((7, 1)), "q", None, ["x"] * 7]
)
def test_act_joints_refuses_bad_joint_targets(rig, bad):
    srv, remote = rig
    msg = _untouched(srv, lambda: remote._call("act_joints", {"joint_targets": bad, "gripper": 0.5}))
    assert "joint_targets" in msg


def test_act_joints_via_the_client_refuses_a_nan_gripper(rig):
    srv, remote = rig
    q = srv.robot.observe().joint_pos
    _untouched(srv, lambda: remote.act_joints(q, NAN))
    r = remote.act_joints(q, 0.5)  # a valid one still goes through
    assert r.gripper_target == 0.5


def _state_variants(good: np.ndarray):
    nan_late = good.copy()
    nan_late[-1] = NAN  # the tail (cube colours): a partial apply would already have set the physics
    nan_joint = good.copy()
    nan_joint[3] = NAN
    inf_first = good.copy()
    inf_first[0] = INF
    return [nan_late, nan_joint, inf_first, good[:-1], np.concatenate([good, [0.0]]), good.reshape(1, -1),
            good.astype(np.complex128), "state", None, [["a"]], list(good[:3])]


def test_set_sim_state_refuses_bad_states_and_applies_nothing(rig):
    srv, remote = rig
    good = remote.get_sim_state()
    for bad in _state_variants(good):
        msg = _untouched(srv, lambda bad=bad: remote._call("call", {"name": "set_sim_state", "args": [bad]}))
        assert "set_sim_state" in msg, msg
    remote.set_sim_state(good)  # a valid state is still applied
    assert np.array_equal(srv.robot.get_sim_state(), good)


@pytest.mark.parametrize(
    "name,args",
    [
        ("reset", [5, 0]),
        ("reset", ["pick_cube", "0"]),
        ("reset", ["pick_cube", 1.5]),
        ("reset", ["pick_cube", NAN]),
        ("reset", ["pick_cube", -1]),
        ("reset", ["pick_cube", True]),
        ("reset", ["pick_cube"]),
        ("reset", ["pick_cube", 0, 1]),
        ("reset", ["x" * 1000, 0]),
        ("success", [1]),
        ("get_sim_state", [None]),
        ("set_sim_state", []),
        ("object_states", ["red"]),
        ("fingers_touching", [3]),
        ("fingers_touching", [None]),
        ("max_lift", [["red"]]),
        ("max_lift", []),
    ],
)
def test_optional_calls_check_their_arguments(rig, name, args):
    srv, remote = rig
    msg = _untouched(srv, lambda: remote._call("call", {"name": name, "args": args}))
    assert name in msg


@pytest.mark.parametrize("args", [{"name": ["reset"]}, {"name": None}, {"name": "success", "args": "abc"}, {"name": "success", "args": {"a": 1}}])
def test_malformed_call_requests_are_refused(rig, args):
    srv, remote = rig
    _untouched(srv, lambda: remote._call("call", args))


@pytest.mark.parametrize("name", [["control_hz"], None, 5])
def test_get_with_a_non_string_name_is_refused(rig, name):
    srv, remote = rig
    _untouched(srv, lambda: remote._call("get", {"name": name}))


@pytest.mark.parametrize(
    "ext",
    [
        _ext_array("<U1", [7], b"a" * 28),  # strings
        _ext_array("|O", [7], b"\0" * 56),  # objects
        _ext_array("(1000000000,)<f8", [1], b"\0" * 8),  # a sub-array dtype claiming 8 GB
        _ext_array("<f8", [7], b"\0" * 8),  # shape and bytes disagree
        _ext_array("<f8", [-1], b"\0" * 56),
        _ext_array("<f8", [1] * 100, b"\0" * 8),
        _ext_array("<f8", [7, "x"], b"\0" * 56),
        msgpack.ExtType(1, b"\xc1"),
        msgpack.ExtType(2, msgpack.packb(["RobotState", {"joint_pos": msgpack.ExtType(2, b"")}])),
        msgpack.ExtType(9, b""),
    ],
)
def test_forged_array_and_record_payloads_are_refused(rig, ext):
    srv, remote = rig
    _untouched(srv, lambda: remote._call("act", {"action": ext}))


def test_a_valid_int_or_list_action_from_another_client_is_accepted(rig):
    srv, remote = rig
    acts = srv.robot.acts
    remote._call("act", {"action": [0, 0, 0, 0, 0, 0, 1]})
    remote._call("act", {"action": np.zeros(7, np.int64)})
    assert srv.robot.acts == acts + 2


def test_robot_errors_are_still_robot_errors(rig):
    _, remote = rig
    with pytest.raises(RobotError):
        remote.reset("juggle", 0)
