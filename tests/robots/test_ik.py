import numpy as np

from teleforge.robots.ik import DiffIK, mat_from_axis_angle
from teleforge.robots.scene import ARM_JOINTS, HOME_QPOS, JOINT_HIGH, JOINT_LOW, TCP_SITE


def _ik(robot):
    return DiffIK(robot.model, TCP_SITE, ARM_JOINTS, HOME_QPOS)


def test_ik_reaches_reachable_targets_within_a_millimetre(robot):
    ik = _ik(robot)
    p0, r0 = ik.forward(HOME_QPOS)
    rng = np.random.default_rng(0)
    for _ in range(10):
        target = p0 + rng.uniform([-0.1, -0.2, -0.2], [0.15, 0.2, 0.05])
        rot = mat_from_axis_angle([0, 0, rng.uniform(-0.6, 0.6)]) @ r0
        q = HOME_QPOS.copy()
        for _ in range(20):  # differential IK converges over a few calls, as in the control loop
            res = ik.solve(q, target, rot)
            q = res.q
        assert res.pos_error < 1e-3, (target, res)
        assert res.rot_error < 1e-2
        p, _ = ik.forward(q)
        assert np.linalg.norm(p - target) < 1e-3


def test_ik_never_leaves_joint_limits_for_unreachable_targets(robot):
    ik = _ik(robot)
    q = HOME_QPOS.copy()
    _, r0 = ik.forward(q)
    res = None
    for _ in range(30):
        res = ik.solve(q, np.array([2.0, 1.5, 1.5]), r0)  # far outside the reach
        q = res.q
        assert np.all(q >= JOINT_LOW) and np.all(q <= JOINT_HIGH)
    assert res.pos_error > 0.5


def test_act_moves_ee_by_the_commanded_delta(robot):
    robot.reset("pick_cube", 0)
    start = robot.observe().ee_pos
    for _ in range(20):
        robot.act(np.array([0.01, 0.0, -0.005, 0, 0, 0, 0]))
    for _ in range(10):
        robot.act(np.zeros(7))
    moved = robot.observe().ee_pos - start
    np.testing.assert_allclose(moved, [0.2, 0.0, -0.1], atol=0.005)


def test_act_clips_deltas_to_the_declared_action_bounds(robot):
    robot.reset("pick_cube", 0)
    before = robot.target_pose[0]
    res = robot.act(np.array([1.0, 0, 0, 0, 0, 0, 0]))
    assert res.target_ee_pos[0] - before[0] <= robot.action_spec.high[0] + 1e-9


def test_act_joints_respects_joint_limits(robot):
    robot.reset("pick_cube", 0)
    res = robot.act_joints(np.full(7, 10.0), 0.0)
    assert res.clamped
    assert np.all(res.target_joint_pos <= JOINT_HIGH)
