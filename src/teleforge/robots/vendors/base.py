"""What every vendor arm shares: the Robot protocol on top of a small per-vendor driver.

A vendor driver (``xarm/robot.py``, ``ur/robot.py``) knows its SDK: it reads the arm in SI
units (rad, m, rotation matrices) and turns SI commands into :class:`SdkCall` records in the
SDK's own units -- the *one* boundary where units convert. :class:`VendorArm` does the rest
for every vendor: integrate native EE-delta actions into a commanded tool-tip pose, enforce
the declared :class:`~teleforge.robots.vendors.limits.ArmLimits`, time every SDK reply, and,
in **shadow mode**, compute and log every call without sending any motion.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

import numpy as np

from teleforge.errors import RobotConnectionLostError, RobotError, RobotNotConnectedError
from teleforge.robots.types import ActResult, ArraySpec, RobotState, TaskInfo
from teleforge.robots.vendors.limits import ArmLimits
from teleforge.robots.vendors.rotations import mat_from_rotvec, quat_from_mat
from teleforge.spec import ACTION_DIM, ACTION_NAMES, GRIPPER_INDEX, NATIVE_STATE_NAMES, TWIST_DIM

T = TypeVar("T")


@dataclass(frozen=True)
class SdkCall:
    """One SDK method call, with arguments already in the SDK's units (what shadow mode shows)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    motion: bool = True  # False: a read or a mode query, sent even in shadow mode

    def __str__(self) -> str:
        def fmt(v: Any) -> str:
            if isinstance(v, (list, tuple)):
                return "[" + ", ".join(fmt(x) for x in v) + "]"
            return f"{v:.4g}" if isinstance(v, float) else repr(v)

        parts = [fmt(a) for a in self.args] + [f"{k}={fmt(v)}" for k, v in self.kwargs.items()]
        return f"{self.method}({', '.join(parts)})"


@dataclass
class Reading:
    """The arm as the driver read it, in SI units."""

    joint_pos: np.ndarray  # (n,) rad
    joint_vel: np.ndarray  # (n,) rad/s
    tcp_pos: np.ndarray  # (3,) m, tool tip in the base frame
    tcp_mat: np.ndarray  # (3, 3) tool orientation in the base frame
    gripper: float = 1.0  # measured opening, 0 = closed, 1 = open


class ArmDriver(Protocol):
    """The vendor-specific part: SDK lifecycle, reads in SI, SI commands -> SDK calls."""

    def open(self, shadow: bool) -> None:
        """Connect to the controller; unless ``shadow``, also enable motion and enter streaming mode."""
        ...

    def read(self) -> Reading:
        """The arm now, SI units; raises the typed faults (stopped, fault, lost)."""
        ...

    def pose_calls(self, pos: np.ndarray, mat: np.ndarray, dt: float) -> list[SdkCall]:
        """Stream the tool tip to ``pos`` (m) / ``mat`` over ``dt`` s."""
        ...

    def velocity_calls(self, v: np.ndarray, w: np.ndarray, dt: float) -> list[SdkCall]:
        """Move the tool tip at ``v`` (m/s) and ``w`` (rad/s) for ``dt`` s."""
        ...

    def joint_calls(self, q: np.ndarray, dt: float) -> list[SdkCall]:
        """Stream absolute joint targets ``q`` (rad) over ``dt`` s."""
        ...

    def gripper_calls(self, closed: float) -> list[SdkCall]:
        """Gripper target in [0, 1], 1 = closed (empty when the arm has no gripper)."""
        ...

    def stop_calls(self, pos: np.ndarray, mat: np.ndarray) -> list[SdkCall]:
        """Stop and stay at the measured tool tip ``pos`` (m) / ``mat``."""
        ...

    def home_calls(self, q: np.ndarray, speed: float) -> list[SdkCall]:
        """A blocking joint move to ``q`` (rad) at ``speed`` rad/s, then back to streaming."""
        ...

    def send(self, call: SdkCall) -> Any:
        """Execute one call; raise the typed error its result asks for."""
        ...

    def close(self) -> None:
        """Stop streaming and release the connection (idempotent)."""
        ...


