"""Hostile traffic: crafted, oversized and flooding messages never crash, stall or reach the arm.

Crashes are provoked against a server in a child process: a segfault there fails
the test instead of killing pytest.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import msgpack
import numpy as np
import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from teleforge.robots.remote import RemoteRobot, protocol
from teleforge.robots.remote.bench import spawn_sim_server

from .conftest import wait_until

TOKEN = "tok-hostile"


def nested_ext_records(depth: int = 200) -> bytes:
    """~730 bytes: records whose payload is a record whose payload is ... (crashed the ext hook at ~200)."""
    x = msgpack.packb(["RobotState", {}])
    for _ in range(depth):
        x = msgpack.packb(msgpack.ExtType(2, x))
    return x


def _send_raw(address: str, frames: list[bytes], timeout_s: float = 10.0) -> dict | None:
    """Send ``frames`` as one REQ message; the reply as a map, or None if none came."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    try:
        sock.send_multipart(frames)
        if not sock.poll(int(timeout_s * 1000)):
            return None
        return msgpack.unpackb(sock.recv(), strict_map_key=False)
    finally:
        sock.close(linger=0)
        ctx.term()


def test_unpacking_nested_ext_records_is_an_error_not_a_segfault():
    code = (
        "import sys, threading, msgpack\n"
        "def nested_ext_records(depth):\n"
        "    x = msgpack.packb(['RobotState', {}])\n"
        "    for _ in range(depth):\n"
        "        x = msgpack.packb(msgpack.ExtType(2, x))\n"
        "    return x\n"
        "from teleforge.errors import RemoteRobotError\n"
        "from teleforge.robots.remote import protocol\n"
        "def go():\n"
        "    for depth in (3, 200, 2000):\n"
        "        try:\n"
        "            protocol.unpack(nested_ext_records(depth))\n"
        "        except RemoteRobotError as exc:\n"
        "            print('refused', depth, flush=True)\n"
        # a thread, like the server's: its stack is what the recursion overflowed
        "t = threading.Thread(target=go); t.start(); t.join()\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    assert res.stdout.split("\n")[:3] == ["refused 3", "refused 200", "refused 2000"], res.stdout


@pytest.mark.parametrize("token", [None, TOKEN])
def test_nested_ext_message_neither_kills_the_server_nor_its_watchdog(token):
    payload = nested_ext_records(200)
    assert len(payload) < 800
    with spawn_sim_server(hz=50.0, watchdog_s=0.2, token=token) as server:
        robot = RemoteRobot(server.address, token=token, timeout_s=10.0)
        try:
            robot.connect()
            robot.act(np.array([0.02, 0, 0, 0, 0, 0, 0], np.float32))  # the arm is moving: the watchdog guards it
            # as a bare one-frame message (protocol 1), and framed with the right (or no) token
            for frames in ([payload], [(token or "").encode(), payload]):
                reply = _send_raw(server.address, frames)
                assert server.alive(), f"the server died on a {len(payload)}-byte message (exit {server.proc.returncode})"
                assert reply is not None and reply["ok"] is False, reply
            # still serving, and the watchdog still holds the arm its client left
            assert wait_until(lambda: robot.observe() is not None and robot.watchdog_tripped)
            robot.act(np.zeros(7, np.float32))
            robot.close()
        finally:
            robot.close()
        assert server.stop() == 0
        assert server.stats["watchdog_trips"] >= 1 and server.stats["watchdog_holds"] >= 1


def test_a_message_over_the_size_limit_is_dropped_at_the_transport_unread(serve, clients):
    srv = serve(token=TOKEN)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 10_000)  # one connection: its drop is the event we wait for
    mon = sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
    try:
        sock.connect(srv.address)
        big = b"\x00" * (8 << 20)  # far beyond any request the protocol needs
        sock.send_multipart([b"", TOKEN.encode(), big])  # "" = the REQ envelope a DEALER must add itself
        events = []
        deadline = time.monotonic() + 20
        while zmq.EVENT_DISCONNECTED not in events and time.monotonic() < deadline:
            if mon.poll(200):
                events.append(recv_monitor_message(mon)["event"])
        assert zmq.EVENT_DISCONNECTED in events, "the server read an oversized message instead of dropping the peer"
    finally:
        sock.disable_monitor()
        mon.close(linger=0)
        sock.close(linger=0)
        ctx.term()
    assert srv.stats.requests == 0  # it never reached the request handler
    assert len(big) > protocol.MAX_REQUEST_BYTES
    assert clients(srv.address, token=TOKEN).ping() > 0


class _Flood:
    """``n`` connections sending ``size``-byte messages (wrong token) as fast as the server takes them."""

    def __init__(self, address: str, n: int = 4, size: int = 20_000_000) -> None:
        self.ctx = zmq.Context()
        self.address, self.n = address, n
        self.blob = np.random.default_rng(0).bytes(size)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        socks = []
        for _ in range(self.n):
            s = self.ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, 2)
            s.setsockopt(zmq.RECONNECT_IVL, 20)
            s.connect(self.address)
            socks.append(s)
        while not self._stop.is_set():
            for s in socks:
                try:
                    s.send_multipart([b"", b"wrong", self.blob], flags=zmq.NOBLOCK, copy=False)
                    self.sent += 1
                except zmq.Again:
                    pass
                while s.poll(0):  # replies, if any, are read and thrown away
                    s.recv_multipart()
            time.sleep(0.001)
        for s in socks:
            s.close(linger=0)

    def __enter__(self) -> _Flood:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.ctx.term()


def test_acts_keep_being_answered_and_the_watchdog_quiet_during_a_bulk_flood(serve, clients):
    srv = serve(token=TOKEN, watchdog_s=1.0)
    robot = clients(srv.address, token=TOKEN, timeout_s=10.0)
    robot.connect()
    robot.act(np.zeros(7, np.float32))
    with _Flood(srv.address) as flood:
        assert wait_until(lambda: flood.sent >= 8)
        for _ in range(50):
            robot.act(np.zeros(7, np.float32))  # every one is answered (a timeout raises)
            time.sleep(0.02)
        sent = flood.sent
    assert sent >= 8
    assert srv.stats.watchdog_trips == 0 and robot.watchdog_trips == 0
    # the bulk never reached the request loop: only our own requests were handled
    assert srv.stats.requests == robot.latency().n
    assert srv.robot.acts == 51
