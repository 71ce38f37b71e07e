"""Safety guard: box clipping, speed and acceleration caps, gripper rate, watchdog, disconnect, e-stop."""

from __future__ import annotations

import numpy as np
import pytest

from teleforge.errors import SafetyError
from teleforge.teleop.command import Command, Event
from teleforge.teleop.safety import SafetyConfig, SafetyGuard

DT = 0.05
NOW = 10_000_000_000
CENTER = np.array([0.5, 0.0, 0.3])


def guard(**cfg) -> SafetyGuard:
    return SafetyGuard(SafetyConfig(**cfg))


def act(g: SafetyGuard, action, ee=CENTER, now=NOW, last=NOW, connected=True, dt=DT):
    return g.filter(np.asarray(action, dtype=np.float32), np.asarray(ee), now, last, connected, dt)


def test_small_action_inside_limits_passes_unchanged():
    g = guard()
    a = np.array([0.005, -0.003, 0.002, 0.01, 0.0, -0.02, 0.0], dtype=np.float32)
    out, st = act(g, a)
    assert out == pytest.approx(a)
    assert not st.hold and not st.clamped and st.reason == ""


def test_twist_scales_by_speed_times_dt_and_native_passes_through():
    g = guard(twist_speed=0.2, twist_rot_speed=1.0)
    a = g.command_to_action(Command(twist=np.array([1, -0.5, 0, 0, 0, 1], np.float32), gripper=1.0), CENTER, DT)
    assert a == pytest.approx([0.2 * DT, -0.1 * DT, 0, 0, 0, 1.0 * DT, 1.0])
    native = np.arange(7, dtype=np.float32)
    assert np.array_equal(g.command_to_action(Command(native_action=native), CENTER, DT), native)


def test_twist_outside_unit_range_or_nan_is_sanitized():
    g = guard(twist_speed=0.2)
    a = g.command_to_action(Command(twist=np.array([5, np.nan, -3, 0, 0, 0], np.float32), gripper=2.0), CENTER, DT)
    assert a[:3] == pytest.approx([0.2 * DT, 0, -0.2 * DT])
    assert a[6] == 1.0


def test_box_clips_target_to_the_wall():
    g = guard(workspace_min=(0.2, -0.5, 0.1), workspace_max=(0.8, 0.5, 0.6), max_accel=1e3)
    out, st = act(g, [0, 0, -0.02, 0, 0, 0, 0], ee=np.array([0.5, 0.0, 0.11]))
    assert out[2] == pytest.approx(-0.01)  # stops exactly at z-min
    assert st.clamped and "z-min" in st.reason and not st.hold


def test_box_outside_allows_moving_back_in_but_not_further_out():
    g = guard(workspace_min=(0.2, -0.5, 0.1), workspace_max=(0.8, 0.5, 0.6), max_accel=1e3)
    outside = np.array([0.85, 0.0, 0.3])
    out, _ = act(g, [0.01, 0, 0, 0, 0, 0, 0], ee=outside)
    assert out[0] == 0.0
    out, st = act(g, [-0.01, 0, 0, 0, 0, 0, 0], ee=outside)
    assert out[0] == pytest.approx(-0.01)


def test_speed_cap_scales_translation_keeping_direction():
    g = guard(max_speed=0.2, max_accel=1e3)
    out, st = act(g, [0.03, 0.04, 0, 0, 0, 0, 0])  # 1.0 m/s requested
    assert np.linalg.norm(out[:3]) / DT == pytest.approx(0.2, rel=1e-5)
    assert out[0] / out[1] == pytest.approx(0.75)
    assert st.clamped and "speed" in st.reason


def test_rotation_speed_cap():
    g = guard(max_rot_speed=1.0, max_rot_accel=1e3)
    out, st = act(g, [0, 0, 0, 0, 0, 0.5, 0])
    assert abs(out[5]) / DT == pytest.approx(1.0, rel=1e-5)
    assert "rotation speed" in st.reason


