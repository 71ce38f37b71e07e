"""The arm-facing vocabulary: specs, state, the Robot and Camera protocols, and
the optional capabilities a session looks for (scene reset, success check, sim state).

Conventions (docs/design.md §3, defined once in :mod:`teleforge.spec`): the native
action is ``ACTION_DIM`` = 7 numbers ``[dx, dy, dz, drx, dry, drz, gripper]`` --
end-effector translation (m) and rotation (axis-angle, rad) per control step in the
robot base frame, and a gripper target in [0, 1] with 0 = open, 1 = closed.
Quaternions are wxyz.

A robot *declares* what it records: ``state_spec`` (name -> ArraySpec; the native
names are ``teleforge.spec.NATIVE_STATE_NAMES``, any other name becomes an extra
``observation.state.<name>`` column filled from ``RobotState.extras``) and
``action_spec``. :func:`teleforge.teleop.features.dataset_spec_for` turns them
into the dataset's schema.

Capabilities are ``@runtime_checkable`` protocols, tested with ``isinstance``
(which checks that the methods exist, not their signatures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from teleforge.spec import ACTION_DIM, ACTION_NAMES

__all__ = [
    "ACTION_DIM",
    "ACTION_NAMES",
    "RENDER_SIZE",
    "ActResult",
    "ArraySpec",
    "Camera",
    "CameraSpec",
    "ControlRate",
    "Frame",
    "Resettable",
    "DeclaresLimits",
    "Robot",
    "RobotState",
    "SafetyLimits",
    "SceneRobot",
    "SimStateful",
    "Snapshotting",
    "SuccessCheck",
    "TaskInfo",
]

RENDER_SIZE: int = 128
"""Default square size (px) of sim camera renders for collection, demo and the bundled
VLA (its base checkpoint was pretrained on 128 px renders)."""


@dataclass(frozen=True)
class ArraySpec:
    """Shape, dtype and optional per-element bounds/names of one declared feature
    (e.g. joint_pos: shape (n_joints,), float32, bounds in rad)."""

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
    # Declared state features beyond the native ones (state_spec keys not in
    # NATIVE_STATE_NAMES): name -> array of the declared shape, e.g. a second gripper.
    extras: dict[str, np.ndarray] = field(default_factory=dict)


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
    action_spec: ArraySpec  # (ACTION_DIM,) native action, with per-step bounds
    state_spec: dict[str, ArraySpec]  # native state features + any extras the robot records

    def connect(self) -> None:
        """Claim the arm (idempotent); observe/act raise RobotNotConnectedError before it."""
        ...

    def observe(self) -> RobotState:
        """The arm's proprioception now, stamped on the session clock."""
        ...

    def act(self, action: np.ndarray) -> ActResult:
        """Apply one native (ACTION_DIM,) action and advance one control period."""
        ...

    def act_joints(self, joint_targets: np.ndarray, gripper: float) -> ActResult:
        """Joint-position control: move toward absolute joint targets for one period."""
        ...

    def hold(self) -> ActResult:
        """Keep the current pose for one control period (watchdog / e-stop)."""
        ...

    def disconnect(self) -> None:
        """Release the arm; it holds where it is."""
        ...


@dataclass(frozen=True)
class SafetyLimits:
    """Where and how fast a robot may be driven, as the robot declares it (base frame, SI units).

    ``tool_points`` are offsets (m) in the EE frame (the frame of ``RobotState.ee_pos`` /
    ``ee_quat``) of every point the workspace box must contain: the tool tip, the flange, the
    fingertips. The safety guard predicts each after a commanded delta and scales the command
    so none leaves the box.
    """

    workspace_min: tuple[float, float, float]  # m
    workspace_max: tuple[float, float, float]  # m
    max_speed: float  # m/s, norm of the EE translation velocity
    max_rot_speed: float  # rad/s, norm of the EE angular velocity
    tool_points: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 0.0),)
    source: str = ""  # who declared them, for the operator ("teleforge_sim_panda (sim)")


@runtime_checkable
class DeclaresLimits(Protocol):
    """A robot that declares its workspace, speed limits and tool geometry for the safety guard."""

    safety_limits: SafetyLimits


@runtime_checkable
class Resettable(Protocol):
    """A scene that can be reset to a task and seed (the sim, or a real cell with a reset routine)."""

    def reset(self, task: str, seed: int) -> TaskInfo:
        """Set up ``task`` deterministically from ``seed``; returns the episode's task info."""
        ...


@runtime_checkable
class SuccessCheck(Protocol):
    """A robot that can judge whether the current task has succeeded."""

    def success(self) -> bool:
        """True while the task's success predicate holds."""
        ...


@runtime_checkable
class SceneRobot(Robot, Resettable, SuccessCheck, Protocol):
    """A robot a collection session can drive episode after episode: reset + success."""


@runtime_checkable
class SimStateful(Protocol):
    """A simulated robot whose full physics state can be saved and restored (replay)."""

    def get_sim_state(self) -> np.ndarray:
        """The full sim state as a flat float64 vector."""
        ...

    def set_sim_state(self, state: np.ndarray) -> None:
        """Restore a vector from :meth:`get_sim_state` exactly."""
        ...


@runtime_checkable
class ControlRate(Protocol):
    """A robot with a fixed control rate (Hz): one act() advances 1 / control_hz seconds."""

    control_hz: float


@runtime_checkable
class Snapshotting(Protocol):
    """A robot that publishes render snapshots (qpos, mocap poses, colours) for sim cameras."""

    def state_snapshot(self) -> np.ndarray:
        """The render-relevant state as a flat float64 vector (robots.scene.make_snapshot)."""
        ...


@dataclass
class Frame:
    """One camera image with its capture time on the session clock."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    t_ns: int
    seq: int
    depth: np.ndarray | None = None  # (H, W) uint16 mm aligned to ``image``, 0 = no reading (depth cameras only)


@dataclass(frozen=True)
class CameraSpec:
    """One camera to open: its name, frame size (px) and capture rate (Hz); ``depth``: it also
    delivers an aligned (H, W) uint16 depth image in mm with each frame (``Frame.depth``), recorded."""

    name: str
    height: int = 224
    width: int = 224
    fps: float = 30.0
    depth: bool = False


@runtime_checkable
class Camera(Protocol):
    """A frame source that runs on its own clock and publishes its newest frame."""

    spec: CameraSpec

    def start(self) -> None:
        """Begin capturing on the camera's own thread."""
        ...

    def latest(self) -> Frame | None:
        """Newest frame, never blocks; None before the first frame."""
        ...

    def stop(self) -> None:
        """Stop capturing and release the device."""
        ...


@dataclass
class TaskInfo:
    """What a reset hands the recorder: the episode's task and language."""

    task: str
    instruction: str
    seed: int
    time_limit_s: float
    extras: dict[str, Any] = field(default_factory=dict)
