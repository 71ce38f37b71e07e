"""The facts every layer shares, defined once: the native action, the gripper
convention and the native step-column table.

Conventions (docs/design.md §3): the native action is
``[dx, dy, dz, drx, dry, drz, gripper]`` -- end-effector translation (m) and
rotation (axis-angle, rad) per control step in the robot base frame, and a
gripper target in [0, 1] with 0 = open, 1 = closed. Quaternions are wxyz.

A robot declares its features (``robots.types.Robot.action_spec`` /
``state_spec``); :func:`native_columns` turns a joint count into the recorded
column table, so an arm with another number of joints records without edits in
``dataset``. Every format (the native schema, HDF5, RLDS) derives its columns
from :data:`NATIVE_COLUMNS` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ACTION_NAMES: tuple[str, ...] = ("dx", "dy", "dz", "drx", "dry", "drz", "gripper")
"""Names of the native action's entries, in order."""

ACTION_DIM: int = len(ACTION_NAMES)
"""Size of the native action (7)."""

GRIPPER_INDEX: int = ACTION_NAMES.index("gripper")
"""Index of the gripper target inside the native action."""

TWIST_DIM: int = GRIPPER_INDEX
"""Size of the end-effector twist part of the action (translation + rotation: 6)."""

GRIPPER_OPEN: float = 0.0
"""Native gripper *target* value for an open gripper (1.0 = closed)."""

GRIPPER_CLOSED: float = 1.0
"""Native gripper *target* value for a closed gripper."""

ACTION_MEANING: str = "EE delta (m, axis-angle rad) in base frame per step; gripper target 0=open 1=closed"
"""One-line meaning of the native action, written into manifests and exports."""

Kind = Literal["vector", "scalar", "bool"]
"""How a native column stores a step: a float32 vector, one float32, or one bool."""

Size = Literal["action", "joints", "fixed"]
"""Where a vector column's length comes from (see :meth:`NativeColumn.length`)."""


@dataclass(frozen=True)
class NativeColumn:
    """One numeric native step column.

    ``attr`` names the :class:`teleforge.dataset.records.StepRecord` field that
    fills it; ``size`` says where a vector's length comes from: the action size,
    the robot's joint count, or ``width`` itself.
    """

    name: str
    attr: str
    kind: Kind
    size: Size = "fixed"
    width: int = 1
    meaning: str = ""

    def length(self, n_joints: int, action_dim: int = ACTION_DIM) -> int:
        """Number of values per step (1 for scalars) for an arm with ``n_joints``
        joints and an ``action_dim``-wide action (the native 7 by default)."""
        if self.size == "action":
            return int(action_dim)
        if self.size == "joints":
            return int(n_joints)
        return self.width


NATIVE_COLUMNS: tuple[NativeColumn, ...] = (
    NativeColumn("action", "action", "vector", "action", meaning=ACTION_MEANING),
    NativeColumn("observation.state.joint_pos", "joint_pos", "vector", "joints", meaning="measured joint positions (rad)"),
    NativeColumn("observation.state.joint_vel", "joint_vel", "vector", "joints", meaning="measured joint velocities (rad/s)"),
    NativeColumn("observation.state.ee_pos", "ee_pos", "vector", "fixed", 3, "end-effector position (m), base frame"),
    NativeColumn("observation.state.ee_quat", "ee_quat", "vector", "fixed", 4, "wxyz"),
    NativeColumn("observation.state.gripper", "gripper", "scalar", meaning="measured opening, 0 = closed, 1 = open"),
    NativeColumn("target.ee_pos", "target_ee_pos", "vector", "fixed", 3, "commanded end-effector position (m)"),
    NativeColumn("target.ee_quat", "target_ee_quat", "vector", "fixed", 4, "wxyz"),
    NativeColumn("target.joint_pos", "target_joint_pos", "vector", "joints", meaning="commanded joint positions (rad)"),
    NativeColumn("command.twist", "command_twist", "vector", "fixed", TWIST_DIM, "device twist in [-1, 1]"),
    NativeColumn("command.gripper", "command_gripper", "scalar", meaning="device gripper command in [0, 1]"),
    NativeColumn("reward", "reward", "scalar", meaning="task reward"),
    NativeColumn("success", "success", "bool", meaning="task success predicate at this step"),
    NativeColumn("safety.hold", "hold", "bool", meaning="the safety guard held the arm"),
    NativeColumn("safety.estop", "estop", "bool", meaning="e-stop engaged"),
    NativeColumn("safety.clamped", "clamped", "bool", meaning="a limit clamped the command"),
    NativeColumn("control.intervention", "intervention", "bool",
                 meaning="a human had taken over from a policy at this step (False: the policy, or plain teleop)"),
)
"""Every numeric native step column, in shard order (after ``step`` and ``tick_ns``).
``control.intervention`` arrived in format 1.2; readers fill it with False for older shards."""

OPTIONAL_COLUMNS: dict[str, bool] = {"control.intervention": False}
"""Native columns added after format 1.0 -> the value an older shard reads as (operator/unknown)."""

NATIVE_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in NATIVE_COLUMNS)
"""Names of :data:`NATIVE_COLUMNS`, in shard order."""

VECTOR_COLUMNS: tuple[str, ...] = tuple(c.name for c in NATIVE_COLUMNS if c.kind == "vector")
"""Native columns holding a fixed-size float32 vector per step."""

SCALAR_COLUMNS: tuple[str, ...] = tuple(c.name for c in NATIVE_COLUMNS if c.kind != "vector")
"""Native columns holding one value per step (float32 or bool)."""

BOOL_COLUMNS: tuple[str, ...] = tuple(c.name for c in NATIVE_COLUMNS if c.kind == "bool")
"""Native columns holding one bool per step."""

STATE_PREFIX = "observation.state."
"""Prefix of every proprioceptive state column (native and robot-declared extras)."""

NATIVE_STATE_NAMES: tuple[str, ...] = tuple(
    c.name[len(STATE_PREFIX):] for c in NATIVE_COLUMNS if c.name.startswith(STATE_PREFIX)
)
"""State features every robot records natively (joint_pos, joint_vel, ee_pos, ee_quat, gripper);
a robot's other declared state features become extra ``observation.state.<name>`` columns."""


def native_column(name: str) -> NativeColumn:
    """The column named ``name``; KeyError when it is not native."""
    for c in NATIVE_COLUMNS:
        if c.name == name:
            return c
    raise KeyError(name)


def column_sizes(n_joints: int, action_dim: int = ACTION_DIM) -> dict[str, int]:
    """Vector column name -> values per step for an arm with ``n_joints`` joints."""
    return {c.name: c.length(n_joints, action_dim) for c in NATIVE_COLUMNS if c.kind == "vector"}
