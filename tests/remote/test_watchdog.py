"""The server's own watchdog: a client that goes quiet leaves the arm holding."""

from __future__ import annotations

import numpy as np
import pytest

from teleforge.errors import RobotNotConnectedError

from .conftest import wait_until


def _move(remote, n=10):
    for _ in range(n):
        remote.act(np.array([0.02, 0.0, -0.01, 0, 0, 0, 0], np.float32))


def test_quiet_client_makes_the_server_hold_and_the_reply_says_so(serve, clients):
    srv = serve(watchdog_s=0.1)
    sim = srv.robot
    remote = clients(srv.address)
    remote.connect()
    remote.reset("pick_cube", 0)
    _move(remote)
    assert not remote.watchdog_tripped
    holds_before = sim.holds
    # the client stops sending; the server alone keeps commanding hold every period
    assert wait_until(lambda: srv.stats.watchdog_holds >= 5)
    assert sim.holds >= holds_before + 5 and srv.watchdog_holding
    pos_a = remote.observe().ee_pos
    assert remote.watchdog_tripped and remote.watchdog_trips == 1
    assert wait_until(lambda: srv.stats.watchdog_holds >= 15)
    pos_b = remote.observe().ee_pos
    assert np.linalg.norm(pos_b - pos_a) < 2e-3  # the arm stays put while held
    # a fresh command takes the arm back; the watchdog stands down
    remote.act(np.zeros(7, np.float32))
    assert not srv.watchdog_holding
    remote.observe()
    assert not remote.watchdog_tripped and remote.watchdog_trips == 1


def test_watchdog_stays_off_until_the_arm_is_commanded(serve, clients):
    srv = serve(watchdog_s=0.05)
    remote = clients(srv.address)
    remote.connect()
    remote.reset("pick_cube", 0)
    state0 = remote.get_sim_state()
    # a freshly reset scene is at rest: nothing to guard, and the sim must not advance
    assert not wait_until(lambda: srv.stats.watchdog_holds > 0, timeout_s=0.5)
    assert np.array_equal(remote.get_sim_state(), state0)
    assert srv.robot.holds == 0


def test_reset_disarms_and_a_new_command_rearms(serve, clients):
    srv = serve(watchdog_s=0.05)
    remote = clients(srv.address)
    remote.connect()
    _move(remote, 2)
    assert wait_until(lambda: srv.stats.watchdog_trips == 1)
    remote.reset("pick_cube", 1)
    holds = srv.stats.watchdog_holds
    assert not wait_until(lambda: srv.stats.watchdog_holds > holds + 1, timeout_s=0.4)
    _move(remote, 1)
    assert wait_until(lambda: srv.stats.watchdog_trips == 2)


def test_client_hold_commands_keep_the_watchdog_quiet(serve, clients):
    srv = serve(watchdog_s=0.5)
    remote = clients(srv.address)
    remote.connect()
    _move(remote, 1)
    for _ in range(20):  # an operator in standby: the session sends hold every tick
        remote.hold()
    assert srv.stats.watchdog_trips == 0 and srv.robot.holds == 20


def test_disconnect_of_a_moving_client_holds_the_arm(serve, clients):
    srv = serve(watchdog_s=30.0)
    remote = clients(srv.address)
    remote.connect()
    _move(remote, 3)
    remote.disconnect()
    assert srv.robot.holds == 1 and srv.robot.acts == 3


def test_stopping_the_server_holds_and_disconnects_the_robot(serve, clients):
    srv = serve(watchdog_s=30.0)
    remote = clients(srv.address)
    remote.connect()
    _move(remote, 3)
    srv.stop()
    assert srv.robot.holds == 1
    with pytest.raises(RobotNotConnectedError):
        srv.robot.observe()
