"""Universal Robots as a teleforge Robot, through ur_rtde's ``RTDEControlInterface`` and
``RTDEReceiveInterface``.

Units: ur_rtde already speaks SI (m, rad, s); its poses are ``[x, y, z, rx, ry, rz]`` with a
rotation *vector*, converted to/from teleforge's rotation matrices only in
:func:`pose_to_sdk` / :func:`pose_from_sdk`. ``servoL``/``servoJ``/``speedL`` are bound without
argument names in ur_rtde's pybind module, so they are called positionally, in the C++ order
``(pose, speed, acceleration, time, lookahead_time, gain)``.

Shadow mode never constructs ``RTDEControlInterface``: constructing it uploads the control
script and takes the arm, so a shadow session only reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from teleforge.errors import ControllerFaultError, RobotConnectionLostError, RobotError, RobotStoppedError
from teleforge.robots.vendors import load_sdk
from teleforge.robots.vendors.base import Reading, SdkCall, VendorArm
from teleforge.robots.vendors.rotations import mat_from_rotvec, rotvec_from_mat
from teleforge.robots.vendors.ur.config import URConfig


def pose_to_sdk(pos: np.ndarray, mat: np.ndarray) -> list[float]:
    """Tool-tip position (m) + orientation (3x3) -> ur_rtde's ``[x, y, z, rx, ry, rz]`` (m, rotation vector rad)."""
    return [float(v) for v in np.concatenate([np.asarray(pos, float), rotvec_from_mat(mat)])]


def pose_from_sdk(pose: Any) -> tuple[np.ndarray, np.ndarray]:
    """ur_rtde's ``[x, y, z, rx, ry, rz]`` -> position (m) and orientation (3x3)."""
    p = np.asarray(pose, dtype=np.float64).reshape(-1)
    if p.shape != (6,):
        raise ControllerFaultError(f"ur_rtde returned a TCP pose of {p.shape[0]} numbers, expected 6")
    return p[:3], mat_from_rotvec(p[3:])