def test_acceleration_cap_ramps_up_from_rest():
    g = guard(max_speed=1.0, max_accel=2.0)
    speeds = []
    for _ in range(6):
        out, _ = act(g, [0.02, 0, 0, 0, 0, 0, 0])  # 0.4 m/s requested
        speeds.append(out[0] / DT)
    assert speeds[0] == pytest.approx(0.1, rel=1e-5)  # 2 m/s^2 * 0.05 s
    assert np.all(np.diff(speeds) <= 0.1 + 1e-6)
    assert speeds[-1] == pytest.approx(0.4, rel=1e-5)


def test_acceleration_cap_also_limits_sudden_reversal():
    g = guard(max_speed=1.0, max_accel=2.0)
    for _ in range(10):
        act(g, [0.02, 0, 0, 0, 0, 0, 0])
    out, st = act(g, [-0.02, 0, 0, 0, 0, 0, 0])
    assert out[0] / DT == pytest.approx(0.3, rel=1e-5)
    assert "acceleration" in st.reason


def test_gripper_rate_limit():
    g = guard(gripper_rate=4.0)
    out, _ = act(g, [0, 0, 0, 0, 0, 0, 0.0])
    out, st = act(g, [0, 0, 0, 0, 0, 0, 1.0])
    assert out[6] == pytest.approx(0.2)  # 4 /s * 0.05 s
    assert "gripper rate" in st.reason
    for _ in range(5):
        out, _ = act(g, [0, 0, 0, 0, 0, 0, 1.0])
    assert out[6] == pytest.approx(1.0)


def test_watchdog_holds_when_device_is_silent():
    g = guard(watchdog_s=0.25)
    out, st = act(g, [0.01, 0, 0, 0, 0, 0, 0], now=NOW, last=NOW - 300_000_000)
    assert st.hold and not st.estop
    assert "watchdog" in st.reason and "0.30 s" in st.reason
    assert np.all(out[:6] == 0)
    _, st = act(g, [0.01, 0, 0, 0, 0, 0, 0], now=NOW, last=NOW - 200_000_000)
    assert not st.hold


def test_disconnected_device_holds_and_keeps_gripper():
    g = guard(gripper_rate=100.0)
    act(g, [0, 0, 0, 0, 0, 0, 1.0])
    out, st = act(g, [0.01, 0, 0, 0, 0, 0, 0.0], connected=False)
    assert st.hold and "disconnected" in st.reason
    assert np.all(out[:6] == 0) and out[6] == 1.0  # never drop the object on a device glitch


def test_estop_latches_until_release_and_repeated_estop_keeps_it():
    g = guard()
    g.handle_events([Event.ESTOP])
    for _ in range(3):
        out, st = act(g, [0.01, 0, 0, 0, 0, 0, 0])
        assert st.hold and st.estop and np.all(out[:6] == 0)
    g.handle_events([Event.ESTOP, Event.START])
    assert act(g, [0.01, 0, 0, 0, 0, 0, 0])[1].estop
    g.handle_events([Event.ESTOP_RELEASE])
    out, st = act(g, [0.001, 0, 0, 0, 0, 0, 0])
    assert not st.hold and not st.estop and out[0] == pytest.approx(0.001)


def test_estop_has_priority_over_disconnect_in_the_reason():
    g = guard()
    g.handle_events([Event.ESTOP])
    _, st = act(g, [0, 0, 0, 0, 0, 0, 0], connected=False)
    assert st.estop and "E-STOP" in st.reason


def test_motion_resumes_from_rest_after_a_hold():
    g = guard(max_speed=1.0, max_accel=2.0)
    for _ in range(10):
        act(g, [0.02, 0, 0, 0, 0, 0, 0])
    act(g, [0.02, 0, 0, 0, 0, 0, 0], connected=False)
    out, _ = act(g, [0.02, 0, 0, 0, 0, 0, 0])
    assert out[0] / DT == pytest.approx(0.1, rel=1e-5)


