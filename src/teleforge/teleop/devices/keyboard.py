"""Keyboard teleoperation through pygame, fed by the thread that owns the window.

Key map. The twist is (forward, left, up): `teleforge collect` aligns it with the main
camera by default (forward = away from the viewer, i.e. up in the front image; left =
the image's left), or with the robot base (+x, +y, +z) under ``--control-frame base``:

| key | action |
|---|---|
| W / S | move forward / back (away from / toward the viewer) |
| A / D | move left / right (as the main camera shows it) |
| R / F | move up / down |
| UP / DOWN (or I / K) | pitch: tool tip forward (-wy) / back (+wy) |
| LEFT / RIGHT (or J / L) | roll about x: -wx / +wx |
| Q / E (or U / O) | yaw: turn left (+wz) / right (-wz) |
| SPACE | toggle gripper (open / closed) |
| TAB | toggle fine mode (motion x0.25) |
| ENTER | start episode / save as success |
| BACKSPACE | save as failure |
| DELETE or X | discard episode |
| HOME or Z | reset scene |
| ESC | E-STOP (latches; pressing ESC again keeps it latched) |
| SHIFT+ESC | release the E-STOP |
| CTRL+Q | quit (the window asks: keep the episode in progress as unknown / discard / cancel) |

The device never touches the display: each frame the UI thread calls
``handle_event(ev)`` for every pygame event and ``set_pressed(pygame.key.get_pressed())``.
Held motion keys are dropped when the window loses focus, so a key released
elsewhere cannot keep the arm moving. ``read()`` is thread-safe and never blocks.
For tests and scripts without a window, ``KeyboardConfig(standalone=True)`` opens a
hidden dummy display and pumps its own events on ``read()``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from teleforge.errors import DeviceError
from teleforge.teleop.command import Command, Event
from teleforge.teleop.devices._actions import EVENT_ACTIONS, FINE, GRIPPER_TOGGLE, check_action

# twist index -> (key names that push it +1, key names that push it -1)
TWIST_KEYS: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {
    0: (("w",), ("s",)),
    1: (("a",), ("d",)),
    2: (("r",), ("f",)),
    3: (("right", "l"), ("left", "j")),
    4: (("down", "k"), ("up", "i")),
    5: (("q", "u"), ("e", "o")),
}
# key name -> action word (edge-triggered on key down)
EVENT_KEYS: dict[str, str] = {
    "space": GRIPPER_TOGGLE,
    "tab": FINE,
    "return": "start",
    "enter": "start",  # keypad enter
    "backspace": "save_failure",
    "delete": "discard",
    "x": "discard",
    "home": "reset",
    "z": "reset",
    "escape": "estop",
}
RELEASE_KEY = "escape"  # with SHIFT held: release the e-stop
QUIT_KEY = "q"  # with CTRL held: quit the session

KEY_HELP: list[tuple[str, str]] = [
    ("W / S", "move away / toward (view)"),
    ("A / D", "move left / right (view)"),
    ("R / F", "move up / down"),
    ("UP / DOWN", "pitch tool tip forward / back"),
    ("LEFT / RIGHT", "roll left / right"),
    ("Q / E", "yaw left / right"),
    ("SPACE", "toggle gripper"),
    ("TAB", "fine mode on / off"),
    ("ENTER", "start / save success"),
    ("BACKSPACE", "save failure"),
    ("DEL / X", "discard episode"),
    ("HOME / Z", "reset scene"),
    ("ESC", "E-STOP (latches)"),
    ("SHIFT+ESC", "release E-STOP"),
    ("CTRL+Q", "quit (asks first)"),
]


def _pygame() -> Any:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # keep CLI output clean
    try:
        import pygame  # lazy: listing devices and headless sessions work without pygame
    except ImportError as exc:
        raise DeviceError(f"the keyboard and gamepad devices need pygame ({exc}); `pip install pygame`") from exc
    return pygame


_ALIASES = {"enter": "KP_ENTER", "del": "DELETE", "esc": "ESCAPE"}


def key_code(name: str) -> int:
    """pygame key code for a key name ("w", "space", "return", "up", "f1", ...)."""
    pg = _pygame()
    n = _ALIASES.get(name.lower(), name)
    for attr in (f"K_{n}", f"K_{n.lower()}", f"K_{n.upper()}"):
        if hasattr(pg, attr):
            return int(getattr(pg, attr))
    raise DeviceError(f"unknown key name {name!r}; use pygame key names such as 'w', 'space', 'return', 'up', 'f1'")


def open_dummy_display(size: tuple[int, int] = (1, 1)) -> None:
    """Give pygame a hidden display of its own (dummy video driver when none is set)."""
    pg = _pygame()
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    if not pg.display.get_init():
        pg.display.init()
    if pg.display.get_surface() is None:
        pg.display.set_mode(size, pg.HIDDEN)


@dataclass
class KeyboardConfig:
    """Speeds and key bindings; key names are pygame's (``pygame.key.name``)."""

    speed: float = 1.0  # twist magnitude while a motion key is held, in [0, 1]
    fine_scale: float = 0.25  # multiplier in fine mode
    event_keys: dict[str, str] | None = None  # key name -> action; None = EVENT_KEYS
    standalone: bool = False  # own a hidden dummy display and pump events on read()

    def __post_init__(self) -> None:
        if not 0.0 < self.speed <= 1.0 or not 0.0 < self.fine_scale <= 1.0:
            raise DeviceError("keyboard speed and fine_scale must be in (0, 1]")
        for action in (self.event_keys or {}).values():
            check_action(action, "keyboard event_keys")


