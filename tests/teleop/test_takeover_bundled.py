"""Takeover end to end with the real bundled VLA on the sim arm: ``collect(policy="bundled")``
(the library call behind ``teleforge collect --policy bundled``) runs the bundled policy on the
MuJoCo arm from the sim cameras; a scripted operator device takes over twice and hands back.
The recording holds both intervention segments and ``control.intervention`` per step, the
commanded pose never jumps at a hand-over, and a view of the segments exports to LeRobot and RLDS
with the flag. About 10-20 s here: the VLA runs on the CPU inside the control loop (0.2-9 s per query
on a loaded 2-core machine); nothing asserted depends on wall time.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from teleforge.convert import RldsExportConfig, RldsReader, export_rlds
from teleforge.convert.lerobot.writer import export_lerobot
from teleforge.curation.takeover import intervention_segments, takeover_view
from teleforge.dataset import Dataset
from teleforge.dataset.selection import select
from teleforge.dataset.views import save_view
from teleforge.robots.sim_robot import SimRobot
from teleforge.teleop.command import Command, Event
from teleforge.teleop.devices import registry
from teleforge.teleop.takeover import segments_of
from teleforge.workflows.collect import collect
from teleforge.workflows.collect_config import CollectConfig
from teleforge.workflows.collect_parts import safety_config_for

pytest.importorskip("torch")

HZ = 20.0
TOGGLES = (15, 30, 45, 60)  # operator reads that press TAKEOVER: take, hand back, take, hand back
STOP_AT = 75  # the operator's STOP ends the episode: its length never depends on wall time
# Bound on the commanded tool-tip move across a hand-over (m per 50 ms tick, 0.8 m/s): the bundled VLA
# alone commands steps of up to ~3 cm here, so a switch may move as fast as the policy does, but never snap
# the target to another pose (a jump would be a step of the size of the gap between two poses).
JUMP_M = 0.04


class ScriptedOperator:
    """An operator at a stick: lifts the tool (+z at half stick) while in control, presses the takeover
    button at :data:`TOGGLES` and STOP at :data:`STOP_AT` (counted in reads, one per control tick)."""

    name = "scripted_operator"
    autonomous = False

    def __init__(self) -> None:
        self.reads = 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def connected(self) -> bool:
        return True

    def read(self) -> Command:
        events = [Event.TAKEOVER] if self.reads in TOGGLES else []
        if self.reads == STOP_AT:
            events.append(Event.STOP)
        self.reads += 1
        return Command(twist=np.array([0, 0, 0.5, 0, 0, 0], np.float32), gripper=0.0, events=events,
                       t_ns=time.monotonic_ns())


def test_bundled_vla_run_with_two_takeovers(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(registry._FACTORIES, "scripted_operator", lambda **_: ScriptedOperator())
    cfg = CollectConfig(dataset=tmp_path / "ds", device="scripted_operator", policy="bundled", headless=True,
                        task="pick_cube", episodes=1, hz=HZ, image_size=96, time_limit_s=600.0)
    res = collect(cfg)
    (result,) = res.episodes
    ds = Dataset.open(tmp_path / "ds")
    ep = ds.episode(result.episode_id)
    assert ep.num_steps == STOP_AT + 1

    # who was in control, per step and as segments: each press takes effect on its own step
    flags = ep.column("control.intervention")
    assert intervention_segments(flags) == [(15, 30), (45, 60)]
    labels = ep.meta.labels
    assert labels["control"] == "policy" and labels["takeovers"] == 2
    assert labels["interventions"] == [[15, 30], [45, 60]]
    assert labels["policy"]["head"] == "flow"  # the bundled VLA drove the other steps
    assert ds.sessions[-1].device == "policy+scripted_operator"

    # no jump in the commanded pose at any hand-over, in metres; and the speed cap holds throughout
    tgt = ep.column("target.ee_pos")
    step_m = np.linalg.norm(np.diff(tgt, axis=0), axis=1)  # step_m[k - 1]: move from step k-1 to k
    limits = safety_config_for(SimRobot())
    assert np.max(step_m) <= limits.max_speed / HZ + 1e-5
    at_switch = [float(step_m[k - 1]) for k in TOGGLES]
    assert max(at_switch) <= JUMP_M, at_switch
    # the operator inherits the policy's gripper target at takeover (no drop or grab)
    grip = ep.column("action")[:, 6]
    assert grip[15] == grip[14] and grip[45] == grip[44]
    # the operator's own motion shows up: they lifted the tool while in control
    assert tgt[29, 2] > tgt[15, 2] and tgt[59, 2] > tgt[45, 2]

    view = takeover_view(tmp_path / "ds", "takeovers", context_s=0.5)  # 10 steps of context each side
    assert view.trims[ep.episode_id] == (5, 70)
    save_view(tmp_path / "ds", view)
    lr = tmp_path / "lerobot"
    export_lerobot(select(tmp_path / "ds", view="takeovers"), lr)
    data = pq.read_table(lr / "data" / "chunk-000" / "file-000.parquet")
    flag = np.asarray(data.column("teleforge.control.intervention").to_pylist()).reshape(-1)
    assert flag.shape == (65,) and segments_of(list(flag)) == [[10, 25], [40, 55]]
    rl = export_rlds(select(tmp_path / "ds", view="takeovers"), tmp_path / "rlds", RldsExportConfig(name="tk", workers=1))
    (rep,) = list(RldsReader(rl.path))
    (key,) = [k for k in rep.steps if "intervention" in k]
    assert segments_of(list(np.asarray(rep.steps[key]).reshape(-1).astype(bool))) == [[10, 25], [40, 55]]
