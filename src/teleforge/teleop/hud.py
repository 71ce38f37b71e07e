"""What the operator window shows: one plain dataclass the session loop fills in.

The control thread writes these fields and the UI thread reads them; every field is
a scalar, a str or a small container replaced or updated in place, so a reader sees
at worst a value one tick old, never a torn one worth locking for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    message: str = ""  # transient notice, e.g. "saved episode 12 as success"
    key_help: list[tuple[str, str]] = field(default_factory=list)  # (key, action)