class URDriver:
    """The UR side of :class:`~teleforge.robots.vendors.base.ArmDriver`."""

    def __init__(
        self,
        config: URConfig,
        control_factory: Callable[..., Any] | None = None,
        receive_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.config = config
        self._control_factory = control_factory
        self._receive_factory = receive_factory
        self.control: Any = None
        self.receive: Any = None

    def open(self, shadow: bool) -> None:
        """Connect the receive interface; unless ``shadow``, also the control interface."""
        cfg = self.config
        recv = self._receive_factory or load_sdk("rtde_receive", "ur").RTDEReceiveInterface
        try:
            self.receive = recv(cfg.host, cfg.rtde_frequency)
            if not shadow:
                ctl = self._control_factory or load_sdk("rtde_control", "ur").RTDEControlInterface
                self.control = ctl(cfg.host, cfg.rtde_frequency)
        except RuntimeError as exc:  # ur_rtde raises std::runtime_error when the controller is unreachable
            self.close()
            raise RobotConnectionLostError(
                f"cannot open RTDE to the UR at {cfg.host} ({exc}); check the IP, that the arm is powered on, "
                "and that remote control is enabled on the pendant"
            ) from exc
        self._check_stops("connect")

    def _check_stops(self, what: str) -> None:
        r = self.receive
        if r is None or not r.isConnected():
            raise RobotConnectionLostError(f"UR {what}: the RTDE connection is lost; check the cable and reconnect")
        if r.isEmergencyStopped():
            raise RobotStoppedError(f"UR {what}: emergency stop; release it, power the arm on at the pendant, reconnect")
        if r.isProtectiveStopped():
            raise RobotStoppedError(f"UR {what}: protective stop; unlock it on the pendant, move clear, reconnect")

    def read(self) -> Reading:
        """Joints, TCP pose (m, rad) from RTDE; a stop or a lost link raises its typed error."""
        try:
            self._check_stops("read")
            if self.control is not None and not self.control.isProgramRunning():
                raise ControllerFaultError("UR read: the RTDE control script stopped on the controller; "
                                           "check the pendant's log, then reconnect")
            q = np.asarray(self.receive.getActualQ(), float)
            qd = np.asarray(self.receive.getActualQd(), float)
            pos, mat = pose_from_sdk(self.receive.getActualTCPPose())
        except RuntimeError as exc:
            raise RobotConnectionLostError(f"UR read failed ({exc}); reconnect") from exc
        if q.shape != (6,) or qd.shape != (6,):
            raise ControllerFaultError(f"ur_rtde returned {q.shape} joint positions, expected 6")
        return Reading(joint_pos=q, joint_vel=qd, tcp_pos=pos, tcp_mat=mat, gripper=1.0)

    def pose_calls(self, pos: np.ndarray, mat: np.ndarray, dt: float) -> list[SdkCall]:
        """``servoL(pose, speed=0, acceleration=0, time=dt, lookahead_time, gain)`` (speed/acc unused by ur_rtde)."""
        c = self.config
        return [SdkCall("servoL", (pose_to_sdk(pos, mat), 0.0, 0.0, float(dt), c.lookahead_time, c.gain))]

    def velocity_calls(self, v: np.ndarray, w: np.ndarray, dt: float) -> list[SdkCall]:
        """``speedL(xd (m/s, rad/s), acceleration, time=dt)``."""
        xd = [float(x) for x in np.concatenate([np.asarray(v, float), np.asarray(w, float)])]
        return [SdkCall("speedL", (xd, self.config.speed_acceleration, float(dt)))]

    def joint_calls(self, q: np.ndarray, dt: float) -> list[SdkCall]:
        """``servoJ(q (rad), 0, 0, time=dt, lookahead_time, gain)``."""
        c = self.config
        return [SdkCall("servoJ", ([float(x) for x in q], 0.0, 0.0, float(dt), c.lookahead_time, c.gain))]

    def gripper_calls(self, closed: float) -> list[SdkCall]:
        """No gripper over RTDE: a Robotiq gripper is driven through its own URCap."""
        return []

    def stop_calls(self, pos: np.ndarray, mat: np.ndarray) -> list[SdkCall]:
        """``servoStop(a)`` / ``speedStop(a)``: decelerate and stand still."""
        method = "servoStop" if self.config.mode == "pose" else "speedStop"
        return [SdkCall(method, (), {"a": float(self.config.stop_deceleration)})]

    def home_calls(self, q: np.ndarray, speed: float) -> list[SdkCall]:
        """Stop streaming, then a blocking ``moveJ(q, speed (rad/s), acceleration (rad/s^2))``."""
        return [*self.stop_calls(np.zeros(3), np.eye(3)),
                SdkCall("moveJ", ([float(x) for x in q], float(speed), float(max(speed, 0.5)), False))]

    def send(self, call: SdkCall) -> Any:
        """Execute one call on the control interface; ``False`` becomes the typed error behind it."""
        if self.control is None:
            raise RobotConnectionLostError("the UR control interface is not open; connect without shadow mode first")
        try:
            ok = getattr(self.control, call.method)(*call.args, **call.kwargs)
        except RuntimeError as exc:
            raise RobotConnectionLostError(f"UR {call.method} failed ({exc}); check the link and reconnect") from exc
        if ok is False:
            self._check_stops(call.method)
            raise ControllerFaultError(f"UR {call.method} was refused by the controller; check the pendant's log")
        return ok

    def close(self) -> None:
        """Stop the control script and disconnect both interfaces (idempotent)."""
        ctl, self.control = self.control, None
        recv, self.receive = self.receive, None
        for iface, stop in ((ctl, True), (recv, False)):
            if iface is None:
                continue
            try:
                if stop:
                    iface.stopScript()
                iface.disconnect()
            except RuntimeError:
                pass  # already gone: nothing left to release


class URRobot(VendorArm):
    """A Universal Robots arm as a teleforge Robot (see :class:`VendorArm` for the control contract)."""

    name = "ur"

    def __init__(
        self,
        config: URConfig | None = None,
        control_factory: Callable[..., Any] | None = None,
        receive_factory: Callable[..., Any] | None = None,
    ) -> None:
        config = config or URConfig()
        config.check()
        self.embodiment = f"ur_{config.model}"
        super().__init__(config, URDriver(config, control_factory, receive_factory), config.resolved_limits())
        if self.limits.n_joints != 6:
            raise RobotError(f"a UR arm has 6 joints; the limits cover {self.limits.n_joints}")
