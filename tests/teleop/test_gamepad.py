"""Gamepad: layouts, deadzone, stick mapping, trigger gripper, button edges, unplug (fake joystick)."""

from __future__ import annotations

import numpy as np
import pygame
import pytest

from teleforge.errors import DeviceError, DeviceNotFoundError
from teleforge.teleop.command import Event
from teleforge.teleop.devices.gamepad import LAYOUTS, GamepadConfig, GamepadDevice, detect_layout

from .fake_joystick import FakeBackend, FakeJoystick

XBOX = "Xbox 360 Controller"
PS5 = "DualSense Wireless Controller"


def owner_fed(joy: FakeJoystick, **cfg) -> GamepadDevice:
    dev = GamepadDevice(GamepadConfig(feed="owner", **cfg), backend=FakeBackend(joy))
    dev.open()
    return dev


def xbox() -> FakeJoystick:
    j = FakeJoystick(XBOX)
    j.axes[2] = j.axes[5] = -1.0  # triggers at rest
    return j


@pytest.mark.parametrize(
    "name, platform, layout",
    [
        ("Xbox 360 Controller", "linux", "xbox"), ("Microsoft X-Box One pad", "linux", "xbox"),
        ("XInput Controller #1", "win32", "xbox_windows"), ("Sony Interactive Entertainment Wireless Controller", "linux", "playstation"),
        ("DualSense Wireless Controller", "linux", "playstation"), ("PS4 Controller", "darwin", "playstation"),
        ("Logitech Dual Action", "linux", "generic"),
    ],
)
def test_layout_is_detected_from_the_pad_name(name, platform, layout):
    assert detect_layout(name, platform).name == layout


def test_left_stick_up_is_plus_x_and_left_is_plus_y():
    j = xbox()
    dev = owner_fed(j)
    j.axes[1] = -1.0  # up
    j.axes[0] = -1.0  # left
    dev.update()
    assert dev.read().twist == pytest.approx([1, 1, 0, 0, 0, 0])


def test_right_stick_and_dpad_drive_z_yaw_pitch_roll():
    j = xbox()
    dev = owner_fed(j)
    j.axes[4] = -1.0  # right stick up -> +z
    j.axes[3] = 1.0  # right stick right -> yaw right (-wz)
    j.hats[0] = (1, 1)  # d-pad up-right -> +wx, -wy
    dev.update()
    assert dev.read().twist == pytest.approx([0, 0, 1, 1, -1, -1])


def test_deadzone_zeroes_drift_and_rescales_beyond_it():
    j = xbox()
    dev = owner_fed(j, deadzone=0.2)
    j.axes[1] = -0.15  # resting drift
    dev.update()
    assert np.all(dev.read().twist == 0)
    j.axes[1] = -0.6
    dev.update()
    assert dev.read().twist[0] == pytest.approx((0.6 - 0.2) / 0.8)


def test_playstation_layout_reads_its_own_indices():
    j = FakeJoystick(PS5, n_buttons=13)
    j.axes[2] = j.axes[5] = -1.0
    dev = owner_fed(j)
    j.buttons[9] = 1  # OPTIONS -> start
    j.buttons[1] = 1  # circle -> e-stop
    j.axes[4] = 1.0  # right stick down -> -z
    dev.update()
    cmd = dev.read()
    assert dev.layout.name == "playstation"
    assert set(cmd.events) == {Event.START, Event.ESTOP}
    assert cmd.twist[2] == pytest.approx(-1)


def test_buttons_fire_once_per_press():
    j = xbox()
    dev = owner_fed(j)
    j.buttons[7] = 1  # START
    dev.update()
    dev.update()  # still held: no repeat
    assert dev.read().events == [Event.START]
    j.buttons[7] = 0
    dev.update()
    j.buttons[7] = 1
    dev.update()
    assert dev.read().events == [Event.START]


def test_default_buttons_cover_episode_controls_and_estop():
    j = xbox()
    dev = owner_fed(j)
    for idx in (6, 2, 3, 1, 8):  # back, x, y, b, guide
        j.buttons[idx] = 1
        dev.update()
        j.buttons[idx] = 0
        dev.update()
    assert dev.read().events == [Event.SAVE_FAILURE, Event.DISCARD, Event.RESET, Event.ESTOP, Event.ESTOP_RELEASE]


def test_right_trigger_closes_gripper_proportionally_and_a_latches():
    j = xbox()
    dev = owner_fed(j)
    dev.update()
    assert dev.read().gripper == 0.0
    j.axes[5] = 0.0  # half pulled
    dev.update()
    assert dev.read().gripper == pytest.approx(0.5)
    j.axes[5] = -1.0
    j.buttons[0] = 1  # A toggles closed
    dev.update()
    assert dev.read().gripper == 1.0


