"""Loopback by default; a token beyond it; every request checked."""

from __future__ import annotations

import numpy as np
import pytest

from teleforge.errors import AuthError, SafetyError
from teleforge.robots.remote import RobotServer, is_loopback
from teleforge.robots.sim_robot import SimRobot


@pytest.mark.parametrize("bind", ["0.0.0.0", "*", "192.168.1.20", "::", "eth0"])
def test_binding_beyond_loopback_without_a_token_is_refused(bind):
    with pytest.raises(SafetyError, match="--token.*127.0.0.1"):
        RobotServer(SimRobot(), bind=bind, port=0)
    with pytest.raises(SafetyError):
        RobotServer(SimRobot(), bind=bind, port=0, token="")


def test_loopback_addresses_are_recognised():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.5")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("*")


def test_with_a_token_every_request_must_carry_it(serve, clients):
    srv = serve(token="s3cret-token")
    for bad in (None, "wrong", "s3cret-token-and-more"):
        intruder = clients(srv.address, token=bad)
        with pytest.raises(AuthError, match="token"):
            intruder.ping()
        with pytest.raises(AuthError):
            intruder.connect()
    good = clients(srv.address, token="s3cret-token")
    good.connect()
    good.act(np.zeros(7, np.float32))
    assert srv.robot.acts == 1  # no rejected request reached the arm
    # a rejected request never reveals the token
    intruder = clients(srv.address, token="x")
    with pytest.raises(AuthError) as err:
        intruder.observe()
    assert "s3cret" not in str(err.value)
