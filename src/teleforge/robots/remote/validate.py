"""Request arguments checked against the served robot's declared specs, before the robot sees them.

Every value a client sends to a robot method passes through here first: arrays
must have the declared shape, a numeric dtype and only finite values; scalars
must be finite numbers; names must be short strings. A refused request raises
``RemoteRobotError`` naming the method and argument, and the arm, its state and
the watchdog are left exactly as they were (half-applied states, NaN joint
targets and NaN grippers were all possible when the robot did its own checks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from teleforge.errors import RemoteRobotError
from teleforge.robots.types import Robot

MAX_NAME_LEN = 128
MAX_SEED = 2**63 - 1
_NUMERIC_KINDS = "iuf"  # bool and complex arrays are not commands

# Keys each request's argument map may carry.
_ARG_KEYS: dict[str, frozenset[str]] = {
    "act": frozenset({"action"}),
    "act_joints": frozenset({"joint_targets", "gripper"}),
    "call": frozenset({"name", "args"}),
    "get": frozenset({"name"}),
}


def _refuse(where: str, what: str, got: Any) -> RemoteRobotError:
    shown = repr(got)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return RemoteRobotError(f"{where}: {what}, got {shown}; refused before reaching the robot")


def finite_array(value: Any, shape: tuple[int, ...] | None, where: str, what: str) -> np.ndarray:
    """``value`` as a numeric array of exactly ``shape`` (``None``: any 1-D) with only finite entries."""
    want = f"{what} must be {'x'.join(map(str, shape)) if shape else 'a 1-D array of'} finite numbers"
    if isinstance(value, (list, tuple)):
        if not all(type(x) in (int, float) for x in value):  # bool, None, str, nested lists
            raise _refuse(where, want, value)
        arr = np.asarray(value, dtype=np.float64)
    elif isinstance(value, np.ndarray):
        arr = value
    else:
        raise _refuse(where, want, value)
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise _refuse(where, f"{want} (dtype {arr.dtype} is not a number type)", value)
    if (shape is not None and arr.shape != tuple(shape)) or (shape is None and arr.ndim != 1):
        raise _refuse(where, f"{want} (shape {arr.shape})", value)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise _refuse(where, want, value)
    return arr


def finite_number(value: Any, where: str, what: str) -> float:
    """``value`` as a finite float (int or float on the wire, never bool)."""
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _refuse(where, f"{what} must be a finite number", value)
    return float(value)


def name(value: Any, where: str, what: str) -> str:
    """A short, non-empty string (task, object or attribute name)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_LEN:
        raise _refuse(where, f"{what} must be a name of 1-{MAX_NAME_LEN} characters", value)
    return value


def seed(value: Any, where: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_SEED:
        raise _refuse(where, "seed must be an integer in [0, 2**63)", value)
    return value


class RequestValidator:
    """Checks requests for one served robot; shapes come from its specs (``action_spec``, ``n_joints``, its sim state)."""

    def __init__(self, robot: Robot) -> None:
        self.robot = robot
        self._sim_state_shape: tuple[int, ...] | None = None
        self._calls: dict[str, Callable[[list[Any]], list[Any]]] = {
            "reset": lambda a: [name(a[0], "reset", "task"), seed(a[1], "reset")],
            "success": lambda a: [],
            "state_snapshot": lambda a: [],
            "get_sim_state": lambda a: [],
            "object_states": lambda a: [],
            "gripper_opening": lambda a: [],
            "set_sim_state": lambda a: [finite_array(a[0], self.sim_state_shape(), "set_sim_state", "state")],
            "fingers_touching": lambda a: [name(a[0], "fingers_touching", "object name")],
            "max_lift": lambda a: [name(a[0], "max_lift", "object name")],
        }
        self._arity = {"reset": 2, "set_sim_state": 1, "fingers_touching": 1, "max_lift": 1}

    def sim_state_shape(self) -> tuple[int, ...] | None:
        """The shape ``get_sim_state`` returns (asked once), or None if the robot does not say."""
        if self._sim_state_shape is None:
            get = getattr(self.robot, "get_sim_state", None)
            if callable(get):
                self._sim_state_shape = tuple(np.shape(get()))
        return self._sim_state_shape

    def arg_keys(self, method: str, args: dict[str, Any]) -> None:
        """Refuse argument keys the request does not take (a typo must not be silently ignored)."""
        extra = set(args) - _ARG_KEYS.get(method, frozenset())
        if extra:
            raise _refuse(method, f"unexpected arguments {sorted(map(str, extra))[:5]}", args)

    def motion(self, method: str, args: dict[str, Any]) -> tuple[Any, ...]:
        """Positional arguments for ``act`` / ``act_joints`` / ``hold``, checked."""
        self.arg_keys(method, args)
        if method == "act":
            shape = tuple(self.robot.action_spec.shape)
            return (finite_array(args.get("action"), shape, "act", "action"),)
        if method == "act_joints":
            q = finite_array(args.get("joint_targets"), (int(self.robot.n_joints),), "act_joints", "joint_targets")
            return q, finite_number(args.get("gripper"), "act_joints", "gripper")
        return ()

    def call(self, method_name: Any, args: Any) -> list[Any]:
        """Positional arguments for the optional method ``method_name``, checked."""
        check = self._calls.get(method_name) if isinstance(method_name, str) else None
        if check is None:
            raise _refuse("call", "name must be one of " + ", ".join(self._calls), method_name)
        if not isinstance(args, list):
            raise _refuse(method_name, "args must be a list", args)
        arity = self._arity.get(method_name, 0)
        if len(args) != arity:
            raise _refuse(method_name, f"takes {arity} argument{'s' if arity != 1 else ''}", args)
        return check(args)
