"""What a collection session is told and what it hands back: `SessionConfig`,
`EpisodeResult` per episode, `SessionResult` for the run, and `end_reason` in the
operator's words. Plain records: the session module and the quality card share them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from teleforge.robots.types import TaskInfo


@dataclass
class SessionConfig:
    """One collection session at the robot."""

    task: str = "pick_cube"
    episodes: int = 10
    hz: float = 20.0
    seed: int = 0  # episode k uses seed + k (deterministic scene per episode)
    operator_id: str = "operator"
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    notes: str = ""
    # Autonomous devices (scripted expert, replay, policy) end their episode this
    # long after the task's success predicate first holds, so the final state is settled.
    success_hold_s: float = 0.5
    time_limit_s: float | None = None  # None: the task's own limit
    ui_fps: float = 30.0
    # Human devices: rotate the device twist by this heading (rad about +z) into the base
    # frame (teleop.control_frame); None keeps the base frame. ``control_frame`` names it for the HUD.
    control_yaw_rad: float | None = None
    control_frame: str = "robot base"


@dataclass
class EpisodeResult:
    """One episode as the session ended it (``loop``: the clock's timing summary)."""

    episode_id: int | None  # None when discarded
    outcome: str  # success | failure | unknown | discarded
    steps: int
    seed: int
    instruction: str
    loop: dict[str, Any]
    finalize_s: float = 0.0
    number: int = 0  # 1-based count of saved episodes in this session (the header's numbering); 0 if discarded
    labels: dict[str, Any] = field(default_factory=dict)  # as stored (ended_by, operator_outcome, success_check, ...)
    wall_s: float = 0.0  # seconds from scene reset to save (operator time spent on this episode)
    task: str = ""
    file: str = ""  # the saved shard (absolute path), empty if discarded


@dataclass
class SessionResult:
    """Every episode of a session, and why it ended early if it did."""

    session_id: str
    episodes: list[EpisodeResult] = field(default_factory=list)
    aborted: str | None = None  # why the session ended early (e-stop quit, disk full, …)
    operator_summary: dict[str, Any] | None = None  # filled by workflows.collect (quality medians, time per kept)

    def counts(self) -> dict[str, int]:
        """Outcome -> number of episodes."""
        out: dict[str, int] = {}
        for e in self.episodes:
            out[e.outcome] = out.get(e.outcome, 0) + 1
        return out


@dataclass
class _Episode:
    """The control thread's view of the episode in progress (or the scene waiting for START)."""

    info: TaskInfo
    recording: bool = False
    step: int = 0
    start_tick: int = 0
    success_since: int | None = None
    success: bool | None = None  # the robot's check at the last recorded step (None: no check)
    scene_t: float = field(default_factory=time.monotonic)  # when the scene was reset (wall clock)


_END_WORDS = {
    "operator": "labelled by the operator",
    "success": "the task succeeded",
    "device_stopped": "the device stopped",
    "quit": "kept when quitting",
    "interrupted": "kept when interrupted (Ctrl-C)",
    "stopped": "kept when the session stopped",
}


def end_reason(ended_by: str, outcome: str, time_limit_s: float) -> str:
    """Why an episode ended, in words for the operator (``ended_by`` as stored in its labels)."""
    if ended_by == "time_limit":
        return f"time limit ({time_limit_s:g} s) reached, outcome from the task check"
    return _END_WORDS.get(ended_by, ended_by or "ended")
