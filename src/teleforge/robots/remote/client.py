"""``RemoteRobot``: the ``Robot`` protocol over ZeroMQ, talking to a ``RobotServer``.

The session loop drives it exactly as it drives a ``SimRobot``. Optional
capabilities of the served robot (the sim's ``state_snapshot``, ``get_sim_state``,
the privileged ``object_states`` / ``binding`` / ``target_pose`` the scripted
expert reads, ...) appear as attributes only when the server advertises them,
so ``getattr(robot, "get_sim_state", None)`` answers truthfully.

A request that gets no answer within ``timeout_s`` raises ``RemoteRobotError``
and the REQ socket is rebuilt (ZeroMQ's "lazy pirate" pattern): a REQ socket
that lost its reply is stuck otherwise. Motion commands are never retried --
applying one action twice is worse than reporting the failure.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import zmq

from teleforge import errors
from teleforge.errors import ProtocolVersionError, RemoteRobotError, TeleforgeError
from teleforge.robots.remote.protocol import (
    DEFAULT_PORT,
    MAX_REPLY_BYTES,
    REPLY_LIMITS,
    check_version,
    request,
    request_frames,
    unpack,
)
from teleforge.robots.types import ActResult, ArraySpec, RobotState, TaskInfo

_SLOW_METHODS = frozenset({"connect", "call:reset", "call:set_sim_state"})


@dataclass(frozen=True)
class LatencyStats:
    """Round-trip times of one request kind, as the client measured them."""

    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float


class RemoteRobot:
    """A robot on a ``RobotServer`` at ``address`` (``tcp://host:port``)."""

    def __init__(
        self,
        address: str = f"tcp://127.0.0.1:{DEFAULT_PORT}",
        token: str | None = None,
        timeout_s: float = 1.0,
        slow_timeout_s: float = 30.0,
    ) -> None:
        self.address = address
        self.timeout_s = float(timeout_s)
        self.slow_timeout_s = float(slow_timeout_s)  # connect / reset may run a real arm's homing routine
        self.client_id = uuid.uuid4().hex
        self._token = token
        self._ctx = zmq.Context()
        self._sock: zmq.Socket | None = None
        self._io = threading.Lock()  # a REQ socket must not be shared by two threads mid-request
        self._seq = 0
        self._spec: dict[str, Any] | None = None
        self._rtt: dict[str, deque[int]] = {}
        self._last_mid_ns = 0
        self._connected = False
        self._closed = False
        self.watchdog_tripped = False  # the server's watchdog was holding the arm when it got our last request
        self.watchdog_trips = 0  # times the server's watchdog took over, as of the last reply

    # ------------------------------------------------------------- specs
    @property
    def spec(self) -> dict[str, Any]:
        """The served robot's description (fetched once)."""
        if self._spec is None:
            self._spec = self._call("spec")
        return self._spec

    @property
    def name(self) -> str:
        return f"remote:{self.spec['name']}"

    @property
    def embodiment(self) -> str:
        return str(self.spec["embodiment"])

    @property
    def n_joints(self) -> int:
        return int(self.spec["n_joints"])

    @property
    def action_spec(self) -> ArraySpec:
        return self.spec["action_spec"]

    @property
    def state_spec(self) -> dict[str, ArraySpec]:
        return self.spec["state_spec"]

    # ------------------------------------------------------ Robot protocol
    def connect(self) -> None:
        """Claim the arm on the server (``RobotBusyError`` if another client holds it)."""
        self._spec = self._call("connect")
        self._connected = True

    def disconnect(self) -> None:
        """Release the arm; the server holds it where it is."""
        if self._connected:
            self._connected = False
            self._call("disconnect")

    def observe(self) -> RobotState:
        st: RobotState = self._call("observe")
        # The server stamps with its own clock; the session needs ours (one clock
        # per session). The midpoint of the round trip is the best estimate.
        st.t_ns = self._last_mid_ns
        return st

    def act(self, action: np.ndarray) -> ActResult:
        return self._call("act", {"action": np.asarray(action)})

    def act_joints(self, joint_targets: np.ndarray, gripper: float) -> ActResult:
        return self._call("act_joints", {"joint_targets": np.asarray(joint_targets), "gripper": float(gripper)})

    def hold(self) -> ActResult:
        return self._call("hold")

    # -------------------------------------------------- scene (SceneRobot)
    def reset(self, task: str, seed: int) -> TaskInfo:
        """Reset the served scene (the server's robot must offer ``reset``)."""
        return self._call("call", {"name": "reset", "args": [str(task), int(seed)]})

    def success(self) -> bool:
        return bool(self._call("call", {"name": "success", "args": []}))

    def ping(self) -> float:
        """One round trip to the server, in seconds; works before ``connect``."""
        t0 = time.perf_counter()
        self._call("ping")
        return time.perf_counter() - t0

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the class does not define: the optional capabilities.
        if name.startswith("_"):
            raise AttributeError(name)
        spec = self.spec
        if name in spec["methods"]:
            return self._remote_method(name)
        if name in spec["attributes"]:
            value = self._call("get", {"name": name})
            return tuple(value) if isinstance(value, list) else value
        raise AttributeError(f"the robot served at {self.address} ({spec['name']}) has no {name!r}")

    def _remote_method(self, name: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            return self._call("call", {"name": name, "args": list(args)})

        call.__name__ = name
        return call

    # ------------------------------------------------------------ latency
    def latency(self, method: str | None = None) -> LatencyStats:
        """Round-trip statistics for one request kind (``"act"``, ``"observe"``, ...) or all of them."""
        if method is None:
            samples = [x for d in self._rtt.values() for x in d]
        else:
            samples = list(self._rtt.get(method, ()))
        if not samples:
            return LatencyStats(0, float("nan"), float("nan"), float("nan"))
        ms = np.asarray(samples, dtype=np.float64) / 1e6
        return LatencyStats(len(ms), float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), float(ms.max()))

    def latency_report(self) -> dict[str, LatencyStats]:
        return {m: self.latency(m) for m in sorted(self._rtt)}

    # ------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release the arm if held (best effort) and free the socket."""
        if self._closed:
            return
        try:
            if self._connected:
                self._connected = False
                # Short: closing must not hang on a dead server, whose watchdog and lease cover for us.
                self._call("disconnect", timeout_s=min(self.timeout_s, 0.5))
        except TeleforgeError:
            pass  # the server is gone; its own watchdog holds the arm
        finally:
            self._closed = True
            self._drop_socket()
            self._ctx.term()

    def __enter__(self) -> RemoteRobot:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ transport
    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            s = self._ctx.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)  # a server is trusted less than that
            s.connect(self.address)
            self._sock = s
        return self._sock

    def _drop_socket(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def _call(self, method: str, args: dict[str, Any] | None = None, timeout_s: float | None = None) -> Any:
        if self._closed:
            raise RemoteRobotError("this RemoteRobot was closed: create a new one")
        key = f"call:{args['name']}" if method == "call" and args else method
        timeout = timeout_s if timeout_s is not None else (self.slow_timeout_s if key in _SLOW_METHODS else self.timeout_s)
        with self._io:
            self._seq += 1
            req_id = self._seq
            frames = request_frames(self._token, request(req_id, self.client_id, method, args or {}))
            sock = self._socket()
            t0 = time.monotonic_ns()
            try:
                sock.send_multipart(frames)
                ready = sock.poll(int(timeout * 1000), zmq.POLLIN)
                if not ready:
                    self._drop_socket()
                    raise RemoteRobotError(
                        f"the robot server at {self.address} did not answer {key} within {timeout:g} s. "
                        f"Is it running? Start it with `teleforge serve-robot --sim --port {self._port()}` "
                        "(add --bind and --token to serve beyond this machine), then check the address and firewall"
                    )
                raw = sock.recv()
            except zmq.ZMQError as exc:
                self._drop_socket()
                raise RemoteRobotError(f"talking to the robot server at {self.address} failed: {exc}") from exc
            t1 = time.monotonic_ns()
        self._rtt.setdefault(key, deque(maxlen=100_000)).append(t1 - t0)
        self._last_mid_ns = (t0 + t1) // 2
        msg = unpack(raw, REPLY_LIMITS)
        err = msg.get("error") if msg.get("ok") is False else None
        if not isinstance(err, (dict, type(None))):
            raise RemoteRobotError(f"the robot server at {self.address} sent a malformed error reply")
        if err and err.get("type") == "ProtocolVersionError":
            raise ProtocolVersionError(str(err.get("message")))
        check_version(msg, f"robot server at {self.address}")
        if err is not None and msg.get("id") is None:
            # refused before its body was read (token, framing): REQ/REP lockstep says it is ours
            raise _remote_error(err)
        if msg.get("id") != req_id:
            raise RemoteRobotError(f"the robot server answered request {msg.get('id')} to request {req_id}: restart the client")
        wd = msg.get("wd") or {}
        self.watchdog_tripped = bool(wd.get("tripped", False))
        self.watchdog_trips = int(wd.get("trips", self.watchdog_trips))
        if err is not None:
            raise _remote_error(err)
        return msg.get("result")

    def _port(self) -> str:
        tail = self.address.rsplit(":", 1)
        return tail[1] if len(tail) == 2 and tail[1].isdigit() else str(DEFAULT_PORT)


def _remote_error(err: dict[str, Any]) -> TeleforgeError:
    """The server's error as the same teleforge error class, so callers can catch it by type."""
    name, message = str(err.get("type", "")), str(err.get("message", ""))
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, TeleforgeError):
        return cls(message)
    return RemoteRobotError(f"{name}: {message}" if name else message)
