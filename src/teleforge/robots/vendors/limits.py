"""The limits a vendor arm declares (plain data, SI units) and enforces at its SDK boundary.

The same numbers are published through the robot's declared spec
(``state_spec['joint_pos']`` low/high, ``action_spec`` per-step bounds) and as
``robot.limits`` so the session's safety guard can use them; the adapter also
enforces them itself, so a command that bypasses the guard still cannot leave them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from teleforge.errors import RobotError


@dataclass(frozen=True)
class ArmLimits:
    """Workspace of the tool tip (m, base frame), joint range (rad) and speed caps.

    The tool tip is the controller's TCP: set the TCP offset on the pendant to the
    gripper's fingertip so these bounds apply where contact happens.
    """

    workspace_min: tuple[float, float, float]  # m, tool tip box in the base frame
    workspace_max: tuple[float, float, float]
    joint_low: tuple[float, ...]  # rad, one per joint
    joint_high: tuple[float, ...]
    max_tcp_speed: float = 0.10  # m/s, tool tip translation
    max_rot_speed: float = 0.5  # rad/s, tool orientation
    max_joint_speed: float = 0.5  # rad/s, every joint (joint streaming and homing)
    leash: float = 0.05  # m: the commanded tip never runs further than this ahead of the measured one

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(lo >= hi):
            raise RobotError(f"workspace_min {self.workspace_min} must be below workspace_max {self.workspace_max} on x, y, z")
        if len(self.joint_low) != len(self.joint_high) or any(a >= b for a, b in zip(self.joint_low, self.joint_high)):
            raise RobotError("joint_low and joint_high must have one entry per joint, each low below its high")
        bad = [n for n in ("max_tcp_speed", "max_rot_speed", "max_joint_speed", "leash") if not getattr(self, n) > 0]
        if bad:
            raise RobotError(f"arm limits must be positive: {', '.join(bad)}")

    @property
    def n_joints(self) -> int:
        """Number of joints these limits cover."""
        return len(self.joint_low)

    def describe(self) -> list[str]:
        """The limits in force, one human-readable line each (printed at start, shown in the window)."""
        lo, hi = self.workspace_min, self.workspace_max
        deg = np.degrees
        joints = ", ".join(f"J{i + 1} [{deg(a):.0f}, {deg(b):.0f}]" for i, (a, b) in enumerate(zip(self.joint_low, self.joint_high)))
        return [
            "tool-tip workspace (m): " + ", ".join(f"{ax} [{a:.3f}, {b:.3f}]" for ax, a, b in zip("xyz", lo, hi)),
            f"tool-tip speed <= {self.max_tcp_speed:.3f} m/s, rotation <= {self.max_rot_speed:.2f} rad/s, "
            f"joints <= {self.max_joint_speed:.2f} rad/s, leash {self.leash * 1000:.0f} mm",
            f"joint range (deg): {joints}",
        ]

    def in_workspace(self, tip: np.ndarray, margin: float = 0.0) -> bool:
        """True when the tool tip ``tip`` (3,) m lies inside the box grown by ``margin`` m."""
        p = np.asarray(tip, float).reshape(3)
        return bool(np.all(p >= np.asarray(self.workspace_min) - margin) and np.all(p <= np.asarray(self.workspace_max) + margin))
