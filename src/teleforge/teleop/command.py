"""The normalized operator command every device produces, and the Device protocol."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from teleforge.robots.types import Robot, TaskInfo
from teleforge.spec import TWIST_DIM


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

    twist: np.ndarray = field(default_factory=lambda: np.zeros(TWIST_DIM, dtype=np.float32))
    gripper: float = 0.0
    events: list[Event] = field(default_factory=list)
    t_ns: int = 0  # when the device produced it (session clock)
    # Devices that already speak the native action (scripted expert, replay,
    # policies) set this (ACTION_DIM,) vector; the session then bypasses the twist scaling.
    native_action: np.ndarray | None = None


@runtime_checkable
class Device(Protocol):
    """An input device: keyboard, gamepad, SpaceMouse, scripted expert, replay, policy."""

    name: str

    def open(self) -> None:
        """Find and open the device; DeviceNotFoundError / DevicePermissionError say what to fix."""
        ...

    def read(self) -> Command:
        """Latest command; must not block the control loop (readers run in threads)."""
        ...

    def connected(self) -> bool:
        """False while the device is unplugged or lost (the guard then holds the arm)."""
        ...

    def close(self) -> None:
        """Stop reading and release the device."""
        ...


# --- optional device capabilities, checked with isinstance --------------------------
@runtime_checkable
class Autonomous(Protocol):
    """A device that drives by itself (scripted expert, replay, policy) when ``autonomous`` is True:
    the session records from the first tick and ends the episode on success or STOP."""

    autonomous: bool


@runtime_checkable
class EventConsumer(Protocol):
    """A device fed by the window's event loop (keyboard keys, gamepad hot-plug)."""

    def handle_event(self, ev: Any) -> None:
        """Take one pygame event from the UI thread."""
        ...


@runtime_checkable
class KeyStateConsumer(Protocol):
    """A device that reads the held keys each UI frame (the keyboard)."""

    def set_pressed(self, pressed: Any) -> None:
        """Take ``pygame.key.get_pressed()`` from the UI thread."""
        ...


@runtime_checkable
class SceneFollower(Protocol):
    """A device that must know the new scene after each reset (the scripted expert)."""

    def on_reset(self, robot: Robot, info: TaskInfo) -> None:
        """Called on the control thread after every scene reset."""
        ...


@runtime_checkable
class Labeller(Protocol):
    """A device that labels its episodes (e.g. the expert's injected failure)."""

    def labels(self) -> dict[str, Any]:
        """Ground-truth labels of the current episode (JSON-ready)."""
        ...


@runtime_checkable
class KeyHelp(Protocol):
    """A device that can list its controls for the HUD."""

    def key_help(self) -> list[tuple[str, str]]:
        """(key or button, what it does) rows."""
        ...


def is_autonomous(device: Device) -> bool:
    """True when ``device`` drives by itself (see :class:`Autonomous`)."""
    return isinstance(device, Autonomous) and bool(device.autonomous)


@runtime_checkable
class GripperLatch(Protocol):
    """A device that latches the gripper target (a toggle key): opened by the session at each new scene,
    so a gripper closed at the end of one episode does not close again on the next scene."""

    def release_gripper(self) -> None:
        """Set the latched gripper target to open (0)."""
        ...


@runtime_checkable
class FineModeAware(Protocol):
    """A device with a fine (slow) motion mode the HUD shows."""

    @property
    def fine(self) -> bool:
        """True while fine mode is on."""
        ...
