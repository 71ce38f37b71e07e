"""Any LeRobot ``Robot`` (SO-100/101 follower, Koch, ...) as a teleforge Robot.

LeRobot robots declare flat feature dicts: ``observation_features`` maps a motor key such
as ``"shoulder_pan.pos"`` to ``float`` and a camera name to ``(height, width, 3)``;
``action_features`` maps motor keys to ``float``. The bridge turns those declarations into
teleforge's (``state_spec`` / ``action_spec``) so the recorder records them *as declared*:
the action is the follower's joint targets in LeRobot's own order and units (not forced
into the 7-D EE delta), ``joint_pos`` is every ``*.pos`` observation, other float
observations become extra state features, and camera images are served to the session
through :class:`LeRobotCameraRig`. LeRobot itself is never imported here: the bridge only
calls the duck-typed interface (``connect``, ``get_observation``, ``send_action``,
``disconnect``), so ``pip install 'teleforge[lerobot]'`` is needed only to build the robot.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from teleforge.errors import CameraError, RobotError, RobotNotConnectedError
from teleforge.robots.types import ActResult, ArraySpec, CameraSpec, Frame, RobotState, TaskInfo

__all__ = ["LeRobotArm", "LeRobotArmConfig", "LeRobotCameraRig", "feature_name"]


def feature_name(key: str) -> str:
    """A LeRobot feature key as a teleforge state-feature name (no '.' or '/'): ``"x.vel"`` -> ``"x_vel"``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


@dataclass
class LeRobotArmConfig:
    """How a LeRobot robot is recorded: the gripper motor, its range, and the per-episode task."""

    gripper_key: str | None = "gripper.pos"  # None: the robot has no gripper motor
    gripper_open: float = 100.0  # gripper reading when fully open (SO-10x: 0..100, 100 = open)
    gripper_closed: float = 0.0
    control_hz: float = 30.0  # LeRobot's usual recording rate
    task: str = "lerobot"
    instruction: str = ""
    time_limit_s: float = 60.0
    calibrate: bool = False  # passed to connect(): calibrate interactively when the robot asks


