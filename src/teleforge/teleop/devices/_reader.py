"""The reader-thread skeleton every HID-style device shares (SpaceMouse, gamepad).

A background thread polls the hardware and keeps the latest state under a lock;
``read()`` on the control thread only copies it, so it never blocks. When the SDK
says the device is gone, the poll raises :class:`DeviceDisconnectedError`; the
thread catches it, marks the device disconnected (the safety guard then holds the
arm) and keeps running so the device can reconnect when it is plugged back in.
"""

from __future__ import annotations

import threading

from teleforge.errors import DeviceDisconnectedError
from teleforge.teleop.command import Event


class ReaderDevice:
    """Base for devices read by a background thread: lock, stop flag, event queue,
    connection state and the loss handling. Subclasses implement :meth:`_poll`."""

    thread_name = "device-reader"

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()  # guards the state the reader publishes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._events: list[Event] = []
        self._connected = False
        self.last_error: str | None = None  # why it disconnected, for the HUD

    # --- Device protocol (shared part) ------------------------------------------------
    def connected(self) -> bool:
        """False while the device is unplugged (the guard holds the arm)."""
        with self._lock:
            return self._connected

    def close(self) -> None:
        """Stop the reader thread and release the device."""
        self._stop_reader()
        self._release()
        with self._lock:
            self._connected = False
            self._clear_input()

    # --- for subclasses ------------------------------------------------------------------
    def _start_reader(self) -> None:
        """Start the reader thread (once)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._reader_main, name=self.thread_name, daemon=True)
        self._thread.start()

    def _stop_reader(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def _take_events(self) -> list[Event]:
        """Hand over the events queued since the last read (call with the lock held)."""
        events, self._events = self._events, []
        return events

    def _lost(self, why: str) -> None:
        """The device vanished: release it, zero its input (never replay a stale
        deflection after a replug) and say why."""
        self._release()
        with self._lock:
            self._connected = False
            self._clear_input()
            self.last_error = why

    def _reader_main(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll()
            except DeviceDisconnectedError as exc:
                self._lost(str(exc))

    def _poll(self) -> None:
        """One wait-and-read step; returns within about one poll period (it must watch
        ``self._stop``) and raises DeviceDisconnectedError when the device is gone."""
        raise NotImplementedError

    def _release(self) -> None:
        """Close the hardware handle, if any (called without the lock)."""

    def _clear_input(self) -> None:
        """Zero the published input state (called with the lock held)."""
