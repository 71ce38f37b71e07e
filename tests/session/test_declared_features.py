"""A robot's declared specs drive the recorded schema: no edits in dataset/ for a new arm."""

import json

import numpy as np
import pytest

from teleforge.dataset import AsyncRecorder, Dataset, DatasetSpec, open_or_create
from teleforge.dataset.schema import FORMAT_VERSION, step_schema
from teleforge.errors import DatasetError, RobotError
from teleforge.robots.types import ActResult, ArraySpec, RobotState
from teleforge.teleop.features import dataset_spec_for
from teleforge.teleop.session import CollectionSession, SessionConfig

from .fakes import PassGuard, PointRobot, ScriptDevice


class SixJointTwoGripperRobot(PointRobot):
    """A 6-joint arm with a second gripper and a 3-axis wrist force sensor."""

    embodiment = "test_six_joint"
    n_joints = 6
    action_spec = ArraySpec((7,))
    state_spec = {
        "joint_pos": ArraySpec((6,)),
        "joint_vel": ArraySpec((6,)),
        "ee_pos": ArraySpec((3,)),
        "ee_quat": ArraySpec((4,)),
        "gripper": ArraySpec((1,)),
        "gripper2": ArraySpec(()),
        "wrist_force": ArraySpec((3,), names=("fx", "fy", "fz")),
    }

    def _result(self) -> ActResult:
        return ActResult(self.pos.copy(), np.array([1.0, 0, 0, 0]), np.concatenate([self.pos, self.pos]), self.grip)

    def observe(self) -> RobotState:
        q = np.concatenate([self.pos, self.pos])
        return RobotState(
            q, np.zeros(6), self.pos.copy(), np.array([1.0, 0, 0, 0]), 1.0 - self.grip,
            extras={"gripper2": np.float32(0.25), "wrist_force": self.pos * 10.0},
        )


def test_six_joint_robot_with_extra_state_records_and_reads_back(tmp_path):
    robot = SixJointTwoGripperRobot(goal=0.02)
    spec = dataset_spec_for(robot, fps=200.0)
    assert (spec.n_joints, spec.action_dim, spec.extra_state) == (6, 7, {"gripper2": 1, "wrist_force": 3})

    ds = open_or_create(tmp_path / "ds", spec)
    recorder = AsyncRecorder(ds)
    try:
        cfg = SessionConfig(task="t", episodes=1, hz=200.0, success_hold_s=0.02)
        res = CollectionSession(robot, ScriptDevice([], autonomous=True, speed=0.004), PassGuard(), recorder, None, cfg).run()
    finally:
        recorder.close()
    assert [e.outcome for e in res.episodes] == ["success"]

    back = Dataset.open(tmp_path / "ds")
    assert back.spec == spec
    manifest = json.loads((tmp_path / "ds" / "teleforge.json").read_text())
    assert manifest["extra_state"] == {"gripper2": 1, "wrist_force": 3}
    assert manifest["features"]["observation.state.wrist_force"]["shape"] == [3]
    ep = back.episode(back.episode_ids[0])
    assert ep.table.schema.names == step_schema(spec).names
    n = ep.num_steps
    assert ep.column("observation.state.joint_pos").shape == (n, 6)
    assert ep.column("target.joint_pos").shape == (n, 6)
    assert ep.column("action").shape == (n, 7)
    assert np.all(ep.column("observation.state.gripper2") == np.float32(0.25))
    force = ep.column("observation.state.wrist_force")
    assert force.shape == (n, 3)
    np.testing.assert_allclose(force, ep.column("observation.state.ee_pos") * 10.0, rtol=1e-6)


def test_native_spec_reads_like_format_1_0():
    # An arm that declares only the native features writes the 1.0 spec fields, nothing more.
    spec = dataset_spec_for(PointRobot(), fps=20.0)
    assert spec.to_dict() == {"fps": 20.0, "robot_embodiment": "test_point", "n_joints": 3, "cameras": []}
    old = DatasetSpec.from_dict({"fps": 20.0, "robot_embodiment": "x", "n_joints": 7})
    assert (old.action_dim, old.extra_state) == (7, {})
    assert FORMAT_VERSION == "1.3"  # 1.2: control.intervention; 1.3: per-camera depth


def test_missing_declared_feature_is_a_clear_error(tmp_path):
    class Forgetful(SixJointTwoGripperRobot):
        def observe(self) -> RobotState:
            st = super().observe()
            st.extras.pop("wrist_force")
            return st

    robot = Forgetful(goal=0.02)
    ds = open_or_create(tmp_path / "ds", dataset_spec_for(robot, fps=200.0))
    recorder = AsyncRecorder(ds)
    try:
        cfg = SessionConfig(task="t", episodes=1, hz=200.0, success_hold_s=0.02)
        with pytest.raises(DatasetError, match="wrist_force"):
            CollectionSession(robot, ScriptDevice([], autonomous=True, speed=0.004), PassGuard(), recorder, None, cfg).run()
    finally:
        recorder.close()


def test_declared_joint_count_must_match_n_joints():
    robot = SixJointTwoGripperRobot()
    robot.n_joints = 7
    with pytest.raises(RobotError, match="joint_pos"):
        dataset_spec_for(robot, fps=20.0)
