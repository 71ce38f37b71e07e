"""``RobotServer``: puts any ``Robot`` behind a ZeroMQ REP socket, with its own watchdog.

One file because the request loop, the client lease and the watchdog guard the same arm under one lock.

One client drives the arm at a time (it claims the arm with ``connect`` and keeps
it while it talks at least every ``lease_s``). The server's watchdog does not
trust the client: once the arm has been commanded to move, if no act/hold
arrives within ``watchdog_s`` the server itself commands ``hold()`` every control
period until a fresh command, a reset or a disconnect, and says so in every reply.
It binds to loopback unless told otherwise and then insists on a token.

Hostile traffic: the socket drops any frame over ``MAX_REQUEST_BYTES`` at the
transport (the peer is disconnected, the bytes never reach this process's
request loop), so bulk floods cannot queue ahead of the control path; the token
frame is compared before the body is unpacked; unpacking is bounded; and every
argument is checked against the robot's specs before the robot sees it.
"""

from __future__ import annotations

import hmac
import inspect
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import zmq

from teleforge.errors import (
    AuthError,
    ProtocolVersionError,
    RemoteRobotError,
    RobotBusyError,
    RobotError,
    RobotNotConnectedError,
    SafetyError,
    TeleforgeError,
)
from teleforge.robots.remote.protocol import (
    CORE_METHODS,
    DEFAULT_PORT,
    MAX_REQUEST_BYTES,
    MAX_TOKEN_BYTES,
    MOTION_METHODS,
    OPTIONAL_ATTRIBUTES,
    OPTIONAL_METHODS,
    PROTOCOL_VERSION,
    check_version,
    error_reply,
    ok_reply,
    pack,
    unpack,
)
from teleforge.robots.remote.validate import RequestValidator, name
from teleforge.robots.types import Robot

log = logging.getLogger(__name__)
_REQUESTS: tuple[str, ...] = CORE_METHODS + ("ping", "spec", "call", "get")
_MISSING = object()
_MAX_CLIENT_ID = 128
# A legitimate client has one request in flight; a few queued per peer is plenty,
# and bounds what a flooding peer can park in this process's memory.
_RCVHWM = 8


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # "*", interface names, host names: assume reachable from outside
        return False


@dataclass
class ServerStats:
    """What the server has done since it started."""

    requests: int = 0
    errors: int = 0
    watchdog_trips: int = 0
    watchdog_holds: int = 0
    clients: int = 0  # successful connects