class LeRobotArm:
    """A LeRobot ``Robot`` driven through its own interface, recording its declared features."""

    name = "lerobot"

    def __init__(self, robot: Any, config: LeRobotArmConfig | None = None) -> None:
        self.robot = robot
        self.config = config or LeRobotArmConfig()
        self.control_hz = float(self.config.control_hz)
        obs_ft = dict(robot.observation_features)
        act_ft = dict(robot.action_features)
        self.action_keys: tuple[str, ...] = tuple(k for k, v in act_ft.items() if v is float)
        if not self.action_keys or len(self.action_keys) != len(act_ft):
            raise RobotError(f"LeRobot robot {getattr(robot, 'name', '?')!r} declares non-scalar action features "
                             f"{[k for k, v in act_ft.items() if v is not float]}; the bridge records scalar joint actions only")
        self.joint_keys: tuple[str, ...] = tuple(k for k, v in obs_ft.items() if v is float and k.endswith(".pos"))
        if not self.joint_keys:
            raise RobotError("the LeRobot robot declares no '<motor>.pos' observation; nothing to record as joints")
        self.extra_keys: tuple[str, ...] = tuple(k for k, v in obs_ft.items() if v is float and k not in self.joint_keys)
        self.camera_shapes: dict[str, tuple[int, int, int]] = {
            k: tuple(int(n) for n in v) for k, v in obs_ft.items() if isinstance(v, tuple) and len(v) == 3  # type: ignore[misc]
        }
        self.n_joints = len(self.joint_keys)
        self.embodiment = str(getattr(robot, "robot_type", None) or getattr(robot, "name", "lerobot"))
        self.action_spec = ArraySpec((len(self.action_keys),), names=self.action_keys)
        self.state_spec: dict[str, ArraySpec] = {
            "joint_pos": ArraySpec((self.n_joints,), names=self.joint_keys),
            "joint_vel": ArraySpec((self.n_joints,)),
            "ee_pos": ArraySpec((3,)),
            "ee_quat": ArraySpec((4,)),
            "gripper": ArraySpec((), low=(0.0,), high=(1.0,)),
        }
        for k in self.extra_keys:
            self.state_spec[feature_name(k)] = ArraySpec((1,), names=(k,))
        self._lock = threading.Lock()
        self._images: dict[str, tuple[np.ndarray, int, int]] = {}
        self._last_q: np.ndarray | None = None
        self._last_t: int | None = None
        self._vel = np.zeros(self.n_joints)
        self._connected = False
        self._last_action = np.zeros(len(self.action_keys), np.float32)

    # --- lifecycle -------------------------------------------------------------------
    def connect(self) -> None:
        """Connect the LeRobot robot (idempotent)."""
        if not self._connected:
            if not getattr(self.robot, "is_connected", False):
                self.robot.connect(calibrate=self.config.calibrate)
            self._connected = True

    def disconnect(self) -> None:
        """Disconnect the LeRobot robot (it holds or relaxes as its driver decides)."""
        if self._connected:
            self._connected = False
            self.robot.disconnect()

    # --- Robot -------------------------------------------------------------------------
    def observe(self) -> RobotState:
        """Motor positions as ``joint_pos`` (LeRobot's units), their finite-difference velocity,
        the gripper opening in [0, 1], extra float features; camera images are kept for the rig."""
        self._require()
        obs: Mapping[str, Any] = self.robot.get_observation()
        now = time.monotonic_ns()
        try:
            q = np.array([float(obs[k]) for k in self.joint_keys])
            extras = {feature_name(k): np.array([float(obs[k])], np.float32) for k in self.extra_keys}
        except KeyError as exc:
            raise RobotError(f"the LeRobot observation lacks declared feature {exc}; check the robot's configuration") from exc
        if self._last_q is not None and self._last_t is not None and now > self._last_t:
            self._vel = (q - self._last_q) / ((now - self._last_t) / 1e9)
        self._last_q, self._last_t = q, now
        with self._lock:
            for cam in self.camera_shapes:
                img = obs.get(cam)
                if img is not None:
                    seq = self._images[cam][2] + 1 if cam in self._images else 0
                    self._images[cam] = (np.asarray(img, np.uint8), now, seq)
        return RobotState(
            joint_pos=q.astype(np.float32),
            joint_vel=self._vel.astype(np.float32),
            ee_pos=np.zeros(3, np.float32),  # joint-space arm: no forward kinematics here
            ee_quat=np.array([1.0, 0.0, 0.0, 0.0], np.float32),
            gripper=self._opening(obs),
            t_ns=now,
            extras=extras,
        )

    def _opening(self, obs: Mapping[str, Any]) -> float:
        key = self.config.gripper_key
        if key is None or key not in obs:
            return 1.0
        lo, hi = self.config.gripper_closed, self.config.gripper_open
        return float(np.clip((float(obs[key]) - lo) / (hi - lo), 0.0, 1.0))

    def act(self, action: np.ndarray) -> ActResult:
        """Send one declared action (``len(action_keys)`` joint targets, LeRobot units) with ``send_action``;
        the result records what the robot reports it actually sent (its own clipping)."""
        self._require()
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (len(self.action_keys),) or not np.all(np.isfinite(a)):
            raise RobotError(f"{self.embodiment} takes {len(self.action_keys)} finite joint targets "
                             f"({', '.join(self.action_keys)}), got shape {a.shape}; drive it with a joint-space device "
                             "such as a LeRobot leader arm (--device lerobot)")
        sent = self.robot.send_action({k: float(v) for k, v in zip(self.action_keys, a)})
        out = np.array([float((sent or {}).get(k, v)) for k, v in zip(self.action_keys, a)], np.float32)
        clamped = bool(np.any(np.abs(out - a) > 1e-6))
        self._last_action = out
        return self._result(out, clamped)

    def act_joints(self, joint_targets: np.ndarray, gripper: float) -> ActResult:
        """Joint-position control: the same as :meth:`act` (the gripper is one of the declared motors)."""
        return self.act(joint_targets)

    def hold(self) -> ActResult:
        """Command the measured joints (the follower stops where it is)."""
        self._require()
        if self._last_q is None:
            self.observe()
        assert self._last_q is not None
        by_key = dict(zip(self.joint_keys, self._last_q))
        target = np.array([by_key.get(k, 0.0) for k in self.action_keys])
        return self.act(target)

    def _result(self, action: np.ndarray, clamped: bool) -> ActResult:
        by_key = dict(zip(self.action_keys, action))
        q = np.array([by_key.get(k, 0.0) for k in self.joint_keys], np.float32)
        g = 0.0
        if self.config.gripper_key in by_key:
            lo, hi = self.config.gripper_closed, self.config.gripper_open
            g = float(np.clip((hi - by_key[self.config.gripper_key]) / (hi - lo), 0.0, 1.0))
        return ActResult(target_ee_pos=np.zeros(3, np.float32), target_ee_quat=np.array([1, 0, 0, 0], np.float32),
                         target_joint_pos=q, gripper_target=g, clamped=clamped)

    # --- Resettable / SuccessCheck -------------------------------------------------------
    def reset(self, task: str, seed: int) -> TaskInfo:
        """No scene reset on a real cell: the configured task and instruction for the next episode."""
        return TaskInfo(task=task, instruction=self.config.instruction or task, seed=int(seed),
                        time_limit_s=float(self.config.time_limit_s))

    def success(self) -> bool:
        """The operator decides the outcome."""
        return False

    def _require(self) -> None:
        if not self._connected:
            raise RobotNotConnectedError("the LeRobot robot is not connected; call connect() first")

    # --- cameras -------------------------------------------------------------------------
    def latest_image(self, cam: str) -> Frame | None:
        """Newest image of camera ``cam`` from the last observation (None before the first)."""
        with self._lock:
            got = self._images.get(cam)
        return None if got is None else Frame(image=got[0], t_ns=got[1], seq=got[2])

    def camera_rig(self) -> LeRobotCameraRig:
        """The robot's own cameras as a session camera rig."""
        return LeRobotCameraRig(self)


