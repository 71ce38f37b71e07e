"""The safety guard between every command source and the arm.

Per control step the session calls, in order:

    guard.handle_events(cmd.events)                     # e-stop latch / release
    action = guard.command_to_action(cmd, ee_pos, dt)   # twist -> native step (human devices)
    action, status = guard.filter(action, ee_pos, now_ns, last_command_ns, connected, dt)

and holds the arm (``robot.hold()``) whenever ``status.hold``. The filter, in order:
e-stop latch, device disconnected, watchdog (no fresh command), then speed caps,
acceleration caps, the workspace box, and the gripper rate limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from teleforge.errors import SafetyError
from teleforge.spec import ACTION_DIM, GRIPPER_INDEX, TWIST_DIM
from teleforge.teleop.command import Command, Event


@dataclass
class SafetyConfig:
    """Limits in the robot base frame, SI units.

    Defaults are sized to the bundled sim arm (its actions allow 0.6 m/s and 2 rad/s
    per axis) so the scripted expert passes unchanged and only runaway commands are
    cut. For a real arm start from :meth:`conservative`.
    """

    workspace_min: tuple[float, float, float] = (0.2, -0.5, 0.012)  # EE target box, m
    workspace_max: tuple[float, float, float] = (0.8, 0.5, 0.6)
    max_speed: float = 1.1  # m/s, norm of the translation step / dt
    max_rot_speed: float = 3.5  # rad/s, norm of the rotation step / dt
    max_accel: float = 25.0  # m/s^2, change of translation velocity between steps
    max_rot_accel: float = 80.0  # rad/s^2
    gripper_rate: float = 10.0  # gripper target units (0..1) per second: 0.1 s open -> closed
    watchdog_s: float = 0.25  # hold when the device has been silent this long
    # Human devices: a full-scale twist (|axis| = 1) moves this fast.
    twist_speed: float = 0.25  # m/s per translation axis at full stick
    twist_rot_speed: float = 1.0  # rad/s per rotation axis at full stick

    @classmethod
    def conservative(cls, **overrides: object) -> SafetyConfig:
        """Slow, smooth limits for a first session on a real arm (override any field)."""
        base: dict[str, object] = dict(max_speed=0.25, max_rot_speed=1.0, max_accel=1.0, max_rot_accel=4.0,
                                       gripper_rate=2.0, twist_speed=0.12, twist_rot_speed=0.6)
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(lo >= hi):
            raise SafetyError(f"workspace_min must be below workspace_max on every axis, got {self.workspace_min} / {self.workspace_max}")
        positive = ("max_speed", "max_rot_speed", "max_accel", "max_rot_accel", "gripper_rate", "watchdog_s",
                    "twist_speed", "twist_rot_speed")
        bad = [n for n in positive if not getattr(self, n) > 0]
        if bad:
            raise SafetyError(f"safety limits must be positive: {', '.join(bad)}")


@dataclass
class GuardStatus:
    """What the guard did this step, for the session and the HUD."""

    hold: bool = False  # keep the current pose (robot.hold())
    estop: bool = False  # the e-stop is latched
    clamped: bool = False  # the action was changed by a limit
    reason: str = ""  # human readable, empty when nothing happened


class SafetyGuard:
    """Stateful filter: remembers the e-stop latch, the last velocity and the last gripper target."""

    def __init__(self, config: SafetyConfig | None = None) -> None:
        self.config = config or SafetyConfig()
        self._lo = np.asarray(self.config.workspace_min, dtype=np.float64)
        self._hi = np.asarray(self.config.workspace_max, dtype=np.float64)
        self.estop = False
        self._v = np.zeros(3)  # last commanded translation velocity, m/s
        self._w = np.zeros(3)  # last commanded rotation velocity, rad/s
        self._gripper: float | None = None

    def handle_events(self, events: Iterable[Event]) -> None:
        """ESTOP latches; only ESTOP_RELEASE clears it (motion restarts from rest)."""
        for ev in events:
            if ev == Event.ESTOP:
                self.estop = True
            elif ev == Event.ESTOP_RELEASE and self.estop:
                self.estop = False
                self._v[:] = 0
                self._w[:] = 0

    def reset(self, gripper: float | None = None) -> None:
        """Forget motion history (new episode / scene reset); ``gripper`` seeds the rate limiter."""
        self._v[:] = 0
        self._w[:] = 0
        self._gripper = gripper

    def command_to_action(self, cmd: Command, ee_pos: np.ndarray, dt: float) -> np.ndarray:
        """Native (ACTION_DIM,) action for this step: twist x (speed x dt) for human devices,
        native passthrough otherwise; ``dt`` in s."""
        if cmd.native_action is not None:
            a = np.asarray(cmd.native_action, dtype=np.float32).reshape(-1)
            if a.shape != (ACTION_DIM,):
                raise SafetyError(f"native_action must have {ACTION_DIM} numbers, got shape {a.shape}")
            return a.copy()
        tw = np.asarray(cmd.twist, dtype=np.float64).reshape(-1)
        if tw.shape != (TWIST_DIM,):
            raise SafetyError(f"twist must have {TWIST_DIM} numbers [vx vy vz wx wy wz], got shape {tw.shape}")
        tw = np.clip(np.nan_to_num(tw, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
        out = np.empty(ACTION_DIM, dtype=np.float32)
        out[:3] = tw[:3] * self.config.twist_speed * dt
        out[3:TWIST_DIM] = tw[3:] * self.config.twist_rot_speed * dt
        g = float(cmd.gripper) if np.isfinite(cmd.gripper) else 0.0
        out[GRIPPER_INDEX] = min(max(g, 0.0), 1.0)
        return out

    def filter(
        self,
        action: np.ndarray,
        ee_pos: np.ndarray,
        now_ns: int,
        last_command_ns: int,
        device_connected: bool,
        dt: float,
    ) -> tuple[np.ndarray, GuardStatus]:
        """The action that may reach the arm, and why it differs from the request."""
        if dt <= 0:
            raise SafetyError(f"control period dt must be > 0, got {dt}")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (ACTION_DIM,):
            raise SafetyError(f"a native action has {ACTION_DIM} numbers, got shape {a.shape}")
        if self.estop:
            return self._hold("E-STOP latched: release it (SHIFT+ESC / GUIDE) to move again", estop=True)
        if not device_connected:
            return self._hold("input device disconnected: holding position until it is back")
        silent_s = (now_ns - last_command_ns) / 1e9
        if silent_s > self.config.watchdog_s:
            return self._hold(f"no command for {silent_s:.2f} s (watchdog {self.config.watchdog_s:.2f} s): holding position")
        if not np.all(np.isfinite(a)):
            return self._hold("non-finite action (NaN/inf) refused: holding position")

        cfg = self.config
        reasons: list[str] = []
        v = a[:3] / dt
        w = a[3:TWIST_DIM] / dt
        v, hit = _cap_norm(v, cfg.max_speed)
        if hit:
            reasons.append("speed")
        w, hit = _cap_norm(w, cfg.max_rot_speed)
        if hit:
            reasons.append("rotation speed")
        dv, hit = _cap_norm(v - self._v, cfg.max_accel * dt)
        v = self._v + dv
        if hit:
            reasons.append("acceleration")
        dw, hit = _cap_norm(w - self._w, cfg.max_rot_accel * dt)
        w = self._w + dw
        if hit:
            reasons.append("rotation acceleration")

        step = v * dt
        box_step, walls = self._box(step, np.asarray(ee_pos, dtype=np.float64).reshape(3))
        if walls:
            reasons.append("workspace " + ", ".join(walls))
        step = box_step

        g_req = min(max(float(a[GRIPPER_INDEX]), 0.0), 1.0)
        g = g_req
        if self._gripper is not None:
            max_dg = cfg.gripper_rate * dt
            g = self._gripper + min(max(g_req - self._gripper, -max_dg), max_dg)
            if abs(g - g_req) > 1e-9:
                reasons.append("gripper rate")

        self._v = step / dt
        self._w = w
        self._gripper = g
        out = np.empty(ACTION_DIM, dtype=np.float32)
        out[:3] = step
        out[3:TWIST_DIM] = w * dt
        out[GRIPPER_INDEX] = g
        return out, GuardStatus(clamped=bool(reasons), reason=("limited: " + "; ".join(reasons)) if reasons else "")

    def _box(self, step: np.ndarray, ee: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Clip the step so the EE target stays in the box; outside it, only moves back in are allowed."""
        lo_step = np.minimum(self._lo - ee, 0.0)
        hi_step = np.maximum(self._hi - ee, 0.0)
        clipped = np.clip(step, lo_step, hi_step)
        walls = []
        for i, axis in enumerate("xyz"):
            if clipped[i] > step[i] + 1e-12:
                walls.append(f"{axis}-min")
            elif clipped[i] < step[i] - 1e-12:
                walls.append(f"{axis}-max")
        return clipped, walls

    def _hold(self, reason: str, estop: bool = False) -> tuple[np.ndarray, GuardStatus]:
        self._v[:] = 0  # resume from rest: the acceleration cap ramps motion back up
        self._w[:] = 0
        out = np.zeros(ACTION_DIM, dtype=np.float32)
        out[GRIPPER_INDEX] = self._gripper if self._gripper is not None else 0.0
        return out, GuardStatus(hold=True, estop=estop, clamped=False, reason=reason)


def _cap_norm(vec: np.ndarray, limit: float) -> tuple[np.ndarray, bool]:
    n = float(np.linalg.norm(vec))
    if n > limit * (1 + 1e-9):
        return vec * (limit / n), True
    return vec, False