@dataclass
class ArmConfig:
    """Settings every vendor arm shares (vendor configs extend it)."""

    host: str = "192.168.1.10"  # controller IP
    control_hz: float = 50.0  # one act() per period; match `collect --hz`
    mode: str = "pose"  # "pose": stream servo poses | "velocity": stream TCP velocities
    shadow: bool = False  # compute and log every command, send no motion
    reply_timeout_s: float = 0.2  # an SDK reply slower than this is a lost connection
    task: str = "real"  # task name stored per episode
    instruction: str = ""  # language instruction stored per episode
    time_limit_s: float = 60.0  # per episode
    home_joints: tuple[float, ...] | None = None  # rad; None: reset() does not move the arm
    limits: ArmLimits | None = None  # None: the vendor's conservative defaults
    shadow_log_size: int = 256  # calls kept in shadow_log

    def check(self) -> None:
        """Refuse settings that cannot drive an arm safely."""
        if self.mode not in ("pose", "velocity"):
            raise RobotError(f"mode {self.mode!r} is not one of pose, velocity")
        if not 1.0 <= float(self.control_hz) <= 1000.0:
            raise RobotError(f"control_hz {self.control_hz} must be within 1..1000 Hz")
        if not self.reply_timeout_s > 0:
            raise RobotError(f"reply_timeout_s must be positive, got {self.reply_timeout_s}")


