import numpy as np
import pytest

from teleforge.errors import RobotError, RobotNotConnectedError, UnknownTaskError
from teleforge.robots.sim_robot import SimRobot
from teleforge.robots.types import Robot

from .conftest import run_expert


def test_sim_robot_satisfies_the_robot_protocol(robot):
    assert isinstance(robot, Robot)
    assert robot.embodiment == "teleforge_sim_panda"
    assert robot.action_spec.shape == (7,)
    st = robot.observe()
    assert st.joint_pos.shape == (7,) and st.ee_quat.shape == (4,)
    assert 0.9 < st.gripper <= 1.0  # starts open


def test_observe_before_connect_raises():
    with pytest.raises(RobotNotConnectedError):
        SimRobot().observe()


def test_non_finite_action_is_refused(robot):
    with pytest.raises(RobotError):
        robot.act(np.array([np.nan, 0, 0, 0, 0, 0, 0]))


def test_unknown_task_error_lists_known_tasks(robot):
    with pytest.raises(UnknownTaskError, match="pick_cube"):
        robot.reset("juggle", 0)


def test_reset_is_deterministic_per_seed_and_varies_across_seeds(robot):
    a = robot.reset("stack", 5)
    sa = robot.state_snapshot()
    b = robot.reset("stack", 5)
    assert a.instruction == b.instruction
    np.testing.assert_array_equal(sa, robot.state_snapshot())
    robot.reset("stack", 6)
    assert not np.array_equal(sa, robot.state_snapshot())


def test_instruction_names_the_bound_cube_colour(robot):
    for seed in range(5):
        info = robot.reset("stack", seed)
        assert f"{robot.binding['object']} cube" in info.instruction
        assert f"{robot.binding['support']} cube" in info.instruction


def test_same_seed_and_actions_give_identical_final_state():
    r1, r2 = SimRobot(control_hz=50), SimRobot(control_hz=50)
    r1.connect()
    r2.connect()
    _, _, actions = run_expert(r1, "place_in_bin", 2, stop_on_success=False)
    final1 = r1.get_sim_state()
    r2.reset("place_in_bin", 2)
    for a in actions:
        r2.act(a)
    np.testing.assert_array_equal(final1, r2.get_sim_state())


def test_set_sim_state_restores_mid_episode_for_replay(robot):
    robot.reset("pick_cube", 1)
    rng = np.random.default_rng(0)
    for _ in range(10):
        robot.act(np.r_[rng.uniform(-0.01, 0.01, 6), 0.0])
    saved = robot.get_sim_state()
    actions = [np.r_[rng.uniform(-0.02, 0.02, 3), 0, 0, 0.05, 1.0] for _ in range(15)]
    for a in actions:
        robot.act(a)
    expected = robot.get_sim_state()
    robot.reset("pick_cube", 99)
    robot.set_sim_state(saved)
    for a in actions:
        robot.act(a)
    np.testing.assert_array_equal(expected, robot.get_sim_state())


def test_grasp_lifts_the_cube_through_contact_physics(robot):
    ok, _, _ = run_expert(robot, "pick_cube", 0)
    assert ok
    cube = robot.object_states()[robot.binding["object"]]
    assert cube.bottom > 0.10
    assert robot.fingers_touching(robot.binding["object"])  # held by the pads, not teleported
    # open the gripper: the cube falls back to the table
    for _ in range(40):
        robot.act(np.zeros(7))
    assert robot.object_states()[robot.binding["object"]].bottom < 0.01


def test_hold_stops_the_arm(robot):
    robot.reset("pick_cube", 0)
    for _ in range(5):
        robot.act(np.array([0.02, 0, 0, 0, 0, 0, 0]))
    for _ in range(5):
        robot.hold()
    p = robot.observe().ee_pos
    for _ in range(10):
        robot.hold()
    assert np.linalg.norm(robot.observe().ee_pos - p) < 1e-3


def test_control_hz_sets_the_physics_substeps():
    assert SimRobot(control_hz=50).n_substeps * 50 * 0.002 == pytest.approx(1.0)
    assert SimRobot(control_hz=20).n_substeps == 25