class _BridgeCamera:
    """One LeRobot camera, served from the images the robot returned with its observation."""

    def __init__(self, arm: LeRobotArm, name: str, shape: tuple[int, int, int]) -> None:
        self.arm = arm
        self.key = name
        self.spec = CameraSpec(name=feature_name(name), height=shape[0], width=shape[1], fps=arm.control_hz)

    def start(self) -> None:
        """Nothing to start: LeRobot reads its cameras inside get_observation()."""

    def latest(self) -> Frame | None:
        """The newest image (never blocks)."""
        return self.arm.latest_image(self.key)

    def stop(self) -> None:
        """Nothing to stop."""


class LeRobotCameraRig:
    """The session's camera rig for a LeRobot robot: frames arrive with each observation."""

    def __init__(self, arm: LeRobotArm) -> None:
        self.arm = arm
        self._cams = {feature_name(k): _BridgeCamera(arm, k, s) for k, s in arm.camera_shapes.items()}

    @property
    def cameras(self) -> Mapping[str, _BridgeCamera]:
        """Camera name -> camera (names sanitised like state features)."""
        return self._cams

    def publish(self, qpos: np.ndarray, t_ns: int) -> None:
        """After a reset the session waits for a frame stamped at or after ``t_ns`` (now): take one
        observation. Per tick it publishes a future stamp; frames then come with the tick's own observe()."""
        if self._cams and self.arm._connected and t_ns <= time.monotonic_ns():
            self.arm.observe()

    def start(self) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""

    def check(self) -> None:
        """Refuse camera names teleforge cannot record."""
        for name in self._cams:
            if not name:
                raise CameraError("a LeRobot camera has an empty name")