class VendorArm:
    """A real arm behind a vendor SDK, as a teleforge ``Robot`` (+ ``Resettable``, ``SuccessCheck``,
    ``ControlRate``): native EE-delta actions are integrated into a commanded tool-tip pose, kept in
    the declared workspace, capped to the declared speeds, leashed to the measured tip and streamed."""

    name: str = "vendor-arm"
    embodiment: str = "vendor_arm"

    def __init__(self, config: ArmConfig, driver: ArmDriver, limits: ArmLimits) -> None:
        config.check()
        if config.home_joints is not None and len(config.home_joints) != limits.n_joints:
            raise RobotError(f"home_joints has {len(config.home_joints)} angles, the arm has {limits.n_joints} joints")
        self.config = config
        self.driver = driver
        self.limits = limits
        self.n_joints = limits.n_joints
        self.control_hz = float(config.control_hz)
        self.shadow = bool(config.shadow)
        dt = 1.0 / self.control_hz
        step = limits.max_tcp_speed * dt
        rot = limits.max_rot_speed * dt
        # Declared features: the native action with per-step bounds from the speed caps, and the
        # native state with the joint range -- what the safety guard and the recorder read.
        self.action_spec = ArraySpec(
            (ACTION_DIM,), low=(-step,) * 3 + (-rot,) * 3 + (0.0,), high=(step,) * 3 + (rot,) * 3 + (1.0,), names=ACTION_NAMES
        )
        self.state_spec: dict[str, ArraySpec] = {
            "joint_pos": ArraySpec((self.n_joints,), low=tuple(limits.joint_low), high=tuple(limits.joint_high)),
            "joint_vel": ArraySpec((self.n_joints,), low=(-limits.max_joint_speed,) * self.n_joints,
                                   high=(limits.max_joint_speed,) * self.n_joints),
            "ee_pos": ArraySpec((3,), low=tuple(limits.workspace_min), high=tuple(limits.workspace_max)),
            "ee_quat": ArraySpec((4,)),
            "gripper": ArraySpec((), low=(0.0,), high=(1.0,)),
        }
        assert set(self.state_spec) == set(NATIVE_STATE_NAMES)
        self.shadow_log: collections.deque[str] = collections.deque(maxlen=config.shadow_log_size)
        self.last_calls: list[str] = []  # the calls of the latest command, for the window
        self.slowest_reply_s = 0.0
        self._connected = False
        self._target_pos = np.zeros(3)
        self._target_mat = np.eye(3)
        self._gripper = 0.0
        self._last: Reading | None = None

    # ------------------------------------------------------------------ lifecycle
    def connect(self) -> None:
        """Open the controller (idempotent) and anchor the commanded pose at the measured one."""
        if self._connected:
            return
        self._timed(lambda: self.driver.open(self.shadow))
        self._connected = True
        r = self._read()
        self._anchor(r)

    def disconnect(self) -> None:
        """Stop streaming (the arm holds where it is) and release the controller."""
        if not self._connected:
            return
        try:
            self._dispatch(self.driver.stop_calls(self._target_pos, self._target_mat))
        finally:
            self._connected = False
            self.driver.close()

    def describe_limits(self) -> list[str]:
        """The limits in force (and shadow mode), one line each: printed at start, shown in the window."""
        head = f"{self.name} @ {self.config.host}, {self.config.mode} streaming at {self.control_hz:g} Hz"
        if self.shadow:
            head += " -- SHADOW MODE: commands are computed and shown, none is sent"
        return [head, *self.limits.describe()]

    # ------------------------------------------------------------------ Robot
    def observe(self) -> RobotState:
        """Joints (rad, rad/s), tool-tip pose (m, wxyz) and gripper opening, stamped now."""
        r = self._read()
        return RobotState(
            joint_pos=r.joint_pos.astype(np.float32),
            joint_vel=r.joint_vel.astype(np.float32),
            ee_pos=r.tcp_pos.astype(np.float32),
            ee_quat=quat_from_mat(r.tcp_mat).astype(np.float32),
            gripper=float(r.gripper),
            t_ns=time.monotonic_ns(),
        )

    def act(self, action: np.ndarray) -> ActResult:
        """Move the commanded tool tip by one native delta, within the declared limits, and stream it."""
        self._require()
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (ACTION_DIM,) or not np.all(np.isfinite(a)):
            raise RobotError(f"a native action is {ACTION_DIM} finite numbers [{' '.join(ACTION_NAMES)}], got {action!r}")
        lo, hi = np.asarray(self.action_spec.low), np.asarray(self.action_spec.high)
        capped = np.clip(a, lo, hi)
        clamped = bool(np.any(capped != a))
        measured = self._last.tcp_pos if self._last is not None else self._target_pos
        want = self._target_pos + capped[:3]
        boxed = np.clip(want, self.limits.workspace_min, self.limits.workspace_max)
        offset = boxed - measured
        dist = float(np.linalg.norm(offset))
        if dist > self.limits.leash:  # the arm lags (contact, slow controller): do not wind up
            boxed = measured + offset * (self.limits.leash / dist)
        clamped |= bool(np.any(np.abs(boxed - want) > 1e-12))
        step = boxed - self._target_pos
        self._target_pos = boxed
        self._target_mat = mat_from_rotvec(capped[3:TWIST_DIM]) @ self._target_mat
        self._gripper = float(capped[GRIPPER_INDEX])
        dt = 1.0 / self.control_hz
        if self.config.mode == "pose":
            calls = self.driver.pose_calls(self._target_pos, self._target_mat, dt)
        else:
            calls = self.driver.velocity_calls(step / dt, capped[3:TWIST_DIM] / dt, dt)
        self._dispatch(calls + self.driver.gripper_calls(self._gripper))
        return self._result(clamped)

    def act_joints(self, joint_targets: np.ndarray, gripper: float) -> ActResult:
        """Stream absolute joint targets (rad), clipped to the joint range and the joint speed cap."""
        self._require()
        q = np.asarray(joint_targets, dtype=np.float64).reshape(-1)
        if q.shape != (self.n_joints,) or not np.all(np.isfinite(q)):
            raise RobotError(f"joint targets must be {self.n_joints} finite angles (rad), got {joint_targets!r}")
        dt = 1.0 / self.control_hz
        now = self._last.joint_pos if self._last is not None else q
        qc = np.clip(q, self.limits.joint_low, self.limits.joint_high)
        max_step = self.limits.max_joint_speed * dt
        qc = now + np.clip(qc - now, -max_step, max_step)
        self._gripper = float(np.clip(gripper, 0.0, 1.0))
        self._dispatch(self.driver.joint_calls(qc, dt) + self.driver.gripper_calls(self._gripper))
        res = self._result(bool(np.any(np.abs(qc - q) > 1e-12)))
        res.target_joint_pos = qc.astype(np.float32)
        return res

    def hold(self) -> ActResult:
        """Stop where the arm is: the commanded pose becomes the measured one; the gripper keeps its target."""
        self._require()
        if self._last is not None:
            self._anchor(self._last, keep_gripper=True)
        self._dispatch(self.driver.stop_calls(self._target_pos, self._target_mat))
        return self._result(False)

    # ------------------------------------------------------------------ Resettable / SuccessCheck
    def home(self) -> None:
        """Move to ``config.home_joints`` (blocking, at the joint speed cap); nothing when none is set."""
        self._require()
        if self.config.home_joints is None:
            return
        q = np.clip(np.asarray(self.config.home_joints, float), self.limits.joint_low, self.limits.joint_high)
        self._dispatch(self.driver.home_calls(q, self.limits.max_joint_speed))
        self._anchor(self._read())

    def reset(self, task: str, seed: int) -> TaskInfo:
        """A real cell has no scene reset: home the arm and hand the recorder the configured task."""
        self.home()
        instruction = self.config.instruction or task
        return TaskInfo(task=task, instruction=instruction, seed=int(seed), time_limit_s=float(self.config.time_limit_s))

    def success(self) -> bool:
        """A real cell has no success predicate: the operator decides the outcome."""
        return False

    # ------------------------------------------------------------------ internals
    def _require(self) -> None:
        if not self._connected:
            raise RobotNotConnectedError(f"{self.name} is not connected; call connect() first")

    def _anchor(self, r: Reading, keep_gripper: bool = False) -> None:
        self._target_pos = np.asarray(r.tcp_pos, float).copy()
        self._target_mat = np.asarray(r.tcp_mat, float).copy()
        if not keep_gripper:
            self._gripper = 1.0 - float(r.gripper)  # measured opening -> closing target

    def _read(self) -> Reading:
        self._require()
        r = self._timed(self.driver.read)
        self._last = r
        return r

    def _timed(self, fn: Callable[[], T]) -> T:
        """Run one SDK exchange; a reply slower than ``reply_timeout_s`` means the link is gone."""
        t0 = time.perf_counter()
        out = fn()
        took = time.perf_counter() - t0
        self.slowest_reply_s = max(self.slowest_reply_s, took)
        if took > self.config.reply_timeout_s:
            raise RobotConnectionLostError(
                f"{self.name} took {took * 1000:.0f} ms to reply (limit {self.config.reply_timeout_s * 1000:.0f} ms); "
                "check the network to the controller (direct cable, no Wi-Fi) and reconnect"
            )
        return out

    def _dispatch(self, calls: list[SdkCall]) -> None:
        self.last_calls = [str(c) for c in calls]
        for c in calls:
            if self.shadow and c.motion:
                self.shadow_log.append(str(c))
                continue
            self._timed(partial(self.driver.send, c))

    def _result(self, clamped: bool) -> ActResult:
        r = self._last
        q = r.joint_pos if r is not None else np.zeros(self.n_joints)
        return ActResult(
            target_ee_pos=self._target_pos.astype(np.float32),
            target_ee_quat=quat_from_mat(self._target_mat).astype(np.float32),
            # Cartesian streaming leaves IK to the controller: the measured joints are the best record.
            target_joint_pos=np.asarray(q, np.float32),
            gripper_target=float(self._gripper),
            clamped=clamped,
        )
