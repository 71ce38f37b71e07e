"""Settings of a UFactory xArm (xArm 5/6/7, Lite 6, 850) and its conservative default limits."""

from __future__ import annotations

import math
from dataclasses import dataclass

from teleforge.errors import RobotError
from teleforge.robots.vendors.base import ArmConfig
from teleforge.robots.vendors.limits import ArmLimits

# Joint ranges (deg) from UFactory's user manuals; the SDK reports and takes degrees by default.
JOINT_RANGES_DEG: dict[str, tuple[tuple[float, float], ...]] = {
    "xarm5": ((-360, 360), (-118, 120), (-225, 11), (-97, 180), (-360, 360)),
    "xarm6": ((-360, 360), (-118, 120), (-225, 11), (-360, 360), (-97, 180), (-360, 360)),
    "xarm7": ((-360, 360), (-118, 120), (-360, 360), (-11, 225), (-360, 360), (-97, 180), (-360, 360)),
    "lite6": ((-360, 360), (-150, 150), (-3.5, 300), (-360, 360), (-124, 124), (-360, 360)),
    "850": ((-360, 360), (-132, 132), (-242, 3.5), (-360, 360), (-124, 124), (-360, 360)),
}

GRIPPER_OPEN_PULSE: float = 850.0
"""xArm Gripper position (SDK pulse units) when fully open; 0 is closed."""


@dataclass
class XArmConfig(ArmConfig):
    """One xArm: the common arm settings plus the model, gripper and SDK streaming settings."""

    host: str = "192.168.1.185"
    model: str = "xarm7"  # one of JOINT_RANGES_DEG
    gripper: bool = True  # an xArm Gripper on the tool flange
    gripper_speed: float = 1500.0  # r/min (SDK unit), the gripper's motor speed
    velocity_duration_s: float = 0.1  # the controller zeroes a velocity after this long without a new one

    def check(self) -> None:
        super().check()
        if self.model not in JOINT_RANGES_DEG:
            raise RobotError(f"unknown xArm model {self.model!r}; use one of {', '.join(JOINT_RANGES_DEG)}")

    @property
    def dof(self) -> int:
        """Number of joints of :attr:`model`."""
        return len(JOINT_RANGES_DEG[self.model])

    def resolved_limits(self) -> ArmLimits:
        """``limits`` if set, else conservative defaults: a 40 x 60 x 45 cm box in front of the base,
        0.1 m/s, 0.5 rad/s, and the model's joint ranges shrunk by 5 deg on each side."""
        if self.limits is not None:
            return self.limits
        rng = JOINT_RANGES_DEG[self.model]
        return ArmLimits(
            workspace_min=(0.20, -0.30, 0.05),
            workspace_max=(0.60, 0.30, 0.50),
            joint_low=tuple(math.radians(lo + 5) for lo, _ in rng),
            joint_high=tuple(math.radians(hi - 5) for _, hi in rng),
        )
