"""Absent servers, restarts and version mismatches fail clearly and recoverably."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
import zmq

from teleforge.errors import ProtocolVersionError, RemoteRobotError, RobotError
from teleforge.robots.remote import RemoteRobot, RobotServer, protocol

from .conftest import CountingSim, free_port


def test_absent_server_is_a_timeout_error_saying_how_to_start_it():
    port = free_port()
    robot = RemoteRobot(f"tcp://127.0.0.1:{port}", timeout_s=0.2)
    try:
        with pytest.raises(RobotError, match=f"did not answer connect.*teleforge serve-robot --sim --port {port}"):
            robot._call("connect", timeout_s=0.2)
        with pytest.raises(RemoteRobotError, match="did not answer ping"):
            robot.ping()
    finally:
        robot.close()


def test_client_recovers_when_the_server_comes_up_after_a_timeout():
    port = free_port()
    robot = RemoteRobot(f"tcp://127.0.0.1:{port}", timeout_s=0.2)
    try:
        with pytest.raises(RemoteRobotError):
            robot.ping()  # leaves a REQ socket without its reply: it must be rebuilt
        srv = RobotServer(CountingSim(), port=port).start()
        try:
            robot.timeout_s = 5.0
            robot.connect()
            robot.act(np.zeros(7, np.float32))
            assert srv.robot.acts == 1  # exactly once: the timed-out request was not replayed as an act
        finally:
            srv.stop()
    finally:
        robot.close()


def test_server_gone_mid_session_is_an_error_not_a_hang(serve):
    srv = serve()
    robot = RemoteRobot(srv.address, timeout_s=0.3)
    try:
        robot.connect()
        robot.act(np.zeros(7, np.float32))
        srv.stop()
        with pytest.raises(RemoteRobotError, match="did not answer act"):
            robot.act(np.zeros(7, np.float32))
    finally:
        robot.close()  # must not hang either


def test_client_with_another_protocol_version_is_told_to_upgrade(serve, clients, monkeypatch):
    srv = serve()
    remote = clients(srv.address)
    real_request = protocol.request
    monkeypatch.setattr("teleforge.robots.remote.client.request", lambda *a: {**real_request(*a), "v": 999})
    with pytest.raises(ProtocolVersionError, match="client speaks robot protocol version 999.*same teleforge version"):
        remote.ping()
    monkeypatch.undo()
    assert remote.ping() > 0


def test_reply_from_a_server_with_another_version_is_refused(serve, clients, monkeypatch):
    srv = serve()
    remote = clients(srv.address)
    real_ok = protocol.ok_reply
    monkeypatch.setattr("teleforge.robots.remote.server.ok_reply", lambda *a: {**real_ok(*a), "v": 0})
    with pytest.raises(ProtocolVersionError, match="robot server at .* speaks robot protocol version 0"):
        remote.ping()


def test_raw_garbage_gets_an_error_reply_and_the_server_keeps_serving(serve, clients):
    srv = serve()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(srv.address)
    try:
        sock.send_multipart([b"", b"\x00\xffnot msgpack"])
        assert sock.poll(5000)
        reply = msgpack.unpackb(sock.recv())
        assert reply["ok"] is False and "unreadable" in reply["error"]["message"]
        sock.send_multipart([b"", msgpack.packb({"v": protocol.PROTOCOL_VERSION, "id": 1, "method": "teleport", "args": {}})])
        assert sock.poll(5000)
        reply = msgpack.unpackb(sock.recv())
        assert reply["error"]["type"] == "RemoteRobotError" and "unknown request 'teleport'" in reply["error"]["message"]
    finally:
        sock.close()
        ctx.term()
    assert clients(srv.address).ping() > 0


def test_a_protocol_1_client_is_told_to_upgrade_without_its_message_being_read(serve, clients):
    srv = serve(token="tok")
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(srv.address)
    try:
        # what a protocol-1 client sends: one msgpack frame with the token inside
        sock.send(msgpack.packb({"v": 1, "id": 1, "client": "c", "token": "tok", "method": "ping", "args": {}}))
        assert sock.poll(5000)
        reply = msgpack.unpackb(sock.recv())
    finally:
        sock.close()
        ctx.term()
    # protocol-1 clients raise ProtocolVersionError on exactly this reply
    assert reply["ok"] is False and reply["error"]["type"] == "ProtocolVersionError"
    assert "same teleforge version" in reply["error"]["message"]
    assert clients(srv.address, token="tok").ping() > 0


def test_a_server_speaking_protocol_1_is_reported_as_a_version_error(clients):
    # a protocol-1 server answers our two-frame request with an error carrying v=1
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    remote = clients(f"tcp://127.0.0.1:{port}", timeout_s=5.0)
    done = []

    def old_server():
        if rep.poll(5000):
            rep.recv_multipart()
            rep.send(msgpack.packb({"v": 1, "id": None, "ok": False, "wd": {},
                                    "error": {"type": "RemoteRobotError", "message": "a request is one frame, got 2"}}))
        done.append(True)

    import threading

    t = threading.Thread(target=old_server)
    t.start()
    try:
        with pytest.raises(ProtocolVersionError, match="speaks robot protocol version 1"):
            remote.ping()
    finally:
        t.join()
        rep.close()
        ctx.term()


def test_port_in_use_is_a_clear_error(serve):
    srv = serve()
    with pytest.raises(RemoteRobotError, match="another robot server.*--port"):
        RobotServer(CountingSim(), port=srv.port)
