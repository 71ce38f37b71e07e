"""3Dconnexion SpaceMouse over raw HID (``hidapi``), read in a background thread.

The puck's six axes become the normalized twist; buttons become actions
(default: left = toggle gripper, right = start / save success). Report layouts and
model ids live in :mod:`teleforge.teleop.devices.spacemouse_models`.

Default axis mapping assumes the operator stands behind the robot, looking along
its +x: push the puck away = +x, push left = +y, lift = +z, and the rotations
follow the same rotation of frames. Change ``axis_map`` / ``axis_signs`` for
another stance.
"""

from __future__ import annotations

import errno
import os
import re
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from teleforge.errors import DeviceDisconnectedError, DeviceError, DeviceNotFoundError, DevicePermissionError
from teleforge.spec import TWIST_DIM
from teleforge.teleop.command import Command
from teleforge.teleop.devices._actions import EVENT_ACTIONS, GRIPPER_TOGGLE, apply_deadzone, check_action
from teleforge.teleop.devices._reader import ReaderDevice
from teleforge.teleop.devices.spacemouse_models import (
    REPORT_BATTERY,
    REPORT_BUTTONS,
    REPORT_ENTERPRISE_BUTTONS,
    REPORT_ROTATION,
    REPORT_TRANSLATION,
    VENDOR_IDS,
    SpaceMouseModel,
    model_for,
)

UDEV_RULES_FILE = "/etc/udev/rules.d/99-teleforge-spacemouse.rules"
UDEV_RELOAD = "sudo udevadm control --reload-rules && sudo udevadm trigger"


def udev_rule(vendor_id: int) -> str:
    """The udev rule line that lets the logged-in user open this vendor's hidraw nodes."""
    return f'KERNEL=="hidraw*", ATTRS{{idVendor}}=="{vendor_id:04x}", MODE="0660", TAG+="uaccess"'


def _int16(lo: int, hi: int) -> int:
    v = lo | (hi << 8)
    return v - 0x10000 if v >= 0x8000 else v


class SpaceMouseParser:
    """Turns raw HID reports into absolute axis counts and a button bitmask (no I/O, no scaling)."""

    def __init__(self) -> None:
        self.counts = np.zeros(6, dtype=np.int32)  # device frame: x y z rx ry rz
        self.buttons = 0  # bit i = button i held
        self.battery: int | None = None  # percent, wireless models
        self.combined_seen = False  # a 12-byte report 1 arrived (newer devices)

    def feed(self, report: bytes | list[int]) -> int:
        """Apply one report; return the bitmask of buttons that went down in it."""
        r = bytes(report)
        if not r:
            return 0
        rid, p = r[0], r[1:]
        if rid == REPORT_TRANSLATION and len(p) >= 12:
            self.combined_seen = True
            self.counts[:] = [_int16(p[i], p[i + 1]) for i in range(0, 12, 2)]
        elif rid == REPORT_TRANSLATION and len(p) >= 6:
            self.counts[:3] = [_int16(p[i], p[i + 1]) for i in range(0, 6, 2)]
        elif rid == REPORT_ROTATION and len(p) >= 6:
            self.counts[3:] = [_int16(p[i], p[i + 1]) for i in range(0, 6, 2)]
        elif rid == REPORT_BUTTONS:
            return self._set_buttons(int.from_bytes(p, "little"))
        elif rid == REPORT_ENTERPRISE_BUTTONS:
            # A list of held button numbers (1-based); 0 pads the unused slots.
            mask = 0
            for code in p:
                if code:
                    mask |= 1 << (code - 1)
            return self._set_buttons(mask)
        elif rid == REPORT_BATTERY and p:
            self.battery = int(p[0])
        return 0  # unknown report ids (LED echo, vendor-specific) are ignored on purpose

    def _set_buttons(self, mask: int) -> int:
        pressed = mask & ~self.buttons
        self.buttons = mask
        return pressed

    def zero(self) -> None:
        """Forget the deflection and held buttons (after a replug)."""
        self.counts[:] = 0
        self.buttons = 0


