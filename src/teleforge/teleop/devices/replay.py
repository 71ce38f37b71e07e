"""Replay a recorded action sequence as a device: one native action per read, then STOP."""

from __future__ import annotations

import time

import numpy as np

from teleforge.errors import DeviceError
from teleforge.spec import ACTION_DIM, ACTION_NAMES, GRIPPER_INDEX
from teleforge.teleop.command import Command, Event


class ReplayDevice:
    """Emits ``Command(native_action=actions[i])`` for i = 0..T-1, then one STOP event.

    After the STOP it keeps answering a zero motion with the last gripper target, so
    a loop that keeps reading holds still instead of failing.
    """

    def __init__(self, actions: np.ndarray, name: str = "replay") -> None:
        a = np.asarray(actions, dtype=np.float32)
        if a.ndim != 2 or a.shape[1] != ACTION_DIM:
            raise DeviceError(
                f"replay actions must have shape (T, {ACTION_DIM}) [{' '.join(ACTION_NAMES)}], got {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            raise DeviceError("replay actions contain NaN or inf; check the episode's action column")
        self.actions = a
        self.name = name
        self._i = 0
        self._stopped = False
        self._open = False

    def open(self) -> None:
        """Mark the device connected (nothing to find)."""
        self._open = True

    def read(self) -> Command:
        """The next recorded action; after the last one, a hold with one STOP event."""
        now = time.monotonic_ns()
        if self._i < len(self.actions):
            a = self.actions[self._i].copy()
            self._i += 1
            return Command(gripper=float(a[GRIPPER_INDEX]), t_ns=now, native_action=a)
        last_g = float(self.actions[-1, GRIPPER_INDEX]) if len(self.actions) else 0.0
        hold = np.zeros(ACTION_DIM, dtype=np.float32)
        hold[GRIPPER_INDEX] = last_g
        events = [] if self._stopped else [Event.STOP]
        self._stopped = True
        return Command(gripper=last_g, events=events, t_ns=now, native_action=hold)

    def connected(self) -> bool:
        """True between open() and close()."""
        return self._open

    def close(self) -> None:
        """Mark the device disconnected."""
        self._open = False

    @property
    def step(self) -> int:
        """Index of the next action to emit."""
        return self._i

    @property
    def done(self) -> bool:
        """True once every recorded action was emitted."""
        return self._i >= len(self.actions)
