"""UFactory xArm as a teleforge Robot, through ``xarm.wrapper.XArmAPI`` (xarm-python-sdk).

Units: the SDK speaks millimetres and degrees (``is_radian=False``, passed explicitly on every
call so a changed SDK default cannot change what we send); teleforge speaks metres and radians.
:func:`pose_to_sdk` / :func:`pose_from_sdk` and the ``_DEG`` / ``_MM`` factors below are the only
place the two meet. The xArm Gripper takes and reports pulses (0 = closed, 850 = open).

Streaming: ``mode="pose"`` uses servo mode (``set_mode(1)``, ``set_servo_cartesian``, one
target per control period); ``mode="velocity"`` uses Cartesian velocity mode (``set_mode(5)``,
``vc_set_cartesian_velocity`` with a short ``duration`` so a lost stream stops the arm).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from teleforge.errors import ControllerFaultError, RobotConnectionLostError, RobotError, RobotStoppedError
from teleforge.robots.vendors import load_sdk
from teleforge.robots.vendors.base import Reading, SdkCall, VendorArm
from teleforge.robots.vendors.rotations import mat_from_rpy, rpy_from_mat
from teleforge.robots.vendors.xarm.config import GRIPPER_OPEN_PULSE, XArmConfig

_MM = 1000.0  # mm per m
_DEG = 180.0 / np.pi  # deg per rad

# SDK API codes (xarm/x3/code.py APIState) and controller error codes (xarm/core/config/x_code.py).
_OK_CODES = {0, 2}  # 2: the controller has a warning; motion continues
_LOST_CODES = {-1: "not connected", 3: "reply timed out", 8: "send failed"}
_ESTOP_ERRORS = {1: "E-stop button on the controller", 2: "emergency IO of the control box", 3: "E-stop of the three-state switch"}
_PROTECTIVE_ERRORS = {22: "self-collision", 31: "collision (abnormal current)", 35: "safety boundary limit"}


def pose_to_sdk(pos: np.ndarray, mat: np.ndarray) -> list[float]:
    """Tool-tip position (m) + orientation (3x3) -> the SDK's ``[x, y, z (mm), roll, pitch, yaw (deg)]``."""
    rpy = rpy_from_mat(mat)
    return [float(v) for v in np.concatenate([np.asarray(pos, float) * _MM, rpy * _DEG])]


def pose_from_sdk(pose: Any) -> tuple[np.ndarray, np.ndarray]:
    """The SDK's ``[x, y, z (mm), roll, pitch, yaw (deg)]`` -> position (m) and orientation (3x3)."""
    p = np.asarray(pose, dtype=np.float64).reshape(-1)[:6]
    return p[:3] / _MM, mat_from_rpy(*(p[3:6] / _DEG))


def _unpack(res: Any, what: str) -> Any:
    """``(code, value)`` replies: the value, or the typed error the code asks for."""
    if not isinstance(res, (tuple, list)) or len(res) != 2:
        raise ControllerFaultError(f"xArm {what} returned {res!r}, expected (code, value); check the SDK version")
    _check(int(res[0]), what, None)
    return res[1]


def _check(code: int, what: str, api: Any) -> None:
    if code in _OK_CODES:
        return
    if code in _LOST_CODES:
        raise RobotConnectionLostError(f"xArm {what}: {_LOST_CODES[code]} (code {code}); check the cable and reconnect")
    if code == -9:
        raise RobotStoppedError(f"xArm {what}: emergency stop (code -9); release it, then reconnect")
    if code == 1 and api is not None:
        _raise_controller_error(api, what)
    hints = {-2: "the arm is not enabled or not in the right mode", -6: "Cartesian limit", -7: "joint limit", -8: "out of range"}
    raise ControllerFaultError(f"xArm {what} failed with code {code} ({hints.get(code, 'see the SDK API codes')}); "
                               "read the error on the xArm Studio page, clear it, then reconnect")


def _raise_controller_error(api: Any, what: str) -> None:
    err = int(getattr(api, "error_code", 0) or 0)
    if err in _ESTOP_ERRORS:
        raise RobotStoppedError(f"xArm {what}: emergency stop ({_ESTOP_ERRORS[err]}, C{err}); release it, re-enable, reconnect")
    if err in _PROTECTIVE_ERRORS:
        raise RobotStoppedError(f"xArm {what}: protective stop ({_PROTECTIVE_ERRORS[err]}, C{err}); "
                                "move the arm clear, clear the error in xArm Studio, reconnect")
    raise ControllerFaultError(f"xArm {what}: controller error C{err}; look it up in xArm Studio, clear it, reconnect")