@dataclass
class SpaceMouseConfig:
    """How to find the SpaceMouse and map it onto the robot's twist."""

    model: str | None = None  # model name to prefer (see spacemouse_models.MODELS); None = first found
    path: str | None = None  # exact hidapi path, when several are plugged in
    full_scale: float = 350.0  # raw counts at full deflection
    deadzone: float = 0.08  # fraction of full scale ignored around rest (the puck never reads exactly 0)
    # robot axis k = axis_signs[k] * device axis axis_map[k]; device order x y z rx ry rz.
    axis_map: tuple[int, int, int, int, int, int] = (1, 0, 2, 4, 3, 5)
    axis_signs: tuple[float, float, float, float, float, float] = (-1.0, -1.0, -1.0, -1.0, -1.0, -1.0)
    translation_gain: float = 1.0
    rotation_gain: float = 1.0
    # button name (model's names, or "bit<N>") -> action word; None = the model's default.
    buttons: dict[str, str] | None = None
    read_timeout_ms: int = 20
    reconnect: bool = True  # reopen it when it is plugged back in
    reconnect_interval_s: float = 0.5

    def __post_init__(self) -> None:
        if sorted(self.axis_map) != list(range(6)):
            raise DeviceError(f"axis_map must be a permutation of 0..5, got {self.axis_map}")
        if len(self.axis_signs) != 6:
            raise DeviceError(f"axis_signs needs 6 entries, got {self.axis_signs}")
        if self.full_scale <= 0 or not 0.0 <= self.deadzone < 1.0:
            raise DeviceError("full_scale must be > 0 and deadzone in [0, 1)")


def default_buttons(model: SpaceMouseModel | None) -> dict[str, str]:
    """Left/menu toggles the gripper, right/fit starts or saves; Pro models add e-stop keys."""
    names = model.buttons if model else {}
    if "left" in names:
        return {"left": GRIPPER_TOGGLE, "right": "start"}
    if "menu" in names:
        out = {"menu": GRIPPER_TOGGLE, "fit": "start"}
        extra = {"esc": "estop", "4": "estop_release", "1": "save_failure", "2": "discard", "3": "reset"}
        out.update({k: v for k, v in extra.items() if k in names})
        return out
    return {"bit0": GRIPPER_TOGGLE, "bit1": "start"}


def resolve_buttons(mapping: dict[str, str], model: SpaceMouseModel | None) -> dict[int, str]:
    """Button names -> bit indices; unknown names raise a DeviceError listing the model's names."""
    names = model.buttons if model else {}
    out: dict[int, str] = {}
    for key, action in mapping.items():
        check_action(action, "SpaceMouse buttons")
        m = re.fullmatch(r"bit(\d+)", key)
        if key in names:
            out[names[key]] = action
        elif m:
            out[int(m.group(1))] = action
        else:
            valid = ", ".join([*names, "bit<N>"])
            raise DeviceError(f"SpaceMouse button {key!r} unknown for {model.name if model else 'this model'}; use one of: {valid}")
    return out


def _import_hid() -> ModuleType:
    try:
        import hid  # lazy: hidapi is needed only when a SpaceMouse is actually opened
    except ImportError as exc:  # the wheel bundles libhidapi; a broken install lands here
        raise DeviceError(f"cannot import hidapi ({exc}); install it with `pip install hidapi`") from exc
    return hid


def path_str(path: Any) -> str:
    """A hidapi path (bytes or str) as text."""
    return path.decode(errors="replace") if isinstance(path, bytes) else str(path)


def device_node(path: str) -> str | None:
    """The /dev node behind a hidapi path: hidraw paths are nodes; libusb paths are bus:dev:iface."""
    if path.startswith("/dev/"):
        return path
    m = re.fullmatch(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4}):([0-9a-fA-F]{2})", path)
    if m:
        return f"/dev/bus/usb/{int(m.group(1), 16):03d}/{int(m.group(2), 16):03d}"
    return None


