"""A recorder standing in for ``xarm.wrapper.XArmAPI``: checks every call's units, mode and limits
the way the controller would, and can inject faults, e-stops, lost links and slow replies.

Signatures follow xarm-python-sdk 1.18 (xarm/wrapper/xarm_api.py); units are the SDK's
defaults with ``is_radian=False``: mm, degrees, gripper pulses 0 (closed) .. 850 (open).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

REACH_MM = 700.0  # xArm 7 reach: any pose beyond this is a unit mistake (m sent as mm, ...)


@dataclass
class Call:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    mode: int
    state: int


class FakeXArmAPI:
    """One fake controller. Class attributes configure the next instance (the adapter constructs it)."""

    instances: list[FakeXArmAPI] = []

    def __init__(self, port: str | None = None, is_radian: bool = False, do_not_open: bool = False, **kwargs: Any) -> None:
        assert isinstance(port, str) and port, "XArmAPI needs the controller IP as port"
        assert is_radian is False, "teleforge constructs the SDK in degrees (is_radian=False)"
        self.port = port
        self.calls: list[Call] = []
        self.connected = True
        self.error_code = 0
        self.warn_code = 0
        self.mode = 0
        self.state = 2  # sleeping until enabled
        self.enabled = False
        self.gripper_enabled = False
        self.dof = 7
        self.angles_deg = np.array([0.0, -20.0, 0.0, 40.0, 0.0, 60.0, 0.0])
        self.pose = np.array([400.0, 0.0, 300.0, 180.0, 0.0, 0.0])  # mm, deg
        self.gripper_pulse = 850.0
        self.reply_delay_s = 0.0
        self.return_code: int | None = None  # force every command's code (e.g. -9, 1)
        FakeXArmAPI.instances.append(self)

    # --- fault injection ------------------------------------------------------------
    @property
    def has_error(self) -> bool:
        return self.error_code != 0

    def inject_error(self, code: int) -> None:
        """The controller raises error C<code> (1-3 e-stops, 31 collision, 10 servo fault...)."""
        self.error_code = code
        self.state = 4

    def drop(self) -> None:
        """The Ethernet link drops: ``connected`` goes False and every call returns -1."""
        self.connected = False

    # --- recording helpers -----------------------------------------------------------
    def _rec(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self.reply_delay_s:
            time.sleep(self.reply_delay_s)
        self.calls.append(Call(method, args, kwargs, self.mode, self.state))

    def _code(self) -> int:
        if not self.connected:
            return -1
        if self.return_code is not None:
            return self.return_code
        if self.error_code:
            return 1
        return 0

    def names(self) -> list[str]:
        return [c.method for c in self.calls]

    def motion_calls(self) -> list[Call]:
        moving = {"set_servo_cartesian", "vc_set_cartesian_velocity", "set_servo_angle_j", "set_servo_angle",
                  "set_gripper_position", "motion_enable", "set_mode", "set_state", "set_gripper_enable",
                  "set_gripper_mode", "move_gohome", "set_position"}
        return [c for c in self.calls if c.method in moving]

    # --- the SDK surface teleforge uses ----------------------------------------------
    def motion_enable(self, enable: bool = True, servo_id: int | None = None) -> int:
        self._rec("motion_enable", enable=enable, servo_id=servo_id)
        self.enabled = bool(enable)
        return self._code()

    def set_mode(self, mode: int = 0, detection_param: int = 0) -> int:
        self._rec("set_mode", mode)
        assert mode in (0, 1, 4, 5), f"unexpected mode {mode}"
        self.mode = mode
        return self._code()

    def set_state(self, state: int = 0) -> int:
        self._rec("set_state", state)
        assert state in (0, 3, 4, 6)
        self.state = 1 if state == 0 else state
        return self._code()

    def get_joint_states(self, is_radian: bool | None = None, num: int = 3) -> tuple[int, list[list[float]]]:
        assert is_radian is False, "read joints in degrees explicitly"
        self._rec("get_joint_states", is_radian=is_radian)
        return self._code(), [list(self.angles_deg), [0.0] * 7, [0.0] * 7]

    def get_position(self, is_radian: bool | None = None) -> tuple[int, list[float]]:
        assert is_radian is False, "read the pose in degrees explicitly"
        self._rec("get_position", is_radian=is_radian)
        return self._code(), list(self.pose)

    def get_gripper_position(self, **kwargs: Any) -> tuple[int, float]:
        self._rec("get_gripper_position")
        return self._code(), float(self.gripper_pulse)

    def _ready(self, mode: int) -> None:
        assert self.enabled, "motion before motion_enable(True)"
        assert self.mode == mode, f"needs mode {mode}, controller is in mode {self.mode}"
        assert self.state in (0, 1), f"controller state {self.state} does not accept motion"

    def set_servo_cartesian(self, mvpose: list[float], speed: Any = None, mvacc: Any = None, mvtime: float = 0,
                            is_radian: bool | None = None, is_tool_coord: bool = False, **kwargs: Any) -> int:
        self._rec("set_servo_cartesian", list(mvpose), is_radian=is_radian)
        assert is_radian is False, "servo poses go in degrees"
        p = np.asarray(mvpose, float)
        assert p.shape == (6,) and np.all(np.isfinite(p))
        assert np.linalg.norm(p[:3]) < REACH_MM, f"pose {p[:3]} mm is beyond the reach: a unit mistake?"
        assert np.all(np.abs(p[3:]) <= 180.0 + 1e-6), f"angles {p[3:]} are not degrees in [-180, 180]"
        if self._code() == 0:
            self._ready(1)
            self.pose = p.copy()  # the fake tracks servo targets exactly
        return self._code()

    def vc_set_cartesian_velocity(self, speeds: list[float], is_radian: bool | None = None, is_tool_coord: bool = False,
                                  duration: float = -1, **kwargs: Any) -> int:
        self._rec("vc_set_cartesian_velocity", list(speeds), is_radian=is_radian, duration=duration)
        assert is_radian is False
        assert 0 < duration <= 1.0, "a velocity must lapse quickly when the stream stops"
        if self._code() == 0:
            self._ready(5)
        return self._code()

    def set_servo_angle_j(self, angles: list[float], speed: Any = None, mvacc: Any = None, mvtime: Any = None,
                          is_radian: bool | None = None, **kwargs: Any) -> int:
        self._rec("set_servo_angle_j", list(angles), is_radian=is_radian)
        assert is_radian is False
        if self._code() == 0:
            self._ready(1)
            self.angles_deg[: len(angles)] = angles
        return self._code()

    def set_servo_angle(self, servo_id: Any = None, angle: Any = None, speed: Any = None, mvacc: Any = None,
                        mvtime: Any = None, relative: bool = False, is_radian: bool | None = None, wait: bool = False,
                        timeout: Any = None, radius: Any = None, **kwargs: Any) -> int:
        self._rec("set_servo_angle", angle=list(angle), speed=speed, is_radian=is_radian, wait=wait)
        assert is_radian is False and speed is not None and 0 < speed <= 60.0, "home slowly, in deg/s"
        if self._code() == 0:
            self._ready(0)
            self.angles_deg[: len(angle)] = angle
        return self._code()

    def set_gripper_mode(self, mode: int, **kwargs: Any) -> int:
        self._rec("set_gripper_mode", mode)
        return self._code()

    def set_gripper_enable(self, enable: bool, **kwargs: Any) -> int:
        self._rec("set_gripper_enable", enable)
        self.gripper_enabled = bool(enable)
        return self._code()

    def set_gripper_position(self, pos: float, wait: bool = False, speed: Any = None, auto_enable: bool = False,
                             timeout: Any = None, **kwargs: Any) -> int:
        self._rec("set_gripper_position", pos, wait=wait, speed=speed)
        assert -10 <= pos <= 850, f"gripper pulse {pos} outside -10..850"
        assert wait is False, "a blocking gripper call would stall the control loop"
        assert self.gripper_enabled
        self.gripper_pulse = float(pos)
        return self._code()

    def disconnect(self) -> None:
        self._rec("disconnect")
        self.connected = False
