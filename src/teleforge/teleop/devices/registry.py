"""Find connected input devices (``teleforge devices``) and build one by name (``--device``)."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from teleforge.errors import DeviceError
from teleforge.spec import ACTION_DIM
from teleforge.teleop.command import Device
from teleforge.teleop.devices.gamepad import GamepadConfig, GamepadDevice, detect_layout, list_joysticks
from teleforge.teleop.devices.keyboard import KeyboardConfig, KeyboardDevice
from teleforge.teleop.devices.replay import ReplayDevice
from teleforge.teleop.devices.spacemouse import (
    UDEV_RELOAD,
    SpaceMouseConfig,
    SpaceMouseDevice,
    device_node,
    find_spacemice,
    path_str,
    udev_rule,
)


@dataclass
class DeviceInfo:
    """One row of ``teleforge devices``."""

    name: str  # what to pass to --device
    kind: str  # spacemouse | gamepad | keyboard | scripted | replay
    status: str  # ready | not found | no permission | needs a window | unavailable
    detail: str


def _keyboard(**config: Any) -> Device:
    return KeyboardDevice(_build(KeyboardConfig, "keyboard", config))


def _gamepad(**config: Any) -> Device:
    backend = config.pop("backend", None)
    return GamepadDevice(_build(GamepadConfig, "gamepad", config), backend=backend)


def _spacemouse(**config: Any) -> Device:
    hid_module = config.pop("hid_module", None)
    return SpaceMouseDevice(_build(SpaceMouseConfig, "spacemouse", config), hid_module=hid_module)


def _replay(**config: Any) -> Device:
    if "actions" not in config:
        raise DeviceError(
            f"the replay device needs actions=<(T, {ACTION_DIM}) array>; `teleforge replay` loads them from an episode"
        )
    return ReplayDevice(**config)


_FACTORIES: dict[str, Callable[..., Device]] = {
    "keyboard": _keyboard,
    "gamepad": _gamepad,
    "spacemouse": _spacemouse,
    "replay": _replay,
}


def register(name: str, factory: Callable[..., Device]) -> None:
    """Add a device kind (e.g. the sim's scripted expert) to ``make_device``."""
    _FACTORIES[name] = factory


def device_names() -> list[str]:
    """Names ``make_device`` accepts, sorted."""
    return sorted(_FACTORIES)


def make_device(name: str, **config: Any) -> Device:
    """Build the device called ``name`` from keyword config (its config dataclass's fields)."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise DeviceError(f"unknown device {name!r}; valid devices: {', '.join(device_names())}")
    return factory(**config)


def _build(cls: type[Any], name: str, config: dict[str, Any]) -> Any:
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise DeviceError(f"{name} has no option(s) {', '.join(unknown)}; options: {', '.join(sorted(fields))}")
    return cls(**config)


def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def list_devices(hid_module: ModuleType | None = None, joystick_names: list[str] | None = None) -> list[DeviceInfo]:
    """Every input the operator could use here, with why one is not usable."""
    out: list[DeviceInfo] = []
    out.extend(_spacemice(hid_module))
    out.extend(_gamepads(joystick_names))
    if _has_display():
        out.append(DeviceInfo("keyboard", "keyboard", "ready", "keys in the operator window (see the key map in the HUD)"))
    else:
        out.append(DeviceInfo("keyboard", "keyboard", "needs a window",
                              "no display here; use --device gamepad / spacemouse / scripted with --headless"))
    out.append(DeviceInfo("scripted", "scripted", "ready", "the sim's privileged expert (always available)"))
    return out


def _spacemice(hid_module: ModuleType | None) -> list[DeviceInfo]:
    try:
        found = find_spacemice(hid_module)
    except (DeviceError, OSError) as exc:
        return [DeviceInfo("spacemouse", "spacemouse", "unavailable", str(exc))]
    if not found:
        return [DeviceInfo("spacemouse", "spacemouse", "not found", "no 3Dconnexion device (vendor 0x256f/0x046d) plugged in")]
    rows = []
    for f in found:
        path = path_str(f["path"])
        node = device_node(path)
        ok = node is None or not os.path.exists(node) or os.access(node, os.R_OK | os.W_OK)
        ids = f"{f['vendor_id']:04x}:{f['product_id']:04x}"
        if ok:
            rows.append(DeviceInfo("spacemouse", "spacemouse", "ready", f"{f['model']} ({ids}) at {path}"))
        else:
            rows.append(DeviceInfo("spacemouse", "spacemouse", "no permission",
                                   f"{f['model']} ({ids}): add `{udev_rule(f['vendor_id'])}` to udev rules, then {UDEV_RELOAD}"))
    return rows


def _gamepads(names: list[str] | None) -> list[DeviceInfo]:
    if names is None:
        try:
            names = list_joysticks()
        except Exception as exc:  # pygame missing or SDL failed to start
            return [DeviceInfo("gamepad", "gamepad", "unavailable", f"pygame joystick support failed: {exc}")]
    if not names:
        return [DeviceInfo("gamepad", "gamepad", "not found", "no joystick or gamepad seen by SDL")]
    return [
        DeviceInfo("gamepad", "gamepad", "ready", f"#{i} {n} (layout {detect_layout(n).name}; pick with index={i})")
        for i, n in enumerate(names)
    ]
