"""Any LeRobot ``Teleoperator`` (a leader arm, LeRobot's gamepad or keyboard) as a teleforge device.

A reader thread calls ``get_action()`` (a serial read on a leader arm, a few ms) and keeps the
latest reading; :meth:`LeRobotTeleopDevice.read` only copies it, so the control loop never
waits on the bus. The reading is the teleoperator's declared action (``action_features``, e.g.
``"shoulder_pan.pos"`` ...), handed to the session as ``Command.joint_action`` in the order the
follower declares (``action_keys``), so a leader drives a follower joint by joint and the recorded
action is the follower's declared joint targets. LeRobot is never imported here (duck typing);
its teleoperators need ``pip install 'teleforge[lerobot]'``.

Leader arms have no buttons: with ``autonomous=True`` the session records from the first tick and
ends each episode at its time limit; otherwise pass episode events with :meth:`push_event` (the
operator window's keys, a foot pedal).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from teleforge.errors import DeviceDisconnectedError, DeviceError
from teleforge.teleop.command import Command, Event
from teleforge.teleop.devices._reader import ReaderDevice


class LeRobotTeleopDevice(ReaderDevice):
    """A LeRobot teleoperator; ``action_keys`` orders its reading like the follower's action."""

    thread_name = "lerobot-teleop"

    def __init__(self, teleop: Any, action_keys: Sequence[str] | None = None, poll_hz: float = 100.0,
                 autonomous: bool = False, name: str = "lerobot") -> None:
        super().__init__(name)
        self.teleop = teleop
        declared = [k for k, v in dict(teleop.action_features).items() if v is float]
        self.action_keys = tuple(action_keys or declared)
        missing = [k for k in self.action_keys if k not in declared]
        if missing:
            raise DeviceError(f"the LeRobot teleoperator declares no {missing}; it has {declared} -- "
                              "pair a leader with the follower of the same motors")
        self.poll_s = 1.0 / float(poll_hz)
        self.autonomous = bool(autonomous)
        self._action: np.ndarray | None = None
        self._t_ns = 0

    def open(self) -> None:
        """Connect the teleoperator and start reading it."""
        if not getattr(self.teleop, "is_connected", False):
            self.teleop.connect()
        with self._lock:
            self._connected = True
        self._start_reader()

    def push_event(self, ev: Event) -> None:
        """Queue an episode event (START, SAVE_SUCCESS, ESTOP, ...) for the next read()."""
        with self._lock:
            self._events.append(ev)

    def read(self) -> Command:
        """The latest leader reading as ``joint_action`` (None until the first one) and queued events."""
        with self._lock:
            events, self._events = self._events, []
            action = None if self._action is None else self._action.copy()
            t_ns = self._t_ns
        return Command(events=events, t_ns=t_ns, joint_action=action)

    # --- ReaderDevice hooks ---------------------------------------------------------------
    def _reader_main(self) -> None:
        while not self._stop.is_set():
            try:
                reading = self.teleop.get_action()
                vec = np.array([float(reading[k]) for k in self.action_keys], np.float32)
            except (DeviceDisconnectedError, ConnectionError, OSError, KeyError) as exc:
                with self._lock:
                    self._connected = False
                    self.last_error = f"LeRobot teleoperator lost: {exc}"
                time.sleep(0.1)
                continue
            with self._lock:
                self._action, self._t_ns = vec, time.monotonic_ns()
                self._connected = True
            self._stop.wait(self.poll_s)

    def _release(self) -> None:
        if getattr(self.teleop, "is_connected", False):
            self.teleop.disconnect()

    def _clear_input(self) -> None:
        # never replay a stale leader pose after the link comes back
        self._events = []
        self._action = None
