"""Re-execute a recorded episode in the sim and say whether it reproduces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.dataset.episode import Episode
from teleforge.dataset.reader import Dataset
from teleforge.errors import DatasetError
from teleforge.robots.sim_robot import SimRobot
from teleforge.video import write_video


@dataclass
class ReplayReport:
    """How a replayed episode compares with its recording (errors in m and rad)."""

    episode_id: int
    task: str
    seed: int | None
    steps: int
    recorded_outcome: str
    replay_success: bool
    final_ee_error_m: float  # |recorded - replayed| EE position at the last step
    max_joint_error_rad: float  # worst joint deviation over the episode
    video: Path | None = None

    @property
    def matches(self) -> bool:
        """Replay reproduces the recording: same outcome and the same trajectory (< 1 mm)."""
        same_outcome = (self.recorded_outcome == "success") == self.replay_success or self.recorded_outcome == "unknown"
        return same_outcome and self.final_ee_error_m < 1e-3


def replay_episode(episode: Episode, fps: float, video: Path | None = None, camera: str = "front") -> ReplayReport:
    """Reset the sim to the episode's seed (and recorded initial state), apply its actions.

    Steps the guard held are replayed as holds, exactly as recorded.
    """
    meta = episode.meta
    task, seed = meta.task, meta.seed
    if seed is None:
        raise DatasetError(f"episode {meta.episode_id} has no seed: only sim episodes recorded by teleforge can be replayed")
    actions = episode.column("action")
    holds = episode.column("safety.hold") | episode.column("safety.estop")
    rec_joints = episode.column("observation.state.joint_pos")
    rec_ee = episode.column("observation.state.ee_pos")

    robot = SimRobot(control_hz=fps)
    robot.connect()
    robot.reset(task, int(seed))
    init = (meta.extras or {}).get("initial_sim_state")
    if init is not None:
        robot.set_sim_state(np.asarray(init, dtype=np.float64))
    joint_err = 0.0
    ee_err = 0.0
    for i in range(len(actions)):
        st = robot.observe()
        joint_err = max(joint_err, float(np.abs(st.joint_pos - rec_joints[i]).max()))
        ee_err = float(np.linalg.norm(st.ee_pos - rec_ee[i]))
        if holds[i]:
            robot.hold()
        else:
            robot.act(actions[i].astype(np.float32))
    success = bool(robot.success())
    robot.disconnect()

    out_video = None
    if video is not None:
        frames = list(episode.images(camera))
        write_video(frames, video, fps=fps)
        out_video = video
    return ReplayReport(
        episode_id=meta.episode_id, task=task, seed=seed, steps=len(actions),
        recorded_outcome=meta.outcome, replay_success=success,
        final_ee_error_m=ee_err, max_joint_error_rad=joint_err, video=out_video,
    )


def replay_dataset(
    path: Path, episode: int | None = None, video: Path | None = None, camera: str = "front", console: Any | None = None
) -> list[ReplayReport]:
    """Replay one episode (or all). With several episodes, ``video`` gets an ``-<id>`` suffix."""
    ds = Dataset.open(path)
    ids = [episode] if episode is not None else [e.episode_id for e in ds.episodes]
    reports = []
    for ep_id in ids:
        ep = ds.episode(ep_id)
        v = video
        if video is not None and len(ids) > 1:
            v = video.with_name(f"{video.stem}-{ep_id}{video.suffix}")
        reports.append(replay_episode(ep, fps=ds.spec.fps, video=v, camera=camera))
        if console is not None and len(ids) > 1:
            r = reports[-1]
            console.print(f"episode {ep_id}: recorded {r.recorded_outcome}, replay {'success' if r.replay_success else 'failure'}, EE error {r.final_ee_error_m*1e3:.2f} mm")
    return reports