def test_trigger_reading_zero_before_first_touch_does_not_half_close_gripper():
    j = FakeJoystick(XBOX)  # SDL reports 0.0 on untouched triggers
    dev = owner_fed(j)
    dev.update()
    assert dev.read().gripper == 0.0


def test_generic_pad_without_triggers_uses_toggle():
    j = FakeJoystick("Logitech Dual Action", n_axes=4, n_buttons=12)
    dev = owner_fed(j)
    j.buttons[0] = 1
    dev.update()
    assert dev.read().gripper == 1.0


def test_holding_lb_scales_motion_for_fine_control():
    j = xbox()
    dev = owner_fed(j, fine_scale=0.25)
    j.axes[1] = -1.0
    j.buttons[4] = 1
    dev.update()
    assert dev.read().twist[0] == pytest.approx(0.25)


def test_custom_twist_sources_and_buttons():
    j = xbox()
    dev = owner_fed(j, twist_sources=(("lx", 1.0),) + (("none", 1.0),) * 5, buttons={"rb": "quit"})
    j.axes[0] = 1.0
    j.buttons[5] = 1
    dev.update()
    cmd = dev.read()
    assert cmd.twist == pytest.approx([1, 0, 0, 0, 0, 0])
    assert cmd.events == [Event.QUIT]


def test_invalid_config_is_refused_with_valid_choices():
    with pytest.raises(DeviceError, match="layout"):
        GamepadConfig(layout="n64")
    with pytest.raises(DeviceError, match="twist source"):
        GamepadConfig(twist_sources=(("lz", 1.0),) * 6)
    with pytest.raises(DeviceError, match="does not exist on the generic layout"):
        owner_fed(FakeJoystick("Some pad", n_axes=4), buttons={"guide": "estop"})


def test_no_pad_raises_not_found():
    with pytest.raises(DeviceNotFoundError, match="--device keyboard"):
        GamepadDevice(GamepadConfig(feed="owner"), backend=FakeBackend()).open()


def test_unplug_disconnects_zeroes_twist_and_replug_recovers():
    j = xbox()
    dev = owner_fed(j, reconnect_interval_s=0.0)
    j.axes[1] = -1.0
    dev.update()
    assert dev.read().twist[0] == 1
    j.gone = True
    dev.update()
    assert not dev.connected()
    assert np.all(dev.read().twist == 0)
    j.gone = False
    dev.update()  # reconnects
    dev.update()  # samples
    assert dev.connected()
    assert dev.read().twist[0] == 1


def test_removed_event_from_owner_loop_disconnects():
    j = xbox()
    dev = owner_fed(j)
    dev.handle_event(pygame.event.Event(pygame.JOYDEVICEREMOVED, instance_id=7))
    assert not dev.connected()


def test_thread_mode_polls_without_an_owner():
    j = xbox()
    backend = FakeBackend(j)
    dev = GamepadDevice(GamepadConfig(poll_hz=500), backend=backend)
    dev.open()
    try:
        j.axes[0] = 1.0
        for _ in range(500):
            if dev.read().twist[1] != 0:
                break
            dev._stop.wait(0.005)
        assert dev.read().twist[1] == pytest.approx(-1)
        assert backend.pumps > 0
    finally:
        dev.close()


def test_every_layout_maps_the_default_buttons_it_has():
    for lay in LAYOUTS.values():
        assert {"a", "b", "x", "y", "start", "back"} <= set(lay.buttons)


def test_generic_pad_releases_estop_with_rb():
    j = FakeJoystick("Some pad", n_axes=4, n_buttons=8)
    dev = owner_fed(j)
    j.buttons[5] = 1
    dev.update()
    assert dev.read().events == [Event.ESTOP_RELEASE]


def test_headless_pump_takes_only_joystick_events():
    """Without a window the poller pumps SDL itself, but must not eat events meant for a later window."""
    from teleforge.teleop.devices.gamepad import PygameJoysticks

    if pygame.display.get_surface() is not None:  # another test left a window: start without one
        pygame.display.quit()
    backend = PygameJoysticks(pump=True)
    pygame.event.clear()
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_w, mod=0))
    pygame.event.post(pygame.event.Event(pygame.JOYBUTTONDOWN, joy=0, instance_id=0, button=0))
    backend.pump()
    left = pygame.event.get()
    assert [e.type for e in left] == [pygame.KEYDOWN]
