"""The robot server's wire format: msgpack maps over ZeroMQ, numpy arrays as raw bytes.

A request is two frames: the token (raw bytes, empty without one), then the
body ``{"v", "id", "client", "method", "args"}``; the server compares the token
before it unpacks anything. A reply is one frame ``{"v", "id", "ok", "result" |
"error", "wd"}``. ``v`` is :data:`PROTOCOL_VERSION` in every message, so a
mismatch is reported instead of misread. Unpacking is bounded (``Limits``: sizes,
lengths, one level of ext nesting); the server's socket drops any frame over
:data:`MAX_REQUEST_BYTES` at the transport, unread. Arrays travel
as dtype + shape + raw bytes (bit-exact, no float formatting); the few record
types the Robot protocol returns travel as named field maps and are rebuilt
from a fixed registry, never by importing a name taken off the wire.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

from teleforge.errors import ProtocolVersionError, RemoteRobotError
from teleforge.robots.tasks import ObjectState
from teleforge.robots.types import ActResult, ArraySpec, RobotState, TaskInfo

# 2: the token travels in a frame of its own, checked before the body is unpacked.
PROTOCOL_VERSION = 2
DEFAULT_PORT = 5555

_EXT_NDARRAY = 1
_EXT_RECORD = 2

# Record types that may cross the wire, by name. Tuple-typed fields are listed so
# they come back as tuples (msgpack only knows lists).
_RECORDS: dict[str, type] = {
    "RobotState": RobotState,
    "ActResult": ActResult,
    "TaskInfo": TaskInfo,
    "ArraySpec": ArraySpec,
    "ObjectState": ObjectState,
}
_TUPLE_FIELDS: dict[str, tuple[str, ...]] = {"ArraySpec": ("shape", "low", "high", "names")}

# Methods every server answers, and the optional ones it forwards only when its
# robot has them (the sim's reset/success/snapshot and the privileged state the
# scripted expert reads).
CORE_METHODS: tuple[str, ...] = ("connect", "observe", "act", "act_joints", "hold", "disconnect")
OPTIONAL_METHODS: tuple[str, ...] = (
    "reset",
    "success",
    "state_snapshot",
    "get_sim_state",
    "set_sim_state",
    "object_states",
    "gripper_opening",
    "fingers_touching",
    "max_lift",
)
OPTIONAL_ATTRIBUTES: tuple[str, ...] = ("control_hz", "binding", "target_pose", "task_info", "step_count", "sim_time")
# Requests that command motion: they feed the server's watchdog.
MOTION_METHODS: frozenset[str] = frozenset({"act", "act_joints", "hold"})


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _ARRAY_KINDS or obj.dtype.shape != ():
            raise TypeError(f"cannot send an array of dtype {obj.dtype} to the robot server")
        a = np.ascontiguousarray(obj)
        return msgpack.ExtType(_EXT_NDARRAY, msgpack.packb([a.dtype.str, list(a.shape), a.tobytes()]))
    if isinstance(obj, np.generic):
        return obj.item()
    if dataclasses.is_dataclass(obj) and type(obj).__name__ in _RECORDS:
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return msgpack.ExtType(_EXT_RECORD, msgpack.packb([type(obj).__name__, fields], default=_default))
    raise TypeError(f"cannot send a {type(obj).__name__} to the robot server")


@dataclass(frozen=True)
class Limits:
    """Bounds on what one unpack may build; every length is checked before msgpack allocates it."""

    max_bytes: int  # the whole message (and so any bin/ext inside it)
    max_str_len: int
    max_array_len: int
    max_map_len: int
    records: bool  # whether record ext types may appear (replies only: requests never carry them)


# Requests are tiny (the largest, set_sim_state, is ~2.5 KB for the sim); replies carry
# snapshots and states. The server's socket drops a larger request at the transport.
MAX_REQUEST_BYTES = 1 << 20
MAX_REPLY_BYTES = 64 << 20
MAX_TOKEN_BYTES = 1024
REQUEST_LIMITS = Limits(MAX_REQUEST_BYTES, max_str_len=64 << 10, max_array_len=1 << 12, max_map_len=256, records=False)
REPLY_LIMITS = Limits(MAX_REPLY_BYTES, max_str_len=1 << 20, max_array_len=1 << 20, max_map_len=1 << 16, records=True)

_ARRAY_KINDS = "biufc"
_DTYPE = re.compile(r"[<>|=][biufc][0-9]{1,2}")
_MAX_NDIM = 32


def _unpackb(data: Any, limits: Limits, ext_hook: Callable[[int, bytes], Any]) -> Any:
    return msgpack.unpackb(
        data,
        ext_hook=ext_hook,
        raw=False,
        strict_map_key=False,
        max_str_len=limits.max_str_len,
        max_bin_len=limits.max_bytes,
        max_array_len=limits.max_array_len,
        max_map_len=limits.max_map_len,
        max_ext_len=limits.max_bytes,
    )


def _no_ext(code: int, data: bytes) -> Any:
    # An ext inside an array header or a record's fields would be a second level of
    # nesting: no legitimate message has one, and refusing it bounds the recursion
    # (each nested unpack costs a C stack frame; ~200 of them crashed the server).
    raise RemoteRobotError(f"nested msgpack ext type {code} refused")


def _decode_array(data: bytes, limits: Limits) -> np.ndarray:
    head = _unpackb(data, limits, _no_ext)
    if not (isinstance(head, list) and len(head) == 3):
        raise RemoteRobotError("an array on the wire is [dtype, shape, bytes]")
    dtype, shape, raw = head
    if not (isinstance(dtype, str) and _DTYPE.fullmatch(dtype)):
        raise RemoteRobotError(f"refusing an array of dtype {str(dtype)[:40]!r} from the wire: only plain numbers travel")
    dt = np.dtype(dtype)
    if dt.kind not in _ARRAY_KINDS or dt.shape != ():
        raise RemoteRobotError(f"refusing an array of dtype {dtype!r} from the wire: only plain numbers travel")
    if not (isinstance(shape, list) and len(shape) <= _MAX_NDIM and all(type(n) is int and n >= 0 for n in shape)):
        raise RemoteRobotError(f"an array's shape must be at most {_MAX_NDIM} sizes >= 0")
    if not isinstance(raw, bytes):
        raise RemoteRobotError("an array's data must be bytes")
    count = math.prod(shape)  # a Python int: a forged shape cannot overflow it
    if count * dt.itemsize != len(raw):
        raise RemoteRobotError(f"an array of shape {shape} and dtype {dtype} needs {count * dt.itemsize} bytes, got {len(raw)}")
    # frombuffer is read-only over the message bytes: copy so callers may write.
    return np.frombuffer(raw, dtype=dt, count=count).reshape(shape).copy()


def _decode_record(data: bytes, limits: Limits) -> Any:
    head = _unpackb(data, limits, lambda code, d: _array_only(code, d, limits))
    if not (isinstance(head, list) and len(head) == 2 and isinstance(head[1], dict)):
        raise RemoteRobotError("a record on the wire is [name, fields]")
    name, fields = head
    cls = _RECORDS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise RemoteRobotError(f"unknown record type {str(name)[:40]!r} on the wire: client and server versions differ")
    known = {f.name for f in dataclasses.fields(cls)}
    if not set(fields) <= known:
        raise RemoteRobotError(f"a {name} on the wire has unknown fields: client and server versions differ")
    for f in _TUPLE_FIELDS.get(name, ()):
        if isinstance(fields.get(f), list):
            fields[f] = tuple(fields[f])
    try:
        return cls(**fields)
    except TypeError as exc:
        raise RemoteRobotError(f"a {name} on the wire is incomplete: {exc}") from exc


def _array_only(code: int, data: bytes, limits: Limits) -> Any:
    if code == _EXT_NDARRAY:
        return _decode_array(data, limits)
    return _no_ext(code, data)


def _make_hook(limits: Limits) -> Callable[[int, bytes], Any]:
    def hook(code: int, data: bytes) -> Any:
        if code == _EXT_NDARRAY:
            return _decode_array(data, limits)
        if code == _EXT_RECORD and limits.records:
            return _decode_record(data, limits)
        raise RemoteRobotError(f"msgpack ext type {code} is not part of robot protocol {PROTOCOL_VERSION}")

    return hook


def pack(msg: dict[str, Any]) -> bytes:
    """One message to bytes."""
    return msgpack.packb(msg, default=_default, use_bin_type=True)


def unpack(raw: Any, limits: Limits = REQUEST_LIMITS) -> dict[str, Any]:
    """Bytes (or a buffer) to one message within ``limits``; ``RemoteRobotError`` for anything else.

    Nesting is bounded: arrays inside records, nothing inside arrays, at most three
    unpack calls deep; msgpack itself bounds container depth and every length.
    """
    n = len(raw)
    if n > limits.max_bytes:
        raise RemoteRobotError(f"a message of {n} bytes is over this side's limit of {limits.max_bytes}")
    try:
        msg = _unpackb(raw, limits, _make_hook(limits))
    except RemoteRobotError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for garbage
        raise RemoteRobotError(f"unreadable message ({n} bytes): {type(exc).__name__}: {str(exc)[:200]}") from exc
    if not isinstance(msg, dict):
        raise RemoteRobotError(f"a message must be a map, got {type(msg).__name__}")
    return msg


def check_version(msg: dict[str, Any], peer: str) -> None:
    """Raise ``ProtocolVersionError`` unless ``msg`` carries this side's protocol version."""
    v = msg.get("v")
    if v != PROTOCOL_VERSION:
        raise ProtocolVersionError(
            f"the {peer} speaks robot protocol version {v!r}, this side speaks {PROTOCOL_VERSION}: "
            "install the same teleforge version on both machines"
        )


def request(req_id: int, client: str, method: str, args: dict[str, Any]) -> dict[str, Any]:
    """A request body; it travels as the second frame, after the token frame (see ``request_frames``)."""
    return {"v": PROTOCOL_VERSION, "id": req_id, "client": client, "method": method, "args": args}


def request_frames(token: str | None, body: dict[str, Any]) -> list[bytes]:
    """``[token, body]``: the server compares the small token frame before it unpacks anything."""
    return [(token or "").encode(), pack(body)]


def ok_reply(req_id: Any, result: Any, wd: dict[str, Any]) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": req_id, "ok": True, "result": result, "wd": wd}


def error_reply(req_id: Any, exc: BaseException, wd: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "v": PROTOCOL_VERSION,
        "id": req_id,
        "ok": False,
        "error": {"type": type(exc).__name__, "message": str(exc)},
        "wd": wd or {},
    }