class RobotServer:
    """Serve ``robot`` on ``tcp://bind:port`` (``port=0``: an ephemeral port, see ``address``)."""

    def __init__(
        self,
        robot: Robot,
        bind: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        token: str | None = None,
        watchdog_s: float = 0.25,
        lease_s: float = 5.0,
        hold_hz: float | None = None,
    ) -> None:
        if not is_loopback(bind) and not token:
            raise SafetyError(
                f"refusing to serve the robot on {bind!r} without a token: anyone who can reach it could move the arm. "
                "Pass --token SECRET (clients pass the same), or bind 127.0.0.1"
            )
        if watchdog_s <= 0 or lease_s <= 0:
            raise SafetyError(f"watchdog_s and lease_s must be positive, got {watchdog_s} and {lease_s}")
        self.robot = robot
        self.bind = bind
        self.watchdog_s = float(watchdog_s)
        self.lease_s = float(lease_s)
        hz = hold_hz if hold_hz is not None else float(getattr(robot, "control_hz", 20.0))
        self.hold_period_s = 1.0 / hz
        self._token = token.encode() if token else None
        self.methods = tuple(m for m in OPTIONAL_METHODS if callable(getattr(robot, m, None)))
        self.attributes = tuple(a for a in OPTIONAL_ATTRIBUTES if inspect.getattr_static(robot, a, _MISSING) is not _MISSING)
        self.stats = ServerStats()
        self._validate = RequestValidator(robot)

        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)  # larger frames: peer dropped, bytes unread
        self._sock.setsockopt(zmq.RCVHWM, _RCVHWM)
        host = bind
        if ":" in bind.strip("[]"):  # IPv6 literal
            self._sock.setsockopt(zmq.IPV6, 1)
            host = f"[{bind.strip('[]')}]"
        endpoint = f"tcp://{host}:{port if port else '*'}"
        try:
            self._sock.bind(endpoint)
        except zmq.ZMQError as exc:
            self._sock.close()
            self._ctx.term()
            raise RemoteRobotError(
                f"cannot listen on {endpoint}: {exc}. Is another robot server running there? Pick another --port"
            ) from exc
        self.address: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.port = int(self.address.rsplit(":", 1)[1])

        # One lock for the robot and the watchdog state: MuJoCo and most vendor
        # SDKs are not safe to command from two threads at once.
        self._lock = threading.Lock()
        self._owner: str | None = None
        self._owner_seen = 0.0
        self._robot_connected = False
        self._armed = False  # the arm has been commanded since connect/reset: the watchdog guards it
        self._last_motion = 0.0
        self._holding = False  # the watchdog has taken over
        self._last_hold = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._closed = False
        self._serving = threading.Event()
        self._done = threading.Event()

    # ------------------------------------------------------------------ running
    def serve_forever(self) -> None:
        """Answer requests until ``stop()`` (or Ctrl-C in this thread); then shut down cleanly."""
        if self._closed:
            raise RemoteRobotError("this robot server was stopped: create a new one")
        self._serving.set()
        self._start_watchdog()
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                if not poller.poll(50):
                    continue
                frames, dropped = self._recv_request()
                reply = self._handle(frames, dropped)
                try:
                    out = pack(reply)
                except Exception as exc:  # a result type the wire cannot carry: still answer (REP must)
                    out = pack(error_reply(reply.get("id"), RemoteRobotError(f"the server cannot encode its reply: {exc}")))
                self._sock.send(out)
        finally:
            self._shutdown()

    def start(self) -> RobotServer:
        """Serve in a background thread; returns self."""
        if self._thread is not None:
            raise RemoteRobotError("this robot server is already running")
        self._thread = threading.Thread(target=self.serve_forever, name="teleforge-robot-server", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask ``serve_forever`` to return within ~50 ms; safe from a signal handler."""
        self._stop.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving: the arm holds, the robot is disconnected, the port is released."""
        self._stop.set()
        if self._serving.is_set():
            self._done.wait(timeout=timeout_s)
        else:
            self._shutdown()

    close = stop

    def __enter__(self) -> RobotServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def watchdog_holding(self) -> bool:
        """True while the server's watchdog is holding the arm."""
        return self._holding

    # ---------------------------------------------------------------- requests
    def _recv_request(self) -> tuple[list[zmq.Frame], int]:
        """The first two frames of one message, without copying; further frames are dropped unread."""
        frames: list[zmq.Frame] = [self._sock.recv(copy=False)]
        dropped = 0
        while self._sock.getsockopt(zmq.RCVMORE):
            frame = self._sock.recv(copy=False)
            if len(frames) < 2:
                frames.append(frame)
            else:
                dropped += 1
        return frames, dropped

    def _handle(self, frames: list[zmq.Frame], dropped: int = 0) -> dict[str, Any]:
        self.stats.requests += 1
        req_id: Any = None
        try:
            if len(frames) == 1:
                # Protocol 1 sent the token inside a single msgpack frame. Not unpacked:
                # nothing from an unauthenticated peer is parsed.
                raise ProtocolVersionError(
                    f"the client sent a one-frame request (robot protocol 1 or not a teleforge client); this server speaks "
                    f"robot protocol {PROTOCOL_VERSION}: install the same teleforge version on both machines"
                )
            if dropped:
                raise RemoteRobotError(f"a request is 2 frames (token, body), got {2 + dropped}")
            self._check_token(frames[0].buffer)
            msg = unpack(frames[1].buffer)
            req_id = msg.get("id")
            if req_id is not None and type(req_id) is not int:
                req_id = None
                raise RemoteRobotError("a request id must be an integer")
            check_version(msg, "client")
            method = msg.get("method")
            args = msg.get("args") or {}
            if not isinstance(method, str) or not isinstance(args, dict):
                raise RemoteRobotError("a request needs a method name and an argument map")
            client = msg.get("client") or ""
            if not isinstance(client, str) or len(client) > _MAX_CLIENT_ID:
                raise RemoteRobotError(f"a client id is a string of at most {_MAX_CLIENT_ID} characters")
            wd_before = self._holding
            result = self._dispatch(method, args, client)
            return ok_reply(req_id, result, self._wd_report(wd_before))
        except TeleforgeError as exc:
            self.stats.errors += 1
            return error_reply(req_id, exc, self._wd_report(self._holding))
        except Exception as exc:  # a bug or a bad argument: answer, log, keep serving
            self.stats.errors += 1
            log.exception("robot server request failed")
            err = RemoteRobotError(f"the robot server failed: {type(exc).__name__}: {exc}")
            return error_reply(req_id, err, self._wd_report(self._holding))

    def _check_token(self, token: memoryview) -> None:
        if self._token is None:
            return  # loopback without a token: whatever the client sends is ignored
        given = bytes(token) if len(token) <= MAX_TOKEN_BYTES else b""
        if not hmac.compare_digest(given, self._token):
            raise AuthError("the robot server rejected the token: pass the one it was started with (--token / RemoteRobot(token=...))")

    def _wd_report(self, active: bool) -> dict[str, Any]:
        return {"tripped": bool(active), "trips": self.stats.watchdog_trips, "holds": self.stats.watchdog_holds}

    def _spec(self) -> dict[str, Any]:
        r = self.robot
        return {
            "protocol": PROTOCOL_VERSION,
            "name": r.name,
            "embodiment": r.embodiment,
            "n_joints": int(r.n_joints),
            "action_spec": r.action_spec,
            "state_spec": dict(r.state_spec),
            "methods": list(self.methods),
            "attributes": list(self.attributes),
            "watchdog_s": self.watchdog_s,
            "lease_s": self.lease_s,
        }

    def _dispatch(self, method: str, args: dict[str, Any], client: str) -> Any:
        if method not in _REQUESTS:
            raise RemoteRobotError(f"unknown request {method!r}; this server answers: {', '.join(_REQUESTS)}")
        now = time.monotonic()
        if method == "ping":
            with self._lock:
                if client and client == self._owner:
                    self._owner_seen = now
                return {"protocol": PROTOCOL_VERSION, "owner": self._owner == client, "busy": self._owner not in (None, client)}
        if method == "spec":
            return self._spec()
        with self._lock:
            if method == "connect":
                return self._claim(client, now)
            if method == "disconnect":
                self._release(client)
                return None
            self._require_owner(client, now)
            r = self.robot
            # Every argument is checked before anything changes: the arm, its state, the watchdog.
            self._validate.arg_keys(method, args)
            if method in MOTION_METHODS:
                motion_args = self._validate.motion(method, args)
                self._armed, self._holding, self._last_motion = True, False, now
                if method == "act":
                    return r.act(*motion_args)
                if method == "act_joints":
                    return r.act_joints(*motion_args)
                return r.hold()
            if method == "observe":
                return r.observe()
            if method == "call":
                fn = name(args.get("name"), "call", "name")
                if fn not in self.methods:
                    raise RobotError(
                        f"the robot behind this server ({r.name}) has no {fn}(); it offers: {', '.join(self.methods) or 'nothing optional'}"
                    )
                call_args = self._validate.call(fn, args.get("args", []))
                if fn == "reset":  # a fresh scene is at rest: nothing to guard until the next command
                    self._armed, self._holding = False, False
                return getattr(r, fn)(*call_args)
            if method == "get":
                attr = name(args.get("name"), "get", "name")
                if attr not in self.attributes:
                    raise RobotError(f"the robot behind this server ({r.name}) has no attribute {attr!r}")
                return getattr(r, attr)
        raise AssertionError(f"unhandled request {method!r}")  # pragma: no cover - _REQUESTS lists every branch

    def _claim(self, client: str, now: float) -> dict[str, Any]:
        if not client:
            raise RemoteRobotError("connect needs a client id")
        if self._owner not in (None, client) and now - self._owner_seen < self.lease_s:
            raise RobotBusyError(
                f"the robot server at {self.address} is in use by another client (last heard {now - self._owner_seen:.1f} s ago): "
                f"disconnect that client, or wait until it has been silent for {self.lease_s:.0f} s"
            )
        if self._owner not in (None, client):
            log.warning("client %s went silent for %.1f s; handing the arm to %s", self._owner, now - self._owner_seen, client)
        if not self._robot_connected:
            self.robot.connect()
            self._robot_connected = True
        if self._owner != client:
            self.stats.clients += 1
        self._owner, self._owner_seen = client, now
        return self._spec()

    def _release(self, client: str) -> None:
        if self._owner != client:
            return  # idempotent; never lets one client release another's claim
        self._owner = None
        if self._armed:
            self._hold_now()  # the client is gone: stop where the arm is
            self._armed, self._holding = False, False

    def _require_owner(self, client: str, now: float) -> None:
        if self._owner is None:
            raise RobotNotConnectedError("the remote robot is not connected: call connect() first")
        if self._owner != client:
            raise RobotBusyError(
                f"the robot server at {self.address} is driven by another client: only one client may command the arm; "
                "disconnect the other client first"
            )
        self._owner_seen = now

    # ---------------------------------------------------------------- watchdog
    def _start_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watchdog_main, name="teleforge-robot-watchdog", daemon=True)
            self._watchdog.start()

    def _watchdog_main(self) -> None:
        tick = min(self.watchdog_s / 5, self.hold_period_s / 2)
        while not self._stop.wait(tick):
            with self._lock:
                if not self._armed or not self._robot_connected:
                    continue
                now = time.monotonic()
                if now - self._last_motion <= self.watchdog_s:
                    continue
                if not self._holding:
                    self._holding = True
                    self.stats.watchdog_trips += 1
                    self._last_hold = 0.0
                    log.warning("watchdog: no command for %.0f ms, holding the arm", 1e3 * (now - self._last_motion))
                if now - self._last_hold >= self.hold_period_s:
                    self._last_hold = now
                    self._hold_now()
                    self.stats.watchdog_holds += 1

    def _hold_now(self) -> None:
        try:
            self.robot.hold()
        except Exception:  # keep trying every period; a dead arm is reported on the next request
            log.exception("robot server: hold() failed")

    # ---------------------------------------------------------------- shutdown
    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join(timeout=2.0)
        with self._lock:
            if self._robot_connected:
                if self._armed:
                    self._hold_now()
                try:
                    self.robot.disconnect()
                except Exception:
                    log.exception("robot server: disconnect() failed")
                self._robot_connected = False
            self._owner = None
        self._sock.close(linger=0)
        self._ctx.term()
        self._done.set()
