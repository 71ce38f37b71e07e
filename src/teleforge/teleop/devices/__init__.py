"""Input devices: each turns raw input into the same normalized ``Command``.

Build one by name with ``make_device("keyboard" | "gamepad" | "spacemouse" | "replay", **config)``;
``list_devices()`` says what is plugged in.
"""

from teleforge.teleop.devices.gamepad import GamepadConfig, GamepadDevice, GamepadLayout
from teleforge.teleop.devices.keyboard import KEY_HELP, KeyboardConfig, KeyboardDevice, open_dummy_display
from teleforge.teleop.devices.registry import DeviceInfo, device_names, list_devices, make_device, register
from teleforge.teleop.devices.replay import ReplayDevice
from teleforge.teleop.devices.spacemouse import SpaceMouseConfig, SpaceMouseDevice, SpaceMouseParser
from teleforge.teleop.devices.spacemouse_models import MODELS as SPACEMOUSE_MODELS

__all__ = [
    "KEY_HELP",
    "SPACEMOUSE_MODELS",
    "DeviceInfo",
    "GamepadConfig",
    "GamepadDevice",
    "GamepadLayout",
    "KeyboardConfig",
    "KeyboardDevice",
    "ReplayDevice",
    "SpaceMouseConfig",
    "SpaceMouseDevice",
    "SpaceMouseParser",
    "device_names",
    "list_devices",
    "make_device",
    "open_dummy_display",
    "register",
]