def _permission_denied(path: str, exc: OSError) -> bool:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return True
    node = device_node(path)
    return bool(node and os.path.exists(node) and not os.access(node, os.R_OK | os.W_OK))


def find_spacemice(hid_module: ModuleType | None = None) -> list[dict[str, Any]]:
    """hidapi's entries for every connected 3Dconnexion device, one per device (model name added)."""
    hid = hid_module or _import_hid()
    found: dict[tuple[int, int, str], dict[str, Any]] = {}
    for vid in VENDOR_IDS:
        for info in hid.enumerate(vid, 0):
            model = model_for(info["vendor_id"], info["product_id"])
            if model is None and info["vendor_id"] == 0x046D:
                continue  # Logitech's own mice and keyboards share this vendor id
            # Receivers expose several interfaces; keep the multi-axis one (usage page 1, usage 8).
            key = (info["vendor_id"], info["product_id"], str(info.get("serial_number") or ""))
            entry = dict(info, model=model.name if model else info.get("product_string") or "3Dconnexion device")
            prev = found.get(key)
            if prev is None or (info.get("usage_page"), info.get("usage")) == (1, 8):
                found[key] = entry
    return list(found.values())


class SpaceMouseDevice(ReaderDevice):
    """A SpaceMouse as a teleforge Device: a reader thread feeds HID reports to a
    :class:`SpaceMouseParser`; read() never blocks."""

    thread_name = "spacemouse-reader"

    def __init__(self, config: SpaceMouseConfig | None = None, hid_module: ModuleType | None = None, name: str = "spacemouse") -> None:
        super().__init__(name)
        self.config = config or SpaceMouseConfig()
        self._hid = hid_module
        self._dev: Any = None
        self._info: dict[str, Any] | None = None
        self.model: SpaceMouseModel | None = None
        self._parser = SpaceMouseParser()
        self._button_actions: dict[int, str] = {}
        self._gripper = 0.0
        self._heartbeat_ns = 0

    # --- Device protocol --------------------------------------------------------
    def open(self) -> None:
        """Find, open and start reading; raises DeviceNotFoundError / DevicePermissionError."""
        if self._thread is not None:
            return
        if self._hid is None:
            self._hid = _import_hid()
        self._connect()
        self._start_reader()

    def read(self) -> Command:
        """The puck's latest twist in [-1, 1], the gripper target and button events."""
        with self._lock:
            events = self._take_events()
            if not self._connected:
                return Command(gripper=self._gripper, events=events, t_ns=self._heartbeat_ns)
            counts = self._parser.counts.astype(np.float64)
            t_ns = self._heartbeat_ns
            gripper = self._gripper
        return Command(twist=self.twist_from_counts(counts), gripper=gripper, events=events, t_ns=t_ns)

    # --- extras -----------------------------------------------------------------
    def twist_from_counts(self, counts: np.ndarray) -> np.ndarray:
        """Raw device-frame counts -> robot-frame twist in [-1, 1] (scale, deadzone, map, gain)."""
        cfg = self.config
        scaled = apply_deadzone(np.asarray(counts, dtype=np.float64) / cfg.full_scale, cfg.deadzone)
        twist = np.array([cfg.axis_signs[k] * scaled[cfg.axis_map[k]] for k in range(TWIST_DIM)])
        twist[:3] *= cfg.translation_gain
        twist[3:] *= cfg.rotation_gain
        return np.clip(twist, -1.0, 1.0).astype(np.float32)

    @property
    def battery(self) -> int | None:
        """Battery charge in percent (wireless models), None until reported."""
        return self._parser.battery

    def key_help(self) -> list[tuple[str, str]]:
        """(button, what it does) rows for the HUD and README."""
        names = {bit: n for n, bit in (self.model.buttons if self.model else {}).items()}
        return [(f"button {names.get(bit, f'bit{bit}')}", action.replace("_", " ")) for bit, action in sorted(self._button_actions.items())]

    # --- internals --------------------------------------------------------------
    def _select(self) -> dict[str, Any]:
        cfg = self.config
        candidates = find_spacemice(self._hid)
        if cfg.path is not None:
            candidates = [c for c in candidates if path_str(c["path"]) == cfg.path]
        if cfg.model is not None:
            candidates = [c for c in candidates if c["model"].lower() == cfg.model.lower()]
        if not candidates:
            what = f" matching {cfg.model or cfg.path!r}" if (cfg.model or cfg.path) else ""
            raise DeviceNotFoundError(
                f"no SpaceMouse found{what} (looked for vendor 0x256f/0x046d); plug it in or use --device keyboard"
            )
        # Prefer known models, wired before receivers (a receiver enumerates even with the puck off).
        candidates.sort(key=lambda c: (model_for(c["vendor_id"], c["product_id"]) is None, "receiver" in c["model"].lower()))
        return candidates[0]

    def _connect(self) -> None:
        info = self._select()
        path = info["path"]
        assert self._hid is not None, "open() imports hid"
        dev = self._hid.device()
        try:
            dev.open_path(path)
        except OSError as exc:
            p = path_str(path)
            if _permission_denied(p, exc):
                raise DevicePermissionError(
                    f"{info['model']} found at {p} but this user may not open it (permission denied). "
                    f"Install a udev rule:\n  echo '{udev_rule(info['vendor_id'])}' | sudo tee {UDEV_RULES_FILE}\n"
                    f"  {UDEV_RELOAD}\nthen unplug and replug the SpaceMouse."
                ) from exc
            raise DeviceError(f"{info['model']} found at {p} but opening it failed ({exc}); unplug and replug it, then retry") from exc
        dev.set_nonblocking(0)  # blocking read with a timeout: the thread sleeps in the kernel, not in a spin
        model = model_for(info["vendor_id"], info["product_id"])
        actions = resolve_buttons(self.config.buttons if self.config.buttons is not None else default_buttons(model), model)
        with self._lock:
            self._dev, self._info, self.model = dev, info, model
            self._button_actions = actions
            self._parser.zero()
            self._connected = True
            self._heartbeat_ns = time.monotonic_ns()
            self.last_error = None

    def _release(self) -> None:
        dev, self._dev = self._dev, None
        if dev is not None:
            try:
                dev.close()
            except OSError:
                pass

    def _clear_input(self) -> None:
        self._parser.zero()

    def _read_report(self) -> list[int]:
        """One HID report (empty on timeout); DeviceDisconnectedError once the puck is unplugged."""
        try:
            return self._dev.read(64, self.config.read_timeout_ms)
        except (OSError, ValueError) as exc:  # hidapi raises on an unplugged device
            raise DeviceDisconnectedError(f"SpaceMouse disconnected ({exc}); plug it back in") from exc

    def _poll(self) -> None:
        cfg = self.config
        if self._dev is None:
            if self._stop.wait(cfg.reconnect_interval_s) or not cfg.reconnect:
                return
            try:
                self._connect()
            except DeviceError as exc:
                with self._lock:
                    self.last_error = str(exc)
            return
        data = self._read_report()
        now = time.monotonic_ns()
        with self._lock:
            if data:
                pressed = self._parser.feed(data)
                self._dispatch(pressed)
            self._heartbeat_ns = now

    def _dispatch(self, pressed: int) -> None:
        bit = 0
        while pressed:
            if pressed & 1:
                action = self._button_actions.get(bit)
                if action == GRIPPER_TOGGLE:
                    self._gripper = 0.0 if self._gripper >= 0.5 else 1.0
                elif action in EVENT_ACTIONS:
                    self._events.append(EVENT_ACTIONS[action])
            pressed >>= 1
            bit += 1