class XArmDriver:
    """The xArm side of :class:`~teleforge.robots.vendors.base.ArmDriver`: reads in SI, calls in mm/deg."""

    def __init__(self, config: XArmConfig, api_factory: Callable[..., Any] | None = None) -> None:
        self.config = config
        self._factory = api_factory
        self.api: Any = None
        self._gripper_sent: float | None = None

    def open(self, shadow: bool) -> None:
        """Connect; unless ``shadow``: enable motion, enter servo (1) or velocity (5) mode, enable the gripper."""
        factory = self._factory or load_sdk("xarm.wrapper", "xarm").XArmAPI
        try:
            self.api = factory(self.config.host, is_radian=False)
        except (OSError, ConnectionError) as exc:
            raise RobotConnectionLostError(f"cannot reach the xArm at {self.config.host} ({exc}); check the network") from exc
        if not getattr(self.api, "connected", False):
            raise RobotConnectionLostError(f"cannot reach the xArm at {self.config.host}; check the IP and cable")
        if getattr(self.api, "has_error", False):
            _raise_controller_error(self.api, "connect")
        if shadow:
            return
        for call in self._mode_calls():
            self.send(call)
        if self.config.gripper:
            self.send(SdkCall("set_gripper_mode", (0,)))
            self.send(SdkCall("set_gripper_enable", (True,)))

    def _mode_calls(self) -> list[SdkCall]:
        mode = 1 if self.config.mode == "pose" else 5
        return [SdkCall("motion_enable", (), {"enable": True}), SdkCall("set_mode", (mode,)), SdkCall("set_state", (0,))]

    def read(self) -> Reading:
        """Joints, tool-tip pose and gripper from the SDK, converted to rad, m and [0, 1]."""
        api = self._require()
        if not getattr(api, "connected", True):
            raise RobotConnectionLostError("xArm connection lost; check the cable and reconnect")
        if getattr(api, "has_error", False):
            _raise_controller_error(api, "read")
        n = self.config.dof
        states = _unpack(self._call(api.get_joint_states, is_radian=False), "get_joint_states")
        q = np.asarray(states[0], float)[:n] / _DEG
        qd = np.asarray(states[1], float)[:n] / _DEG
        pos, mat = pose_from_sdk(_unpack(self._call(api.get_position, is_radian=False), "get_position"))
        opening = 1.0
        if self.config.gripper:
            pulse = float(_unpack(self._call(api.get_gripper_position), "get_gripper_position"))
            opening = float(np.clip(pulse / GRIPPER_OPEN_PULSE, 0.0, 1.0))
        return Reading(joint_pos=q, joint_vel=qd, tcp_pos=pos, tcp_mat=mat, gripper=opening)

    def pose_calls(self, pos: np.ndarray, mat: np.ndarray, dt: float) -> list[SdkCall]:
        """Servo mode: one ``set_servo_cartesian`` per period (mm, deg)."""
        return [SdkCall("set_servo_cartesian", (pose_to_sdk(pos, mat),), {"is_radian": False})]

    def velocity_calls(self, v: np.ndarray, w: np.ndarray, dt: float) -> list[SdkCall]:
        """Velocity mode: ``vc_set_cartesian_velocity`` (mm/s, deg/s) that lapses after ``velocity_duration_s``."""
        speeds = [float(x) for x in np.concatenate([np.asarray(v, float) * _MM, np.asarray(w, float) * _DEG])]
        return [SdkCall("vc_set_cartesian_velocity", (speeds,),
                        {"is_radian": False, "is_tool_coord": False, "duration": float(self.config.velocity_duration_s)})]

    def joint_calls(self, q: np.ndarray, dt: float) -> list[SdkCall]:
        """Servo mode only: ``set_servo_angle_j`` (deg)."""
        if self.config.mode != "pose":
            raise RobotError("xArm joint streaming needs servo mode; configure mode='pose'")
        return [SdkCall("set_servo_angle_j", ([float(x) for x in np.asarray(q, float) * _DEG],), {"is_radian": False})]

    def gripper_calls(self, closed: float) -> list[SdkCall]:
        """``set_gripper_position`` in pulses (850 = open), sent only when the target moved by >= 1 %."""
        if not self.config.gripper:
            return []
        if self._gripper_sent is not None and abs(closed - self._gripper_sent) < 0.01:
            return []
        self._gripper_sent = float(closed)
        pulse = float(GRIPPER_OPEN_PULSE * (1.0 - float(np.clip(closed, 0.0, 1.0))))
        return [SdkCall("set_gripper_position", (pulse,), {"wait": False, "speed": float(self.config.gripper_speed)})]

    def stop_calls(self, pos: np.ndarray, mat: np.ndarray) -> list[SdkCall]:
        """Hold at the measured pose: re-send it in servo mode, zero velocity in velocity mode."""
        if self.config.mode == "pose":
            return self.pose_calls(pos, mat, 0.0)
        return self.velocity_calls(np.zeros(3), np.zeros(3), 0.0)

    def home_calls(self, q: np.ndarray, speed: float) -> list[SdkCall]:
        """Position mode, a blocking ``set_servo_angle`` (deg, deg/s), then back to the streaming mode."""
        return [
            SdkCall("set_mode", (0,)),
            SdkCall("set_state", (0,)),
            SdkCall("set_servo_angle", (), {"angle": [float(x) for x in np.asarray(q, float) * _DEG],
                                            "speed": float(speed * _DEG), "is_radian": False, "wait": True}),
            *self._mode_calls()[1:],
        ]

    def send(self, call: SdkCall) -> Any:
        """Execute one call on the SDK; its code becomes a typed error when it is not OK."""
        api = self._require()
        code = self._call(getattr(api, call.method), *call.args, **call.kwargs)
        if isinstance(code, (tuple, list)):
            code = code[0]
        _check(int(code if code is not None else 0), call.method, api)
        return code

    def close(self) -> None:
        """Disconnect (idempotent)."""
        if self.api is not None:
            try:
                self.api.disconnect()
            finally:
                self.api = None

    def _require(self) -> Any:
        if self.api is None:
            raise RobotConnectionLostError("the xArm is not connected; call connect() first")
        return self.api

    @staticmethod
    def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise RobotConnectionLostError(f"xArm link failed during {getattr(fn, '__name__', 'a call')} ({exc}); reconnect") from exc


class XArmRobot(VendorArm):
    """A UFactory xArm as a teleforge Robot (see :class:`VendorArm` for the control contract)."""

    name = "xarm"

    def __init__(self, config: XArmConfig | None = None, api_factory: Callable[..., Any] | None = None) -> None:
        config = config or XArmConfig()
        config.check()
        self.embodiment = f"ufactory_{config.model}"
        super().__init__(config, XArmDriver(config, api_factory), config.resolved_limits())
        if self.limits.n_joints != config.dof:
            raise RobotError(f"limits cover {self.limits.n_joints} joints, the {config.model} has {config.dof}")
