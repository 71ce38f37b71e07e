"""The safety guard between every command source and the arm.

Per control step the session calls, in order:

    guard.handle_events(cmd.events)                     # e-stop latch / release
    action = guard.command_to_action(cmd, ee_pos, dt)   # twist -> native step (human devices)
    action, status = guard.filter(action, ee_pos, now_ns, last_command_ns, connected, dt)

and holds the arm (``robot.hold()``) whenever ``status.hold``. The filter, in order:
e-stop latch, device disconnected, watchdog (no fresh command), then speed caps,
acceleration caps, the workspace box, and the gripper rate limit.

The box bounds every declared tool point (tool tip, flange, fingertips), not just the EE
origin: given ``ee_quat`` the guard predicts each point after the commanded translation
*and rotation* and scales the command so none leaves the box (a rotation swings a point
offset from the EE). Limits come from the robot's declaration (:meth:`SafetyConfig.for_robot`),
conservative when it declares none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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
    # Points (m, in the EE frame of ee_pos/ee_quat) the box must contain: tool tip, flange, fingertips.
    tool_points: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 0.0),)
    source: str = "teleforge defaults (sized to the bundled sim arm)"  # who set these limits, for the operator

    @classmethod
    def for_robot(cls, robot: Any) -> SafetyConfig:
        """The limits for ``robot``: its declared ``safety_limits`` (workspace, speeds, tool points)
        where it has them, :meth:`conservative` speeds for any robot that declares none."""
        lim = getattr(robot, "safety_limits", None)
        name = getattr(robot, "embodiment", None) or getattr(robot, "name", "robot")
        if lim is None:
            return cls.conservative(source=f"conservative defaults: {name} declares no limits")
        base = cls()
        return cls(workspace_min=tuple(lim.workspace_min), workspace_max=tuple(lim.workspace_max),
                   max_speed=min(base.max_speed, float(lim.max_speed)),
                   max_rot_speed=min(base.max_rot_speed, float(lim.max_rot_speed)),
                   tool_points=tuple((float(p[0]), float(p[1]), float(p[2])) for p in lim.tool_points),
                   source=lim.source or f"declared by {name}")

    def describe(self) -> str:
        """One line for the operator: the box, the speed caps, the tool points and where they came from."""
        box = " ".join(f"{ax} {lo:.3g}..{hi:.3g}" for ax, lo, hi in zip("xyz", self.workspace_min, self.workspace_max))
        return (f"workspace {box} m, speed <= {self.max_speed:.3g} m/s, rotation <= {self.max_rot_speed:.3g} rad/s, "
                f"{len(self.tool_points)} tool point(s) kept in the box; {self.source}")

    @classmethod
    def conservative(cls, **overrides: object) -> SafetyConfig:
        """Slow, smooth limits for a first session on a real arm (override any field)."""
        base: dict[str, object] = dict(max_speed=0.25, max_rot_speed=1.0, max_accel=1.0, max_rot_accel=4.0,
                                       gripper_rate=2.0, twist_speed=0.12, twist_rot_speed=0.6,
                                       source="conservative defaults")
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
        pts = np.asarray(self.tool_points, float)
        if pts.ndim != 2 or pts.shape[1:] != (3,) or len(pts) == 0 or not np.all(np.isfinite(pts)):
            raise SafetyError(f"tool_points must be one or more finite (x, y, z) offsets in m, got {self.tool_points!r}")


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
        self._points = np.asarray(self.config.tool_points, dtype=np.float64)  # (P, 3) EE frame
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
        ee_quat: np.ndarray | None = None,
    ) -> tuple[np.ndarray, GuardStatus]:
        """The action that may reach the arm, and why it differs from the request.

        ``ee_pos`` (3,) m and ``ee_quat`` (4,) wxyz are the measured EE pose; with ``ee_quat`` every
        tool point is kept in the box, without it only the EE origin (the tool points are ignored).
        """
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
        if ee_quat is not None and np.any(self._points):
            scale = self._tool_scale(step, w * dt, np.asarray(ee_pos, np.float64).reshape(3), ee_quat)
            if scale < 1.0:
                step, w = step * scale, w * scale
                reasons.append("workspace (tool points)")

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

    def _tool_scale(self, step: np.ndarray, rotvec: np.ndarray, ee: np.ndarray, ee_quat: np.ndarray) -> float:
        """Largest s in [0, 1] such that every tool point, after ``s * step`` and ``s * rotvec``, is in
        the box -- or, for a point already outside on an axis, no further out than it is now."""
        q = np.asarray(ee_quat, np.float64).reshape(-1)
        if q.shape != (4,) or not np.all(np.isfinite(q)) or not np.linalg.norm(q) > 0:
            return 0.0  # an unreadable orientation: do not move rather than guess
        rot = _mat_from_quat(q / np.linalg.norm(q))
        offsets = self._points @ rot.T  # (P, 3) base frame
        now = ee + offsets
        out_now = np.maximum(self._lo - now, 0.0) + np.maximum(now - self._hi, 0.0)

        def ok(s: float) -> bool:
            pts = ee + s * step + offsets @ _mat_from_rotvec(s * rotvec).T
            out = np.maximum(self._lo - pts, 0.0) + np.maximum(pts - self._hi, 0.0)
            return bool(np.all(out <= out_now + 1e-9))

        if ok(1.0):
            return 1.0
        lo, hi = 0.0, 1.0
        for _ in range(20):  # bisection to ~1e-6 of the step
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        return lo

    def _hold(self, reason: str, estop: bool = False) -> tuple[np.ndarray, GuardStatus]:
        self._v[:] = 0  # resume from rest: the acceleration cap ramps motion back up
        self._w[:] = 0
        out = np.zeros(ACTION_DIM, dtype=np.float32)
        out[GRIPPER_INDEX] = self._gripper if self._gripper is not None else 0.0
        return out, GuardStatus(hold=True, estop=estop, clamped=False, reason=reason)


def _mat_from_quat(q: np.ndarray) -> np.ndarray:
    """3x3 rotation of a unit quaternion (w, x, y, z)."""
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _mat_from_rotvec(r: np.ndarray) -> np.ndarray:
    """3x3 rotation of an axis-angle vector (rad), Rodrigues' formula."""
    angle = math.sqrt(float(r @ r))
    if angle < 1e-12:
        return np.eye(3)
    k = r / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * kx + (1 - math.cos(angle)) * (kx @ kx)


def _cap_norm(vec: np.ndarray, limit: float) -> tuple[np.ndarray, bool]:
    n = float(np.linalg.norm(vec))
    if n > limit * (1 + 1e-9):
        return vec * (limit / n), True
    return vec, False
