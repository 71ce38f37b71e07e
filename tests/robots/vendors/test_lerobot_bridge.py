"""LeRobot bridge: a fake SO-101 leader drives a fake follower through a teleforge session;
the recording holds the declared joint features (not the 7-D EE delta) and exports to LeRobot."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from teleforge.convert.lerobot.writer import export_lerobot
from teleforge.dataset import AsyncRecorder, CameraConfig, Dataset, open_or_create
from teleforge.errors import RobotError
from teleforge.robots.lerobot_bridge import LeRobotArm, LeRobotArmConfig
from teleforge.teleop.command import Event
from teleforge.teleop.devices.lerobot_teleop import LeRobotTeleopDevice
from teleforge.teleop.features import dataset_spec_for
from teleforge.teleop.safety import SafetyGuard
from teleforge.teleop.session import CollectionSession, SessionConfig

from .fake_lerobot import MOTORS, FakeFollower, FakeLeader

KEYS = tuple(f"{m}.pos" for m in MOTORS)


def test_declared_features_become_the_spec() -> None:
    arm = LeRobotArm(FakeFollower())
    assert arm.action_keys == KEYS and arm.joint_keys == KEYS and arm.n_joints == 6
    spec = dataset_spec_for(arm, fps=30.0)
    assert (spec.action_dim, spec.n_joints, spec.robot_embodiment) == (6, 6, "so101_follower")
    assert arm.camera_shapes == {"front": (48, 64, 3)}


def test_native_actions_are_refused_with_a_hint() -> None:
    arm = LeRobotArm(FakeFollower())
    arm.connect()
    with pytest.raises(RobotError, match="joint-space device"):
        arm.act(np.zeros(7))


def test_teleop_device_reads_in_the_follower_order() -> None:
    dev = LeRobotTeleopDevice(FakeLeader(), action_keys=KEYS)
    dev.open()
    try:
        deadline = time.monotonic() + 5
        while dev.read().joint_action is None and time.monotonic() < deadline:
            time.sleep(0.01)
        dev.push_event(Event.START)
        cmd = dev.read()
        assert cmd.joint_action is not None and cmd.joint_action.shape == (6,) and cmd.events == [Event.START]
    finally:
        dev.close()


def test_leader_drives_follower_and_records_declared_joints(tmp_path) -> None:
    follower = FakeFollower()
    arm = LeRobotArm(follower, LeRobotArmConfig(control_hz=30.0, time_limit_s=600.0))
    rig = arm.camera_rig()
    cams = [CameraConfig(name=c.spec.name, height=c.spec.height, width=c.spec.width) for c in rig.cameras.values()]
    spec = dataset_spec_for(arm, fps=30.0, cameras=cams)
    ds = open_or_create(tmp_path / "ds", spec)
    leader = LeRobotTeleopDevice(FakeLeader(), action_keys=arm.action_keys, autonomous=True)
    recorder = AsyncRecorder(ds)
    leader.open()

    class StopAfter:
        """The leader, plus STOP after 40 recorded reads (no wall-clock dependence)."""

        name = "so101_leader"
        autonomous = True

        def __init__(self) -> None:
            self.n = 0

        def open(self) -> None: ...

        def close(self) -> None: ...

        def connected(self) -> bool:
            return leader.connected()

        def read(self):
            cmd = leader.read()
            if cmd.joint_action is not None:
                self.n += 1
                if self.n == 40:
                    cmd.events.append(Event.STOP)
            return cmd

    try:
        res = CollectionSession(arm, StopAfter(), SafetyGuard(), recorder, rig,
                                SessionConfig(task="so101", episodes=1, hz=30.0)).run()
    finally:
        recorder.close()
        leader.close()
    assert [e.outcome for e in res.episodes] == ["failure"]
    back = Dataset.open(tmp_path / "ds")
    ep = back.episode(back.episode_ids[0])
    act = ep.column("action")
    assert act.shape[1] == 6  # declared joint targets, not the 7-D EE delta
    moving = ~ep.column("safety.hold")
    assert moving.sum() >= 5  # holds are the guard's watchdog when the reader thread is starved (loaded CI)
    # what the follower was told is what was recorded (in LeRobot's own order and units)
    sent = np.array([[s[k] for k in KEYS] for s in follower.sent])
    tgt = ep.column("target.joint_pos")[moving]
    assert np.max(np.min(np.abs(tgt[:, None, 0] - sent[None, :, 0]), axis=1)) < 1e-4
    assert ep.column("observation.images.front")[-1] is not None

    out = tmp_path / "lerobot"
    export_lerobot(back, out)
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["features"]["action"]["shape"] == [6]
    assert info["robot_type"] == "so101_follower"
