"""A teleforge collection driven by a fake LeRobot SO-101 leader into a fake SO-101 follower
(``fake_lerobot``: LeRobot 0.4.4's Robot / Teleoperator interface), recorded with the real
recorder. Shared by the bridge tests and the LeRobot consumer check
(tests/consumers/run_lerobot_family.sh runs ``python -m tests.robots.vendors.bridge_session OUT``).

LeRobot 0.4.4 ships its mock robot and teleoperator under its repository's ``tests/mocks``,
not in the wheel, so the fakes here stand in for them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from teleforge.dataset import AsyncRecorder, CameraConfig, open_or_create
from teleforge.robots.lerobot_bridge import LeRobotArm, LeRobotArmConfig
from teleforge.teleop.command import Command, Event
from teleforge.teleop.devices.lerobot_teleop import LeRobotTeleopDevice
from teleforge.teleop.features import dataset_spec_for
from teleforge.teleop.safety import SafetyGuard
from teleforge.teleop.session import CollectionSession, SessionConfig, SessionResult
from tests.robots.vendors.fake_lerobot import FakeFollower, FakeLeader


class StopEvery:
    """The leader device, plus STOP after every ``n`` reads that carried a joint action
    (episodes end by count, not by wall-clock time)."""

    name = "so101_leader"
    autonomous = True

    def __init__(self, leader: LeRobotTeleopDevice, n: int) -> None:
        self.leader, self.n, self.reads = leader, n, 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def connected(self) -> bool:
        return self.leader.connected()

    def read(self) -> Command:
        cmd = self.leader.read()
        if cmd.joint_action is not None:
            self.reads += 1
            if self.reads % self.n == 0:
                cmd.events.append(Event.STOP)
        return cmd


def record_bridge_session(root: Path, episodes: int = 2, reads: int = 40, hz: float = 30.0) -> tuple[SessionResult, Any]:
    """Record ``episodes`` episodes of ``reads`` leader reads each into ``root``; returns the
    session result and the follower (its ``sent`` list is what it was told)."""
    follower = FakeFollower()
    arm = LeRobotArm(follower, LeRobotArmConfig(control_hz=hz, time_limit_s=600.0, task="so101_wave",
                                                instruction="follow the leader arm"))
    rig = arm.camera_rig()
    cams = [CameraConfig(name=c.spec.name, height=c.spec.height, width=c.spec.width) for c in rig.cameras.values()]
    ds = open_or_create(Path(root), dataset_spec_for(arm, fps=hz, cameras=cams))
    leader = LeRobotTeleopDevice(FakeLeader(), action_keys=arm.action_keys, autonomous=True)
    recorder = AsyncRecorder(ds)
    leader.open()
    try:
        res = CollectionSession(arm, StopEvery(leader, reads), SafetyGuard(), recorder, rig,
                                SessionConfig(task="so101_wave", episodes=episodes, hz=hz)).run()
    finally:
        recorder.close()
        leader.close()
    return res, follower


if __name__ == "__main__":
    result, _ = record_bridge_session(Path(sys.argv[1]))
    print(f"recorded {len(result.episodes)} episodes, {sum(e.steps for e in result.episodes)} steps into {sys.argv[1]}")
