"""Takeover acceptance: a policy run with two takeovers records the segments; a view of them
exports to LeRobot and RLDS with the flag; the hand-over never jumps the commanded pose."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from teleforge.convert import RldsExportConfig, RldsReader, export_rlds
from teleforge.convert.lerobot.writer import export_lerobot
from teleforge.curation.takeover import intervention_segments, takeover_view
from teleforge.dataset import AsyncRecorder, Dataset, open_or_create
from teleforge.dataset.selection import select
from teleforge.dataset.views import save_view
from teleforge.teleop.command import Command, Event
from teleforge.teleop.features import dataset_spec_for
from teleforge.teleop.safety import SafetyConfig, SafetyGuard
from teleforge.teleop.session import CollectionSession, SessionConfig
from teleforge.teleop.takeover import TakeoverDevice, segments_of
from teleforge.workflows.policy_device import PolicyDevice
from tests.session.fakes import PointRobot

HZ = 50.0
STEPS = 60  # steps per episode (the operator's STOP at read 59 ends it)
TAKE = {10: "take", 20: "back", 35: "take", 45: "back"}  # operator read index -> toggle


@dataclass
class Info:
    head: str = "fake"
    chunk: int = 4
    cameras: tuple[str, ...] = ()
    image_size: int = 0


class ForwardPolicy:
    """Moves +x at 0.05 m/s with the gripper closed (holding something)."""

    info = Info()

    def __init__(self) -> None:
        self.queries = 0

    def reset(self, instruction: str) -> None:
        pass

    def predict(self, obs: object) -> np.ndarray:
        self.queries += 1
        a = np.zeros((4, 7), np.float32)
        a[:, 0] = 0.05 / HZ
        a[:, 6] = 1.0
        return a


class Operator:
    """Pushes -y at full stick while in control; presses TAKEOVER at the scripted reads."""

    name = "operator"

    def __init__(self) -> None:
        self.reads = 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def connected(self) -> bool:
        return True

    def read(self) -> Command:
        events = [Event.TAKEOVER] if self.reads in TAKE else []
        if self.reads == STEPS - 1:
            events.append(Event.STOP)  # ends the autonomous episode: step counts never depend on wall time
        self.reads += 1
        return Command(twist=np.array([0, -1, 0, 0, 0, 0], np.float32), gripper=0.0, events=events,
                       t_ns=time.monotonic_ns())


def record(tmp_path):
    robot = PointRobot(goal=100.0, time_limit_s=600.0)
    spec = dataset_spec_for(robot, fps=HZ)
    ds = open_or_create(tmp_path / "ds", spec)
    policy = ForwardPolicy()
    device = TakeoverDevice(PolicyDevice(policy, robot, frames=lambda cam: None), Operator())
    guard = SafetyGuard(SafetyConfig(max_accel=2.0))
    recorder = AsyncRecorder(ds)
    try:
        res = CollectionSession(robot, device, guard, recorder, None, SessionConfig(task="t", episodes=1, hz=HZ)).run()
    finally:
        recorder.close()
    return res, Dataset.open(tmp_path / "ds"), policy


def test_segments_of() -> None:
    assert segments_of([False, True, True, False, True]) == [[1, 3], [4, 5]]
    assert intervention_segments(np.array([True, False, True, True])) == [(0, 1), (2, 4)]
    assert intervention_segments(np.zeros(0, bool)) == []


def test_policy_run_with_two_takeovers_records_segments_and_exports_the_flag(tmp_path) -> None:
    res, ds, policy = record(tmp_path)
    assert [e.outcome for e in res.episodes] == ["failure"]
    ep = ds.episode(ds.episode_ids[0])
    flags = ep.column("control.intervention")
    segs = intervention_segments(flags)
    # the TAKEOVER press at read k takes effect on that very step
    assert segs == [(10, 20), (35, 45)], segs
    labels = ep.meta.labels
    assert labels["control"] == "policy" and labels["takeovers"] == 2
    assert labels["interventions"] == [[10, 20], [35, 45]]
    assert policy.queries >= 3  # re-planned after each hand-back

    # no jump in the commanded pose: per-step target motion stays within the guard's speed cap,
    # and the velocity change at every switch within its acceleration cap
    tgt = ep.column("target.ee_pos")
    v = np.diff(tgt, axis=0) * HZ
    assert np.max(np.linalg.norm(v, axis=1)) <= SafetyConfig().max_speed + 1e-4
    dv = np.linalg.norm(np.diff(v, axis=0), axis=1)
    assert np.max(dv) <= 2.0 / HZ + 1e-4
    # the operator inherits the policy's closed gripper (no drop at takeover)
    assert np.all(ep.column("action")[:, 6] == 1.0)

    view = takeover_view(tmp_path / "ds", "takeovers", context_s=0.1)
    assert view.episodes == [ep.episode_id]
    assert view.trims[ep.episode_id] == (5, 50)
    assert view.extra["takeover"]["segments"][str(ep.episode_id)][1] == {"steps": [35, 45], "with_context": [30, 50]}
    save_view(tmp_path / "ds", view)

    lr = tmp_path / "lerobot"
    export_lerobot(select(tmp_path / "ds", view="takeovers"), lr, vcodec="auto")
    data = pq.read_table(lr / "data" / "chunk-000" / "file-000.parquet")
    flag = np.asarray(data.column("teleforge.control.intervention").to_pylist()).reshape(-1)
    assert flag.shape == (45,) and segments_of(list(flag)) == [[5, 15], [30, 40]]

    rl = export_rlds(select(tmp_path / "ds", view="takeovers"), tmp_path / "rlds", RldsExportConfig(name="tk", workers=1))
    (rep,) = list(RldsReader(rl.path))
    keys = [k for k in rep.steps if "intervention" in k]
    assert keys, list(rep.steps)
    assert segments_of(list(np.asarray(rep.steps[keys[0]]).reshape(-1).astype(bool))) == [[5, 15], [30, 40]]


def test_old_shards_read_as_operator(tmp_path) -> None:
    """A shard written without the column (format 1.1) reads control.intervention as all False."""
    import pyarrow as pa

    from teleforge.dataset.episode import _with_optional_columns

    t = pa.table({"step": pa.array([0, 1], pa.int32()), "tick_ns": pa.array([0, 1], pa.int64()),
                  "safety.clamped": pa.array([False, True])})
    out = _with_optional_columns(t)
    assert out.column_names == ["step", "tick_ns", "safety.clamped", "control.intervention"]
    assert out.column("control.intervention").to_pylist() == [False, False]
