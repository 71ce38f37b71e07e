"""A full collection session, unchanged, against a served sim."""

from __future__ import annotations

import numpy as np

from teleforge.dataset import AsyncRecorder, Dataset, DatasetSpec, open_or_create
from teleforge.robots.remote import RemoteRobot
from teleforge.robots.sim_robot import SimRobot
from teleforge.teleop.expert_device import ExpertDevice
from teleforge.teleop.replay import replay_episode
from teleforge.teleop.safety import SafetyConfig, SafetyGuard
from teleforge.teleop.session import CollectionSession, SessionConfig

SIM_HZ = 20.0
# The loop runs faster than the sim's control period so the test takes a few
# seconds; each act() still advances the served sim by 1/SIM_HZ.
LOOP_HZ = 60.0


def test_scripted_session_over_the_wire_records_a_successful_replayable_episode(serve, tmp_path):
    # A long server watchdog: a stall on a loaded test box must not insert
    # unrecorded holds, or the replay check below would be meaningless.
    srv = serve(SimRobot(control_hz=SIM_HZ), watchdog_s=5.0)
    robot = RemoteRobot(srv.address, timeout_s=5.0)
    ds = open_or_create(tmp_path / "ds", DatasetSpec(fps=LOOP_HZ, robot_embodiment=robot.embodiment, n_joints=robot.n_joints))
    recorder = AsyncRecorder(ds)
    device = ExpertDevice()
    device.open()
    cfg = SessionConfig(task="pick_cube", episodes=1, hz=LOOP_HZ, seed=5, operator_id="test", success_hold_s=0.3)
    try:
        result = CollectionSession(robot, device, SafetyGuard(SafetyConfig()), recorder, None, cfg).run()
    finally:
        recorder.close()
        device.close()
    assert [e.outcome for e in result.episodes] == ["success"], result
    assert robot.latency("act").n >= result.episodes[0].steps
    robot.close()

    ds = Dataset.open(tmp_path / "ds")
    (meta,) = ds.episodes
    assert meta.outcome == "success" and meta.seed == 5
    ep = ds.episode(meta.episode_id)
    assert ep.meta.robot_embodiment == "teleforge_sim_panda" and ep.meta.instruction
    assert "initial_sim_state" in ep.meta.extras  # get_sim_state was forwarded
    assert bool(ep.column("success")[-1]) and not bool(ep.column("success")[0])
    # what was recorded is what the served arm did: a local replay reproduces it exactly
    rep = replay_episode(ep, fps=SIM_HZ)
    assert rep.replay_success
    assert rep.final_ee_error_m < 1e-6 and rep.max_joint_error_rad < 1e-6
    assert np.all(np.diff(ep.column("tick_ns")) > 0)
