"""Serve a `RobotServer` in the foreground until it is told to stop, the way a process should."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from teleforge.robots.remote.server import RobotServer


def serve_until_stopped(server: RobotServer, ready: Callable[[], None] | None = None) -> None:
    """Serve until Ctrl-C, SIGTERM or ``server.request_stop()``, then stop the server (the arm
    holds, the client is dropped, the port is freed).

    SIGTERM (systemd, docker stop, a parent process) shuts down as cleanly as Ctrl-C; its
    handler is set only on the main thread (Python sets signal handlers nowhere else) and
    the previous one comes back afterwards. ``ready`` runs once the handler is in place,
    before serving: announce the address there, so a SIGTERM sent on seeing it is caught.
    """
    on_main = threading.current_thread() is threading.main_thread()
    old_handler = signal.signal(signal.SIGTERM, lambda *_: server.request_stop()) if on_main else None
    try:
        if ready is not None:
            ready()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if on_main:
            signal.signal(signal.SIGTERM, old_handler)
