import numpy as np
import pytest

from teleforge.errors import DiskFullError
from teleforge.teleop.command import Command, Event
from teleforge.teleop.session import CollectionSession, SessionConfig

from .fakes import ListRecorder, PassGuard, PointRobot, ScriptDevice


def _session(robot, device, recorder, **cfg):
    base = dict(task="t", episodes=2, hz=200.0, success_hold_s=0.02)
    base.update(cfg)
    return CollectionSession(robot, device, PassGuard(), recorder, None, SessionConfig(**base))


def test_autonomous_device_records_until_success_and_labels_outcome():
    robot, rec = PointRobot(goal=0.05), ListRecorder()
    res = _session(robot, ScriptDevice([], autonomous=True, speed=0.005), rec).run()
    assert [e.outcome for e in res.episodes] == ["success", "success"]
    assert len(rec.episodes) == 2
    ep = rec.episodes[0]
    assert ep["end"].outcome == "success"
    steps = ep["steps"]
    assert [s.step for s in steps] == list(range(len(steps)))
    assert steps[0].ee_pos[0] == 0.0  # observation before the first action
    assert np.all(np.diff([s.tick_ns for s in steps]) > 0)
    assert steps[-1].success and not steps[0].success
    assert ep["start"].seed == 0 and rec.episodes[1]["start"].seed == 1
    assert ep["start"].robot_embodiment == "test_point"


def test_time_limit_saves_failure():
    robot, rec = PointRobot(goal=10.0, time_limit_s=0.05), ListRecorder()
    res = _session(robot, ScriptDevice([], autonomous=True, speed=0.001), rec, episodes=1).run()
    assert res.episodes[0].outcome == "failure"
    assert rec.episodes[0]["end"].labels["ended_by"] == "time_limit"


def test_operator_events_start_save_failure_discard_and_quit():
    script = (
        [Command()] * 3
        + [Command(events=[Event.START])] + [Command(twist=np.array([1.0, 0, 0, 0, 0, 0]))] * 4
        + [Command(events=[Event.SAVE_FAILURE])]
        + [Command(events=[Event.START])] + [Command()] * 2 + [Command(events=[Event.DISCARD])]
        + [Command(events=[Event.START])] + [Command()] * 2 + [Command(events=[Event.QUIT])]
    )
    robot, rec = PointRobot(goal=10.0), ListRecorder()
    res = _session(robot, ScriptDevice(script), rec, episodes=5).run()
    # quitting without a window to ask keeps the episode in progress as unknown, never drops it
    assert [e.outcome for e in res.episodes] == ["failure", "discarded", "unknown"]
    # the START tick and the 4 moves are recorded; the SAVE tick is not
    assert len(rec.episodes) == 2 and len(rec.episodes[0]["steps"]) == 5
    assert rec.episodes[0]["steps"][-1].command_twist[0] == 1.0
    assert rec.episodes[1]["end"].labels["ended_by"] == "quit"
    assert rec.discards == 1
    assert res.aborted.startswith("operator quit") and "kept as unknown" in res.aborted


def test_estop_holds_the_arm_and_marks_steps():
    script = [Command(events=[Event.START, Event.ESTOP])] + [Command(twist=np.ones(6))] * 5 + [
        Command(events=[Event.SAVE_SUCCESS])
    ]
    robot, rec = PointRobot(goal=10.0), ListRecorder()
    _session(robot, ScriptDevice(script), rec, episodes=1).run()
    steps = rec.episodes[0]["steps"]
    assert all(s.estop and s.hold for s in steps)
    assert robot.acts == 0 and robot.holds >= 5
    assert np.all(robot.pos == 0)


def test_disconnected_device_holds():
    dev = ScriptDevice([Command(events=[Event.START])] + [Command(twist=np.ones(6))] * 3 + [Command(events=[Event.SAVE_FAILURE])])
    dev.alive = False
    robot, rec = PointRobot(goal=10.0), ListRecorder()
    _session(robot, dev, rec, episodes=1).run()
    assert all(s.hold for s in rec.episodes[0]["steps"])
    assert robot.acts == 0


def test_recorder_failure_surfaces_and_does_not_discard():
    robot = PointRobot(goal=10.0)
    rec = ListRecorder(fail_on_submit=5, fail_with=DiskFullError)
    with pytest.raises(DiskFullError):
        _session(robot, ScriptDevice([], autonomous=True, speed=0.001), rec).run()
    assert rec.discards == 0  # what reached the disk is left for `teleforge recover`
