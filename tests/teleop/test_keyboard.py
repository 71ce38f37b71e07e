"""Keyboard: synthetic pygame events under the dummy video driver -> commands and events."""

from __future__ import annotations

import threading

import numpy as np
import pygame
import pytest

from teleforge.errors import DeviceError
from teleforge.teleop.command import Event
from teleforge.teleop.devices.keyboard import KEY_HELP, KeyboardConfig, KeyboardDevice, held_keys


@pytest.fixture
def kb():
    dev = KeyboardDevice(KeyboardConfig(standalone=True))
    dev.open()
    pygame.event.clear()
    yield dev
    dev.close()


def press(key: int, mod: int = 0) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod))


def release(key: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key, mod=0))


@pytest.mark.parametrize(
    "key, axis, sign",
    [
        (pygame.K_w, 0, 1), (pygame.K_s, 0, -1), (pygame.K_a, 1, 1), (pygame.K_d, 1, -1),
        (pygame.K_r, 2, 1), (pygame.K_f, 2, -1), (pygame.K_RIGHT, 3, 1), (pygame.K_LEFT, 3, -1),
        (pygame.K_DOWN, 4, 1), (pygame.K_UP, 4, -1), (pygame.K_q, 5, 1), (pygame.K_e, 5, -1),
    ],
)
def test_motion_key_drives_its_axis_while_held(kb, key, axis, sign):
    press(key)
    cmd = kb.read()
    expect = np.zeros(6)
    expect[axis] = sign
    assert cmd.twist == pytest.approx(expect)
    release(key)
    assert np.all(kb.read().twist == 0)


def test_opposite_keys_cancel_and_different_axes_combine(kb):
    press(pygame.K_w)
    press(pygame.K_s)
    press(pygame.K_r)
    assert kb.read().twist == pytest.approx([0, 0, 1, 0, 0, 0])


@pytest.mark.parametrize(
    "key, event",
    [
        (pygame.K_RETURN, Event.START), (pygame.K_BACKSPACE, Event.SAVE_FAILURE),
        (pygame.K_DELETE, Event.DISCARD), (pygame.K_x, Event.DISCARD),
        (pygame.K_HOME, Event.RESET), (pygame.K_z, Event.RESET), (pygame.K_ESCAPE, Event.ESTOP),
    ],
)
def test_event_keys_emit_their_event_once(kb, key, event):
    press(key)
    assert kb.read().events == [event]
    assert kb.read().events == []


def test_escape_latches_and_only_shift_escape_releases(kb):
    press(pygame.K_ESCAPE)
    press(pygame.K_ESCAPE)
    press(pygame.K_ESCAPE, pygame.KMOD_LSHIFT)
    assert kb.read().events == [Event.ESTOP, Event.ESTOP, Event.ESTOP_RELEASE]


def test_space_toggles_gripper_closed_then_open(kb):
    assert kb.read().gripper == 0.0
    press(pygame.K_SPACE)
    assert kb.read().gripper == 1.0
    press(pygame.K_SPACE)
    assert kb.read().gripper == 0.0


def test_tab_toggles_fine_mode_scaling(kb):
    press(pygame.K_TAB)
    press(pygame.K_w)
    assert kb.read().twist[0] == pytest.approx(0.25)
    assert kb.fine


def test_focus_loss_drops_held_keys(kb):
    press(pygame.K_w)
    assert kb.read().twist[0] == 1
    pygame.event.post(pygame.event.Event(pygame.WINDOWFOCUSLOST))
    assert np.all(kb.read().twist == 0)


def test_window_close_emits_quit(kb):
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    assert kb.read().events == [Event.QUIT]


def test_set_pressed_is_authoritative_for_held_keys():
    dev = KeyboardDevice()
    dev.open()
    dev.set_pressed(held_keys(["w", "a"]))
    cmd = dev.read()
    assert cmd.twist == pytest.approx([1, 1, 0, 0, 0, 0])
    assert cmd.t_ns > 0  # feeding refreshes the watchdog timestamp
    dev.set_pressed(set())  # a key released while another window had focus
    assert np.all(dev.read().twist == 0)


def test_set_pressed_accepts_a_get_pressed_style_sequence():
    dev = KeyboardDevice()
    dev.open()

    class Pressed:
        def __getitem__(self, code):
            return code == pygame.K_f

    dev.set_pressed(Pressed())
    assert dev.read().twist == pytest.approx([0, 0, -1, 0, 0, 0])


def test_read_is_safe_while_another_thread_feeds():
    dev = KeyboardDevice()
    dev.open()
    stop = threading.Event()

    def feeder():
        ev = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, mod=0)
        for _ in range(2000):
            dev.handle_event(ev)
        stop.set()

    t = threading.Thread(target=feeder)
    t.start()
    n = 0
    while not stop.is_set():
        n += len(dev.read().events)
    t.join()
    n += len(dev.read().events)
    assert n == 2000  # no event lost or duplicated


def test_custom_event_keys_and_bad_action_is_refused():
    dev = KeyboardDevice(KeyboardConfig(event_keys={"p": "estop_release"}))
    dev.open()
    dev.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_p, mod=0))
    assert dev.read().events == [Event.ESTOP_RELEASE]
    with pytest.raises(DeviceError, match="unknown button action"):
        KeyboardConfig(event_keys={"p": "fly"})


def test_key_help_covers_every_documented_control():
    keys = " ".join(k for k, _ in KEY_HELP)
    for label in ("W", "SPACE", "ENTER", "BACKSPACE", "ESC", "SHIFT+ESC", "HOME", "TAB"):
        assert label in keys
