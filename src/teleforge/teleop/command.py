"""The normalized operator command every device produces, and the Device protocol."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


class Event(str, enum.Enum):
    """Discrete operator intents, independent of which key or button sent them."""

    START = "start"  # start recording an episode
    STOP = "stop"  # stop recording without deciding (asks for an outcome)
    SAVE_SUCCESS = "save_success"
    SAVE_FAILURE = "save_failure"
    DISCARD = "discard"
    RESET = "reset"  # reset the scene (new seed)
    ESTOP = "estop"  # latching emergency stop
    ESTOP_RELEASE = "estop_release"
    QUIT = "quit"


@dataclass
class Command:
    """A device's reading: 6-D twist in [-1, 1], gripper target in [0, 1] (1 = closed)."""

    twist: np.ndarray = field(default_factory=lambda: np.zeros(6, dtype=np.float32))
    gripper: float = 0.0
    events: list[Event] = field(default_factory=list)
    t_ns: int = 0  # when the device produced it (session clock)
    # Devices that already speak the native action (scripted expert, replay,
    # policies) set this 7-vector; the session then bypasses the twist scaling.
    native_action: np.ndarray | None = None


@runtime_checkable
class Device(Protocol):
    """An input device: keyboard, gamepad, SpaceMouse, scripted expert, replay, policy."""

    name: str

    def open(self) -> None: ...

    def read(self) -> Command:
        """Latest command; must not block the control loop (readers run in threads)."""
        ...

    def connected(self) -> bool: ...

    def close(self) -> None: ...