class KeyboardDevice:
    """Keyboard as a teleforge Device (see the module docstring for the key map)."""

    def __init__(self, config: KeyboardConfig | None = None, name: str = "keyboard") -> None:
        self.config = config or KeyboardConfig()
        self.name = name
        self._lock = threading.Lock()
        self._held: set[int] = set()
        self._events: list[Event] = []
        self._gripper = 0.0
        self._fine = False
        self._fed_ns = 0
        self._open = False
        pg = _pygame()
        self._pg = pg
        self._twist_codes = {
            axis: (tuple(key_code(k) for k in plus), tuple(key_code(k) for k in minus))
            for axis, (plus, minus) in TWIST_KEYS.items()
        }
        self._motion_codes = frozenset(c for p, m in self._twist_codes.values() for c in (*p, *m))
        self._event_codes = {key_code(k): a for k, a in (self.config.event_keys or EVENT_KEYS).items()}
        self._release_code = key_code(RELEASE_KEY)
        self._quit_code = key_code(QUIT_KEY)

    # --- Device protocol --------------------------------------------------------
    def open(self) -> None:
        """Start taking keys (standalone: open a hidden pygame display of its own)."""
        if self.config.standalone:
            open_dummy_display()
        self._open = True

    def read(self) -> Command:
        """Twist in [-1, 1] from the held keys, the gripper target and key events."""
        if self.config.standalone and self._open:
            self.pump()
        with self._lock:
            twist = np.zeros(6, dtype=np.float32)
            for axis, (plus, minus) in self._twist_codes.items():
                twist[axis] = float(any(c in self._held for c in plus)) - float(any(c in self._held for c in minus))
            twist *= self.config.speed * (self.config.fine_scale if self._fine else 1.0)
            events, self._events = self._events, []
            return Command(twist=twist, gripper=self._gripper, events=events, t_ns=self._fed_ns)

    def connected(self) -> bool:
        """True between open() and close()."""
        return self._open

    def close(self) -> None:
        """Stop taking keys."""
        self._open = False
        with self._lock:
            self._held.clear()

    # --- fed by the UI thread ---------------------------------------------------
    def handle_event(self, ev: Any) -> None:
        """Feed one pygame event (key down/up, focus loss, window close)."""
        pg = self._pg
        with self._lock:
            self._fed_ns = time.monotonic_ns()
            if ev.type == pg.KEYDOWN:
                self._key_down(ev.key, getattr(ev, "mod", 0))
            elif ev.type == pg.KEYUP:
                self._held.discard(ev.key)
            elif ev.type == pg.QUIT:
                self._events.append(Event.QUIT)
            elif ev.type == pg.WINDOWFOCUSLOST:
                self._held.clear()  # a key released in another window never sends KEYUP here

    def set_pressed(self, pressed: Any) -> None:
        """Authoritative held-key state for this frame: ``pygame.key.get_pressed()`` or a set of key codes."""
        if isinstance(pressed, (set, frozenset)):
            held = {c for c in self._motion_codes if c in pressed}
        else:
            held = {c for c in self._motion_codes if pressed[c]}
        if self._pg.display.get_init() and self._pg.key.get_mods() & self._pg.KMOD_CTRL:
            held = set()  # CTRL+<key> is a command (CTRL+Q quits), never motion
        with self._lock:
            self._fed_ns = time.monotonic_ns()
            self._held = held

    def pump(self) -> None:
        """Standalone mode: drain pygame's queue into this device."""
        for ev in self._pg.event.get():
            self.handle_event(ev)

    # --- extras -----------------------------------------------------------------
    @property
    def fine(self) -> bool:
        """True while fine mode (slow motion) is on."""
        return self._fine

    def release_gripper(self) -> None:
        """Open the latched gripper target (the session calls this at each new scene)."""
        with self._lock:
            self._gripper = 0.0

    def key_help(self) -> list[tuple[str, str]]:
        """(key, what it does) rows for the HUD."""
        return list(KEY_HELP)

    def _key_down(self, key: int, mod: int) -> None:
        if key == self._quit_code and mod & self._pg.KMOD_CTRL:
            self._held.discard(key)
            self._events.append(Event.QUIT)
            return
        if key in self._motion_codes:
            self._held.add(key)
        if key == self._release_code and mod & self._pg.KMOD_SHIFT:
            self._events.append(Event.ESTOP_RELEASE)
            return
        action = self._event_codes.get(key)
        if action == GRIPPER_TOGGLE:
            self._gripper = 0.0 if self._gripper >= 0.5 else 1.0
        elif action == FINE:
            self._fine = not self._fine
        elif action in EVENT_ACTIONS:
            self._events.append(EVENT_ACTIONS[action])


def held_keys(names: Iterable[str]) -> set[int]:
    """Key codes for pygame key names: build a ``set_pressed`` argument in scripts and tests."""
    return {key_code(n) for n in names}