def test_non_finite_action_is_held_not_sent():
    g = guard()
    out, st = act(g, [np.nan, 0, 0, 0, 0, 0, 0])
    assert st.hold and "non-finite" in st.reason and np.all(np.isfinite(out))


def test_filter_is_idempotent_on_its_own_output():
    """Replaying recorded (already filtered) actions through a fresh guard changes nothing."""
    rng = np.random.default_rng(0)
    raw = rng.uniform(-0.05, 0.05, size=(40, 7)).astype(np.float32)
    raw[:, 6] = rng.uniform(0, 1, size=40)
    g1, g2 = guard(), guard()
    first = [act(g1, a)[0] for a in raw]
    second = [act(g2, a)[0] for a in first]
    assert np.allclose(np.array(first), np.array(second), atol=1e-6)


def test_bad_config_is_refused():
    with pytest.raises(SafetyError, match="below"):
        SafetyConfig(workspace_min=(0, 0, 0), workspace_max=(1, -1, 1))
    with pytest.raises(SafetyError, match="positive"):
        SafetyConfig(watchdog_s=0)


def test_conservative_preset_is_slower_and_accepts_overrides():
    c = SafetyConfig.conservative(watchdog_s=0.1)
    d = SafetyConfig()
    assert c.max_speed < d.max_speed and c.max_accel < d.max_accel and c.twist_speed < d.twist_speed
    assert c.watchdog_s == 0.1


def test_human_full_stick_is_not_clamped_by_default_caps_after_ramp():
    g = SafetyGuard()
    cmd = Command(twist=np.ones(6, np.float32), gripper=0.0)
    for _ in range(5):
        out, st = act(g, g.command_to_action(cmd, CENTER, DT))
    assert not st.clamped
    assert out[:3] == pytest.approx([0.25 * DT] * 3)


def _quat_mul(a, b):
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def test_rotation_cannot_swing_a_tool_point_out_of_the_box():
    """A held rotation about the EE swings a 0.15 m tool; the guard stops it at the floor (z min)."""
    tool = (0.0, 0.0, 0.15)
    for cfg in (SafetyConfig(tool_points=((0, 0, 0), tool)), SafetyConfig.conservative(tool_points=((0, 0, 0), tool))):
        g = SafetyGuard(cfg)
        ee, quat = np.array([0.5, 0.0, 0.1]), np.array([1.0, 0, 0, 0])
        lowest, limited = 1.0, False
        for _ in range(200):  # 10 s of full-speed rotation about x
            out, st = g.filter(np.array([0, 0, 0, 1.0, 0, 0, 0], np.float32), ee, NOW, NOW, True, DT, ee_quat=quat)
            limited |= "tool" in st.reason
            r = out[3:6].astype(float)
            ang = np.linalg.norm(r)
            if ang > 0:
                quat = _quat_mul(np.r_[np.cos(ang / 2), np.sin(ang / 2) * r / ang], quat)
            ee = ee + out[:3]
            w, x, y, z = quat
            tip_z = ee[2] + 0.15 * (1 - 2 * (x * x + y * y))
            lowest = min(lowest, tip_z)
        assert limited and lowest >= cfg.workspace_min[2] - 1e-6, lowest


def test_for_robot_uses_declared_limits_else_conservative():
    from teleforge.robots.types import SafetyLimits

    class Declared:
        embodiment = "arm_x"
        safety_limits = SafetyLimits((0.1, -0.2, 0.05), (0.4, 0.2, 0.5), 0.3, 0.8, ((0, 0, 0), (0, 0, -0.1)), "arm_x spec")

    class Silent:
        embodiment = "tcp_arm"

    c = SafetyConfig.for_robot(Declared())
    assert c.workspace_min == (0.1, -0.2, 0.05) and c.max_speed == 0.3 and len(c.tool_points) == 2
    assert "arm_x spec" in c.describe()
    s = SafetyConfig.for_robot(Silent())
    assert s.max_speed == SafetyConfig.conservative().max_speed and "declares no limits" in s.describe()
