"""The arm-facing vocabulary: specs, state, the Robot and Camera protocols.

Conventions (docs/design.md §3): the native action is 7 numbers
``[dx, dy, dz, drx, dry, drz, gripper]`` -- end-effector translation (m) and
rotation (axis-angle, rad) per control step in the robot base frame, and a
gripper target in [0, 1] with 0 = open, 1 = closed. Quaternions are wxyz.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

ACTION_NAMES: tuple[str, ...] = ("dx", "dy", "dz", "drx", "dry", "drz", "gripper")
ACTION_DIM = 7


@dataclass(frozen=True)
class ArraySpec:
    """Shape, dtype and optional bounds/names of one feature."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None
    names: tuple[str, ...] | None = None


@dataclass
class RobotState:
    """One observation of the arm's proprioception, stamped on the session clock."""

    joint_pos: np.ndarray  # (n_joints,) rad
    joint_vel: np.ndarray  # (n_joints,) rad/s
    ee_pos: np.ndarray  # (3,) m, base frame
    ee_quat: np.ndarray  # (4,) wxyz
    gripper: float  # opening in [0, 1]: 0 = closed, 1 = fully open (measured)
    t_ns: int = 0  # time.monotonic_ns() when observed


@dataclass
class ActResult:
    """What the arm was actually told after IK/limits, recorded next to the action."""

    target_ee_pos: np.ndarray  # (3,)
    target_ee_quat: np.ndarray  # (4,) wxyz
    target_joint_pos: np.ndarray  # (n_joints,)
    gripper_target: float  # [0, 1], 1 = closed
    ik_error: float = 0.0  # m, residual of the IK solve
    clamped: bool = False  # a joint limit or workspace bound was hit


@runtime_checkable
class Robot(Protocol):
    """An arm the collection loop can drive: sim, remote or vendor hardware."""

    name: str
    embodiment: str  # robot_embodiment / robot type string stored per episode
    n_joints: int
    action_spec: ArraySpec
    state_spec: dict[str, ArraySpec]

    def connect(self) -> None: ...

    def observe(self) -> RobotState: ...

    def act(self, action: np.ndarray) -> ActResult:
        """Apply one native 7-D action and advance one control period."""
        ...

    def act_joints(self, joint_targets: np.ndarray, gripper: float) -> ActResult:
        """Joint-position control: move toward absolute joint targets for one period."""
        ...

    def hold(self) -> ActResult:
        """Keep the current pose for one control period (watchdog / e-stop)."""
        ...

    def disconnect(self) -> None: ...


@dataclass
class Frame:
    """One camera image with its capture time on the session clock."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    t_ns: int
    seq: int


@dataclass(frozen=True)
class CameraSpec:
    name: str
    height: int = 224
    width: int = 224
    fps: float = 30.0


@runtime_checkable
class Camera(Protocol):
    """A frame source that runs on its own clock and publishes its newest frame."""

    spec: CameraSpec

    def start(self) -> None: ...

    def latest(self) -> Frame | None:
        """Newest frame, never blocks; None before the first frame."""
        ...

    def stop(self) -> None: ...


@dataclass
class TaskInfo:
    """What a reset hands the recorder: the episode's task and language."""

    task: str
    instruction: str
    seed: int
    time_limit_s: float
    extras: dict = field(default_factory=dict)
