"""A collection episode with real-camera capture threads: a camera that disappears
mid-episode leaves null images for the steps it missed, listed in the loop stats, and the
loop keeps its rate (it never waits on a camera)."""

from __future__ import annotations

from teleforge.robots.cameras import CameraSet, CaptureCamera
from teleforge.robots.types import CameraSpec
from teleforge.teleop.command import Command
from teleforge.teleop.session import CollectionSession, SessionConfig
from tests.session.fakes import ListRecorder, PassGuard, PointRobot, ScriptDevice

from .conftest import SourceState


class _Trigger:
    """Unplugs camera 'wrist' at step 20 (from the device read, i.e. on the control thread)."""

    def __init__(self, state: SourceState, dev: ScriptDevice) -> None:
        self.state, self.dev, self.k = state, dev, 0

    def __getattr__(self, name):
        return getattr(self.dev, name)

    def read(self) -> Command:
        self.k += 1
        if self.k == 20:
            self.state.vanish.set()
        return self.dev.read()


def test_camera_that_disappears_mid_episode():
    front, wrist = SourceState(), SourceState()
    spec = lambda n: CameraSpec(n, 8, 8, fps=100.0)  # noqa: E731
    # Generous staleness for the camera that stays: the machine running the tests may be loaded.
    rig = CameraSet({"front": CaptureCamera(spec("front"), front.factory, stale_s=1.0),
                     "wrist": CaptureCamera(spec("wrist"), wrist.factory, stale_s=0.1)})
    robot = PointRobot(goal=10.0, time_limit_s=2.0)  # never succeeds: ends on the time limit
    dev = ScriptDevice([], autonomous=True, speed=0.0)
    rec = ListRecorder()
    session = CollectionSession(robot, _Trigger(wrist, dev), PassGuard(), rec, rig,
                                SessionConfig(episodes=1, hz=50.0, time_limit_s=2.0))
    res = session.run()
    ep = res.episodes[0]
    assert ep.steps >= 50  # 100 at 50 Hz; a loaded test machine misses some ticks
    steps = rec.episodes[0]["steps"]
    have_wrist = [("wrist" in s.images) for s in steps]
    have_front = [("front" in s.images) for s in steps]
    assert all(have_front[5:])  # the other camera is untouched
    assert any(have_wrist[:15]) and not any(have_wrist[-15:])  # kept what it had, then nulls
    missing = ep.loop["missing_frames"]["wrist"]
    assert missing == have_wrist.count(False)
    ranges = ep.loop["missing_frame_ranges"]["wrist"]
    assert ranges[-1][1] == len(steps)  # the gap runs to the end of the episode
