"""Robot servers on ephemeral loopback ports, in threads, torn down after each test."""

from __future__ import annotations

import socket
import time
from typing import Callable, Iterator

import pytest

from teleforge.robots.remote import RemoteRobot, RobotServer
from teleforge.robots.sim_robot import SimRobot


class CountingSim(SimRobot):
    """The sim, counting the holds it is asked for (by the client or the server's watchdog)."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.holds = 0
        self.acts = 0

    def hold(self):
        self.holds += 1
        return super().hold()

    def act(self, action):
        self.acts += 1
        return super().act(action)


@pytest.fixture
def serve() -> Iterator[Callable[..., RobotServer]]:
    """``serve(robot=None, **server_kwargs)`` -> a started server on 127.0.0.1:<free port>."""
    servers: list[RobotServer] = []

    def make(robot=None, **kw) -> RobotServer:
        kw.setdefault("port", 0)
        srv = RobotServer(robot if robot is not None else CountingSim(control_hz=20), **kw).start()
        servers.append(srv)
        return srv

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def clients() -> Iterator[Callable[..., RemoteRobot]]:
    made: list[RemoteRobot] = []

    def make(address: str, **kw) -> RemoteRobot:
        kw.setdefault("timeout_s", 5.0)  # generous: a loaded CI box must not turn into a flaky test
        r = RemoteRobot(address, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``pred`` until true or the (generous) deadline; bounded, never asserts timing."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()
