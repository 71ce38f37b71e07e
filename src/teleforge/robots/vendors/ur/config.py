"""Settings of a Universal Robots arm (CB3 / e-Series) driven through ur_rtde."""

from __future__ import annotations

import math
from dataclasses import dataclass

from teleforge.errors import RobotError
from teleforge.robots.vendors.base import ArmConfig
from teleforge.robots.vendors.limits import ArmLimits


@dataclass
class URConfig(ArmConfig):
    """One UR arm: the common arm settings plus the RTDE streaming gains (ur_rtde's units: m, rad, s)."""

    host: str = "192.168.1.102"
    model: str = "ur5e"  # stored as the embodiment (ur_<model>)
    rtde_frequency: float = -1.0  # Hz; -1: the controller's own (500 e-Series, 125 CB3)
    lookahead_time: float = 0.1  # s, servoL/servoJ smoothing, ur_rtde allows 0.03..0.2
    gain: float = 300.0  # servoL/servoJ proportional gain, ur_rtde allows 100..2000
    speed_acceleration: float = 0.5  # m/s^2, speedL acceleration toward the commanded velocity
    stop_deceleration: float = 2.0  # m/s^2 (servoStop/speedStop deceleration)

    def check(self) -> None:
        super().check()
        if not 0.03 <= self.lookahead_time <= 0.2:
            raise RobotError(f"lookahead_time {self.lookahead_time} s is outside ur_rtde's 0.03..0.2 s")
        if not 100.0 <= self.gain <= 2000.0:
            raise RobotError(f"gain {self.gain} is outside ur_rtde's 100..2000")
        if not (self.speed_acceleration > 0 and self.stop_deceleration > 0):
            raise RobotError("speed_acceleration and stop_deceleration must be positive")

    def resolved_limits(self) -> ArmLimits:
        """``limits`` if set, else conservative defaults: a 40 x 70 x 45 cm box in front of the base,
        0.1 m/s, 0.5 rad/s, and every joint within +-355 deg (the e-Series range is +-360)."""
        if self.limits is not None:
            return self.limits
        r = math.radians(355)
        return ArmLimits(
            workspace_min=(0.20, -0.35, 0.05),
            workspace_max=(0.60, 0.35, 0.50),
            joint_low=(-r,) * 6,
            joint_high=(r,) * 6,
        )
