"""Gamepads (Xbox / XInput, PlayStation DualShock / DualSense, generic) through pygame's joystick API.

Default controls (logical names; each layout maps them to the pad's indices):

| control | action |
|---|---|
| left stick up / left | move +x (away) / +y (left) |
| right stick up | move +z (up) |
| right stick left | yaw left (+wz) |
| d-pad up / down | pitch tool tip forward (-wy) / back (+wy) |
| d-pad right / left | roll +wx / -wx |
| right trigger (analog) | close the gripper as far as it is pulled |
| A / cross | toggle gripper (latched closed; the trigger closes further) |
| LB / L1 (held) | fine mode (motion x0.3) |
| START / OPTIONS | start episode / save as success |
| BACK / SHARE | save as failure |
| X / square | discard episode |
| Y / triangle | reset scene |
| B / circle | E-STOP (latches) |
| GUIDE / PS | release the E-STOP |

Joystick state only refreshes when someone pumps pygame's events. With
``feed="thread"`` (default) the device polls in its own thread and pumps joystick
events itself while no pygame window exists (headless sessions); once an operator
window is open, that window's event loop keeps the state fresh and the thread only
samples, so two threads never pump SDL at once.
With ``feed="owner"`` the UI thread calls ``update()`` every frame and
``handle_event(ev)`` for hot-plug events.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from teleforge.errors import DeviceDisconnectedError, DeviceError, DeviceNotFoundError
from teleforge.spec import TWIST_DIM
from teleforge.teleop.command import Command
from teleforge.teleop.devices._actions import EVENT_ACTIONS, FINE, GRIPPER_TOGGLE, apply_deadzone, check_action
from teleforge.teleop.devices._reader import ReaderDevice
from teleforge.teleop.devices.keyboard import _pygame


@dataclass(frozen=True)
class GamepadLayout:
    """Where each logical control sits on one family of pads (SDL joystick indices)."""

    name: str
    axes: dict[str, int]  # lx ly rx ry [lt rt]
    buttons: dict[str, int]  # a b x y lb rb back start guide ls rs
    trigger_rest: float = -1.0  # raw trigger value when released

    @property
    def has_triggers(self) -> bool:
        """True when the layout has analog triggers (lt / rt)."""
        return "rt" in self.axes


LAYOUTS: dict[str, GamepadLayout] = {
    # Linux xpad / SDL joystick order
    "xbox": GamepadLayout(
        "xbox", {"lx": 0, "ly": 1, "lt": 2, "rx": 3, "ry": 4, "rt": 5},
        {"a": 0, "b": 1, "x": 2, "y": 3, "lb": 4, "rb": 5, "back": 6, "start": 7, "guide": 8, "ls": 9, "rs": 10},
    ),
    # Windows XInput through SDL
    "xbox_windows": GamepadLayout(
        "xbox_windows", {"lx": 0, "ly": 1, "rx": 2, "ry": 3, "lt": 4, "rt": 5},
        {"a": 0, "b": 1, "x": 2, "y": 3, "lb": 4, "rb": 5, "back": 6, "start": 7, "ls": 8, "rs": 9, "guide": 10},
    ),
    # DualShock 4 / DualSense on Linux (hid-playstation, hid-sony); a=cross b=circle x=square y=triangle
    "playstation": GamepadLayout(
        "playstation", {"lx": 0, "ly": 1, "lt": 2, "rx": 3, "ry": 4, "rt": 5},
        {"a": 0, "b": 1, "y": 2, "x": 3, "lb": 4, "rb": 5, "back": 8, "start": 9, "guide": 10, "ls": 11, "rs": 12},
    ),
    # Anything else: two sticks, no analog triggers, the first eight buttons
    "generic": GamepadLayout(
        "generic", {"lx": 0, "ly": 1, "rx": 2, "ry": 3},
        {"a": 0, "b": 1, "x": 2, "y": 3, "lb": 4, "rb": 5, "back": 6, "start": 7},
    ),
}


def detect_layout(joystick_name: str, platform: str = sys.platform) -> GamepadLayout:
    """Pick a layout from the name SDL reports for the pad."""
    n = joystick_name.lower()
    if any(k in n for k in ("xbox", "x-box", "xinput")):
        return LAYOUTS["xbox_windows" if platform == "win32" else "xbox"]
    if any(k in n for k in ("ps4", "ps5", "dualshock", "dualsense", "sony", "playstation", "wireless controller")):
        return LAYOUTS["playstation"]
    return LAYOUTS["generic"]


# twist index -> (source, sign); sources: stick axes lx ly rx ry, d-pad hat dpad_x dpad_y.
# SDL sticks read -1 up / -1 left; the hat reads +1 up / +1 right.
DEFAULT_TWIST_SOURCES: tuple[tuple[str, float], ...] = (
    ("ly", -1.0), ("lx", -1.0), ("ry", -1.0), ("dpad_x", 1.0), ("dpad_y", -1.0), ("rx", -1.0),
)
DEFAULT_BUTTONS: dict[str, str] = {
    "a": GRIPPER_TOGGLE, "b": "estop", "x": "discard", "y": "reset",
    "start": "start", "back": "save_failure", "guide": "estop_release", "lb": FINE, "rs": "takeover",
}

def default_buttons(layout: GamepadLayout) -> dict[str, str]:
    """DEFAULT_BUTTONS on the buttons this layout has; pads without GUIDE release the e-stop with RB."""
    out = {k: v for k, v in DEFAULT_BUTTONS.items() if k in layout.buttons}
    if "guide" not in layout.buttons:
        out["rb"] = "estop_release"
    return out


KEY_HELP: list[tuple[str, str]] = [
    ("left stick", "move x / y"), ("right stick", "up-down z, yaw"), ("d-pad", "pitch / roll"),
    ("RT / R2", "close gripper (analog)"), ("A / cross", "toggle gripper"), ("LB / L1", "fine mode (hold)"),
    ("START", "start / save success"), ("BACK", "save failure"), ("X / square", "discard"),
    ("Y / triangle", "reset scene"), ("B / circle", "E-STOP"), ("GUIDE / PS", "release E-STOP"),
]


@dataclass
class GamepadConfig:
    """Which pad, its layout, deadzone, stick mapping and button actions."""

    index: int = 0  # pygame joystick index
    layout: str = "auto"  # auto | xbox | xbox_windows | playstation | generic
    deadzone: float = 0.12
    twist_sources: tuple[tuple[str, float], ...] = DEFAULT_TWIST_SOURCES
    buttons: dict[str, str] | None = None  # logical button -> action; None = default_buttons(layout)
    gripper: str = "auto"  # trigger | toggle | auto (trigger when the layout has analog triggers)
    fine_scale: float = 0.3
    feed: str = "thread"  # thread | owner
    poll_hz: float = 100.0
    reconnect_interval_s: float = 0.5

    def __post_init__(self) -> None:
        if self.layout != "auto" and self.layout not in LAYOUTS:
            raise DeviceError(f"unknown gamepad layout {self.layout!r}; use auto, {', '.join(LAYOUTS)}")
        if len(self.twist_sources) != TWIST_DIM:
            raise DeviceError("twist_sources needs 6 (source, sign) pairs: vx vy vz wx wy wz")
        for src, _sign in self.twist_sources:
            if src not in ("lx", "ly", "rx", "ry", "dpad_x", "dpad_y", "none"):
                raise DeviceError(f"unknown twist source {src!r}; use lx ly rx ry dpad_x dpad_y none")
        for action in (self.buttons or {}).values():
            check_action(action, "gamepad buttons")
        if self.gripper not in ("auto", "trigger", "toggle"):
            raise DeviceError(f"gripper mode must be auto, trigger or toggle, got {self.gripper!r}")
        if self.feed not in ("thread", "owner"):
            raise DeviceError(f"feed must be 'thread' or 'owner', got {self.feed!r}")
        if not 0.0 <= self.deadzone < 1.0:
            raise DeviceError("deadzone must be in [0, 1)")


class JoystickBackend(Protocol):
    """The SDK boundary: pygame.joystick in production, a fake in tests."""

    def count(self) -> int:
        """Number of joysticks connected now."""
        ...

    def open(self, index: int) -> Any:
        """The joystick at ``index`` (get_name, get_numaxes/get_axis, get_numbuttons/get_button, get_numhats/get_hat)."""
        ...

    def pump(self) -> None:
        """Refresh SDL's joystick state (no-op where a window's event loop does it)."""
        ...


class PygameJoysticks:
    """pygame.joystick. With ``pump`` it keeps SDL's joystick state fresh itself, but only
    while no window exists: once an operator window is open, its event loop pumps."""

    def __init__(self, pump: bool) -> None:
        pg = self._pg = _pygame()
        self._pump = pump
        if pump and not pg.display.get_init():
            # Event pumping needs the video subsystem, not a window. Init it with the
            # configured driver so a window opened later still shows up.
            try:
                pg.display.init()
            except pg.error:
                os.environ["SDL_VIDEODRIVER"] = "dummy"  # no display on this machine at all
                pg.display.init()
        if not pg.joystick.get_init():
            pg.joystick.init()
        self._joy_events = [pg.JOYAXISMOTION, pg.JOYBALLMOTION, pg.JOYHATMOTION, pg.JOYBUTTONDOWN,
                            pg.JOYBUTTONUP, pg.JOYDEVICEADDED, pg.JOYDEVICEREMOVED]

    def count(self) -> int:
        """Number of joysticks SDL sees now."""
        return self._pg.joystick.get_count()

    def open(self, index: int) -> Any:
        """Open and init the pygame joystick at ``index``."""
        j = self._pg.joystick.Joystick(index)
        j.init()
        return j

    def pump(self) -> None:
        """Drain joystick events when no window exists (a window's event loop pumps otherwise)."""
        if self._pump and self._pg.display.get_surface() is None:
            # Take only joystick events: nothing piles up for a window opened later.
            self._pg.event.get(self._joy_events)


def list_joysticks() -> list[str]:
    """Names of the joysticks pygame sees right now (no display needed)."""
    b = PygameJoysticks(pump=False)
    names = []
    for i in range(b.count()):
        try:
            names.append(b.open(i).get_name())
        except Exception:  # pygame.error: vanished between count and open
            continue
    return names


class GamepadDevice(ReaderDevice):
    """A gamepad as a teleforge Device: sticks -> twist, trigger -> gripper, buttons -> events."""

    thread_name = "gamepad-poll"

    def __init__(self, config: GamepadConfig | None = None, backend: JoystickBackend | None = None, name: str = "gamepad") -> None:
        super().__init__(name)
        self.config = config or GamepadConfig()
        self._backend = backend
        self._joy: Any = None
        self.layout: GamepadLayout | None = None
        self.joystick_name = ""
        self._twist = np.zeros(TWIST_DIM, dtype=np.float32)
        self._toggle = 0.0
        self._trigger = 0.0
        self._trigger_armed = False
        self._prev_buttons: dict[str, bool] = {}
        self._held_fine = False
        self._actions: dict[str, str] = {}
        self._sample_ns = 0
        self._last_attempt = 0.0

    # --- Device protocol --------------------------------------------------------
    def open(self) -> None:
        """Open the pad (DeviceNotFoundError if none) and, with feed='thread', start polling."""
        if self._backend is None:
            self._backend = PygameJoysticks(pump=self.config.feed == "thread")
        self._connect()
        if self.config.feed == "thread":
            self._start_reader()

    def read(self) -> Command:
        """The sticks' latest twist in [-1, 1], the gripper target and button events."""
        with self._lock:
            events = self._take_events()
            if not self._connected:
                return Command(gripper=self._gripper(), events=events, t_ns=self._sample_ns)
            return Command(twist=self._twist.copy(), gripper=self._gripper(), events=events, t_ns=self._sample_ns)

    # --- fed by the owner thread (feed="owner"), or by the polling thread --------
    def update(self) -> None:
        """Sample the pad once (call from the thread that pumps pygame's events)."""
        if self._joy is None:
            if time.monotonic() - self._last_attempt >= self.config.reconnect_interval_s:
                try:
                    self._connect()
                except DeviceError as exc:
                    self.last_error = str(exc)
            return
        try:
            raw = self._read_pad()
        except DeviceDisconnectedError as exc:
            self._lost(str(exc))
            return
        self._apply(*raw)

    def handle_event(self, ev: Any) -> None:
        """Hot-plug events from the owner's event loop (JOYDEVICEREMOVED / JOYDEVICEADDED)."""
        t = getattr(ev, "type", None)
        pg = _pygame()
        if t == pg.JOYDEVICEREMOVED and self._joy is not None:
            iid = getattr(self._joy, "get_instance_id", lambda: None)()
            if iid is None or getattr(ev, "instance_id", iid) == iid:
                self._lost("gamepad unplugged; plug it back in")
        elif t == pg.JOYDEVICEADDED and self._joy is None:
            self._last_attempt = 0.0

    # --- extras -----------------------------------------------------------------
    def key_help(self) -> list[tuple[str, str]]:
        """(control, what it does) rows for the HUD."""
        return list(KEY_HELP)

    # --- internals --------------------------------------------------------------
    def _connect(self) -> None:
        self._last_attempt = time.monotonic()
        b = self._backend
        assert b is not None, "open() sets the backend"
        b.pump()
        n = b.count()
        if n <= self.config.index:
            raise DeviceNotFoundError(
                f"no gamepad at index {self.config.index} ({n} joystick(s) seen); plug one in, "
                "check `teleforge devices`, or use --device keyboard"
            )
        joy = b.open(self.config.index)
        name = str(joy.get_name())
        layout = LAYOUTS[self.config.layout] if self.config.layout != "auto" else detect_layout(name)
        actions = self.config.buttons if self.config.buttons is not None else default_buttons(layout)
        for btn in actions:
            if btn not in layout.buttons:
                raise DeviceError(f"button {btn!r} does not exist on the {layout.name} layout; use one of: {', '.join(layout.buttons)}")
        with self._lock:
            self._joy, self.layout, self.joystick_name = joy, layout, name
            self._actions = dict(actions)
            self._prev_buttons = {}
            self._trigger_armed = False
            self._trigger = 0.0
            self._twist[:] = 0
            self._connected = True
            self._sample_ns = time.monotonic_ns()
            self.last_error = None

    def _release(self) -> None:
        self._last_attempt = time.monotonic()  # the reconnect interval starts now

    def _clear_input(self) -> None:
        self._joy = None
        self._twist[:] = 0
        self._trigger = 0.0

    def _read_pad(self) -> tuple[dict[str, float], dict[str, bool], tuple[int, int]]:
        """Sample the open pad; DeviceDisconnectedError once it is gone."""
        try:
            assert self._backend is not None, "open() sets the backend"
            if self._backend.count() <= self.config.index:
                raise DeviceError("no longer listed")
            return self._sample(self._joy)
        except Exception as exc:  # pygame.error once the pad is gone
            raise DeviceDisconnectedError(f"gamepad disconnected ({exc}); plug it back in") from exc

    def _sample(self, joy: Any) -> tuple[dict[str, float], dict[str, bool], tuple[int, int]]:
        lay = self.layout
        assert lay is not None
        na, nb = joy.get_numaxes(), joy.get_numbuttons()
        axes = {k: float(joy.get_axis(i)) for k, i in lay.axes.items() if i < na}
        buttons = {k: bool(joy.get_button(i)) for k, i in lay.buttons.items() if i < nb}
        hat = tuple(joy.get_hat(0)) if joy.get_numhats() > 0 else (0, 0)
        return axes, buttons, (int(hat[0]), int(hat[1]))

    def _apply(self, axes: dict[str, float], buttons: dict[str, bool], hat: tuple[int, int]) -> None:
        cfg = self.config
        lay = self.layout
        assert lay is not None
        sticks = {k: axes.get(k, 0.0) for k in ("lx", "ly", "rx", "ry")}
        dz = apply_deadzone(np.array(list(sticks.values())), cfg.deadzone)
        src = dict(zip(sticks, dz, strict=True))
        src["dpad_x"], src["dpad_y"], src["none"] = float(hat[0]), float(hat[1]), 0.0
        twist = np.array([sign * src[name] for name, sign in cfg.twist_sources], dtype=np.float32)
        with self._lock:
            pressed = [k for k, v in buttons.items() if v and not self._prev_buttons.get(k, False)]
            self._prev_buttons = buttons
            self._held_fine = any(buttons.get(k, False) for k, a in self._actions.items() if a == FINE)
            if self._held_fine:
                twist *= cfg.fine_scale
            self._twist = np.clip(twist, -1.0, 1.0).astype(np.float32)
            if "rt" in axes:
                raw = axes["rt"]
                # SDL reports 0 for a trigger until it first moves; only trust it once seen at rest.
                if raw <= lay.trigger_rest + 0.05:
                    self._trigger_armed = True
                t = (raw - lay.trigger_rest) / (1.0 - lay.trigger_rest)
                self._trigger = float(np.clip(t, 0.0, 1.0)) if self._trigger_armed else 0.0
            for k in pressed:
                action = self._actions.get(k)
                if action == GRIPPER_TOGGLE:
                    self._toggle = 0.0 if self._toggle >= 0.5 else 1.0
                elif action in EVENT_ACTIONS:
                    self._events.append(EVENT_ACTIONS[action])
            self._sample_ns = time.monotonic_ns()

    def _gripper(self) -> float:
        use_trigger = self.config.gripper == "trigger" or (
            self.config.gripper == "auto" and self.layout is not None and self.layout.has_triggers
        )
        return max(self._toggle, self._trigger) if use_trigger else self._toggle

    def _poll(self) -> None:
        if self._stop.wait(1.0 / self.config.poll_hz):
            return
        try:
            assert self._backend is not None, "open() sets the backend"
            self._backend.pump()
        except Exception as exc:  # a dead SDL event loop must not kill the poller silently
            self.last_error = f"gamepad event pump failed: {exc}"
        self.update()
