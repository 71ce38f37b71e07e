"""Button actions shared by every device: a button names an action, never an Event directly.

A mapping such as ``{"a": "gripper_toggle", "start": "start"}`` stays readable in a
config file, and devices agree on what each word means.
"""

from __future__ import annotations

import numpy as np

from teleforge.errors import DeviceError
from teleforge.teleop.command import Event

GRIPPER_TOGGLE = "gripper_toggle"
FINE = "fine"  # held: scale the twist down for precise moves (keyboard, gamepad)

# action word -> the Event it emits (START doubles as "save success" while recording:
# the session decides which, so one button can both begin and end an episode).
EVENT_ACTIONS: dict[str, Event] = {
    "start": Event.START,
    "stop": Event.STOP,
    "save_success": Event.SAVE_SUCCESS,
    "save_failure": Event.SAVE_FAILURE,
    "discard": Event.DISCARD,
    "reset": Event.RESET,
    "estop": Event.ESTOP,
    "estop_release": Event.ESTOP_RELEASE,
    "quit": Event.QUIT,
    "takeover": Event.TAKEOVER,
}
ACTIONS: tuple[str, ...] = (GRIPPER_TOGGLE, FINE, *EVENT_ACTIONS)


def check_action(action: str, where: str) -> str:
    """Return ``action`` if it is a known action word, else raise a DeviceError naming the valid ones."""
    if action not in ACTIONS:
        raise DeviceError(f"unknown button action {action!r} in {where}; valid actions: {', '.join(ACTIONS)}")
    return action


def apply_deadzone(values: np.ndarray, deadzone: float) -> np.ndarray:
    """Zero |v| < deadzone and rescale the rest so the output still spans [-1, 1] without a jump."""
    v = np.clip(np.asarray(values, dtype=np.float64), -1.0, 1.0)
    if deadzone <= 0.0:
        return v
    mag = np.abs(v)
    out = np.where(mag < deadzone, 0.0, np.sign(v) * (mag - deadzone) / (1.0 - deadzone))
    return out
