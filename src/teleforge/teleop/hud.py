"""What the operator window shows: one plain dataclass the session loop fills in.

The control thread writes these fields and the UI thread reads them; every field is
a scalar, a str or a small container replaced or updated in place, so a reader sees
at worst a value one tick old, never a torn one worth locking for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OUTCOME_KEYS = ("success", "failure", "unknown", "discarded")


def _zero_outcomes() -> dict[str, int]:
    return {k: 0 for k in OUTCOME_KEYS}


@dataclass
class HudState:
    """Everything on the operator's screen, in one place."""

    # recording
    recording: bool = False
    elapsed_s: float = 0.0
    # task and progress
    task: str = ""
    instruction: str = ""
    episode_index: int = 0  # episodes saved so far in this session (the next one is index + 1)
    episodes_target: int | None = None
    outcomes: dict[str, int] = field(default_factory=_zero_outcomes)
    # control loop health
    loop_hz: float = 0.0  # achieved; 0 until measured
    target_hz: float = 20.0
    jitter_p99_ms: float = 0.0
    missed_deadlines: int = 0
    # input device
    device_name: str = ""
    device_connected: bool = True
    # safety guard
    safety: str = "ok"  # "ok" | "hold" | "estop"
    safety_reason: str = ""
    # recorder pipeline
    recorder_behind: bool = False
    queue_depth: int = 0
    # cameras: age of the newest frame per camera at the last tick (NaN: none yet)
    frame_age_ms: dict[str, float] = field(default_factory=dict)
    # operator feedback
    message: str = ""  # transient notice, e.g. "saved episode 2 of 10 as success"
    key_help: list[tuple[str, str]] = field(default_factory=list)  # (key, action)
    # episode clock: the limit after which the episode ends by itself (None: no limit)
    time_limit_s: float | None = None
    end_reason: str = ""  # why the last episode ended, in words ("time limit (60 s) reached")
    # the robot's own success check, live (None: the robot has no check)
    success_check: bool | None = None
    # gripper: commanded target (0 = open, 1 = closed) and measured opening (1 = fully open; None: unknown)
    gripper_cmd: float = 0.0
    gripper_open: float | None = None
    fine_mode: bool | None = None  # None: the device has no fine mode
    control_frame: str = ""  # what the motion keys are relative to, e.g. "front view" or "robot base"
    # quitting with an episode in progress: the window asks keep / discard / cancel
    confirm_quit: bool = False


@dataclass(frozen=True)
class CardRow:
    """One line of the quality card: a metric, its value as text, and how it compares."""

    label: str  # e.g. "idle fraction"
    value: str  # e.g. "0.12"
    note: str = ""  # e.g. "median 0.09 in this session"
    level: str = "ok"  # "ok" | "warn" | "bad" | "info"


@dataclass(frozen=True)
class QualityCard:
    """What the operator sees right after saving an episode: plain data, computed outside teleop.

    ``number`` counts saved episodes in this session (the header's numbering);
    ``episode_id`` is the dataset's id. ``keys`` are (key, action) rows the window lists.
    """

    number: int
    episode_id: int
    outcome: str
    end_reason: str
    rows: tuple[CardRow, ...] = ()
    success_check: bool | None = None
    duplicate_of: int | None = None  # session number of a near-duplicate episode
    verdict: str = ""  # one line, e.g. "passes the default curation rules"
    verdict_level: str = "ok"
    keys: tuple[tuple[str, str], ...] = ()
    ready_s: float = 0.0  # seconds from save to card ready (measured by whoever built it)
    extras: dict[str, Any] = field(default_factory=dict)
