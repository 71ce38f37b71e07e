"""The robot server's wire format: msgpack maps over ZeroMQ, numpy arrays as raw bytes.

A request is ``{"v", "id", "client", "token", "method", "args"}``; a reply is
``{"v", "id", "ok", "result" | "error", "wd"}``. ``v`` is :data:`PROTOCOL_VERSION`
in every message, so a mismatch is reported instead of misread. Arrays travel
as dtype + shape + raw bytes (bit-exact, no float formatting); the few record
types the Robot protocol returns travel as named field maps and are rebuilt
from a fixed registry, never by importing a name taken off the wire.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack
import numpy as np

from teleforge.errors import ProtocolVersionError, RemoteRobotError
from teleforge.robots.tasks import ObjectState
from teleforge.robots.types import ActResult, ArraySpec, RobotState, TaskInfo

PROTOCOL_VERSION = 1
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
        if obj.dtype.hasobject or obj.dtype.fields is not None:
            raise TypeError(f"cannot send an array of dtype {obj.dtype} to the robot server")
        a = np.ascontiguousarray(obj)
        return msgpack.ExtType(_EXT_NDARRAY, msgpack.packb([a.dtype.str, list(a.shape), a.tobytes()]))
    if isinstance(obj, np.generic):
        return obj.item()
    if dataclasses.is_dataclass(obj) and type(obj).__name__ in _RECORDS:
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return msgpack.ExtType(_EXT_RECORD, msgpack.packb([type(obj).__name__, fields], default=_default))
    raise TypeError(f"cannot send a {type(obj).__name__} to the robot server")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_NDARRAY:
        dtype, shape, raw = msgpack.unpackb(data)
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise RemoteRobotError(f"refusing an object array (dtype {dtype}) from the wire")
        # frombuffer is read-only over the message bytes: copy so callers may write.
        return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    if code == _EXT_RECORD:
        name, fields = msgpack.unpackb(data, ext_hook=_ext_hook, strict_map_key=False)
        cls = _RECORDS.get(name)
        if cls is None:
            raise RemoteRobotError(f"unknown record type {name!r} on the wire: client and server versions differ")
        for f in _TUPLE_FIELDS.get(name, ()):
            if fields.get(f) is not None:
                fields[f] = tuple(fields[f])
        return cls(**fields)
    return msgpack.ExtType(code, data)


def pack(msg: dict[str, Any]) -> bytes:
    """One message to bytes."""
    return msgpack.packb(msg, default=_default, use_bin_type=True)


def unpack(raw: bytes) -> dict[str, Any]:
    """Bytes to one message; raises ``RemoteRobotError`` for anything that is not a message map."""
    try:
        msg = msgpack.unpackb(raw, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except RemoteRobotError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for garbage
        raise RemoteRobotError(f"unreadable message ({len(raw)} bytes): {exc}") from exc
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


def request(req_id: int, client: str, token: str | None, method: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": req_id, "client": client, "token": token, "method": method, "args": args}


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
