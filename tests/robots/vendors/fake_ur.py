"""Recorders standing in for ur_rtde's ``RTDEControlInterface`` / ``RTDEReceiveInterface``.

Signatures follow ur_rtde 1.6 (src/rtde_python_bindings.cpp): servoL/servoJ/speedL take
positional arguments only; units are SI with rotation vectors. The fakes check ranges the
way ur_rtde and the controller do and can inject protective stops, e-stops, a dropped link
and slow replies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Call:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class FakeUR:
    """The controller both interfaces talk to."""

    def __init__(self) -> None:
        self.q = np.array([0.0, -1.57, 1.57, -1.57, -1.57, 0.0])
        self.tcp = np.array([0.4, 0.0, 0.3, np.pi, 0.0, 0.0])  # m, rotation vector
        self.connected = True
        self.protective = False
        self.estop = False
        self.program_running = True
        self.reply_delay_s = 0.0
        self.calls: list[Call] = []
        self.control_opened = 0

    def rec(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self.reply_delay_s:
            time.sleep(self.reply_delay_s)
        if not self.connected:
            raise RuntimeError("RTDE is not connected")
        self.calls.append(Call(method, args, kwargs))

    def names(self) -> list[str]:
        return [c.method for c in self.calls]

    def control_factory(self, hostname: str, frequency: float = -1.0, *rest: Any) -> FakeControl:
        assert isinstance(hostname, str) and hostname
        self.control_opened += 1
        return FakeControl(self)

    def receive_factory(self, hostname: str, frequency: float = -1.0, *rest: Any) -> FakeReceive:
        assert isinstance(hostname, str) and hostname
        return FakeReceive(self)


class FakeControl:
    def __init__(self, ur: FakeUR) -> None:
        self.ur = ur

    def _ok(self) -> bool:
        return not (self.ur.protective or self.ur.estop) and self.ur.program_running

    def servoL(self, *args: Any) -> bool:  # noqa: N802 (ur_rtde's names)
        assert len(args) == 6, "servoL(pose, speed, acceleration, time, lookahead_time, gain), positional"
        pose, _speed, _acc, t, lookahead, gain = args
        self.ur.rec("servoL", *args)
        p = np.asarray(pose, float)
        assert p.shape == (6,) and np.linalg.norm(p[:3]) < 1.0, f"pose {p[:3]} m is beyond a UR5e's reach"
        assert np.linalg.norm(p[3:]) <= np.pi + 1e-6, "the orientation must be a rotation vector (rad)"
        assert 0.002 <= t <= 0.1 and 0.03 <= lookahead <= 0.2 and 100 <= gain <= 2000
        if self._ok():
            self.ur.tcp = p.copy()
        return self._ok()

    def servoJ(self, *args: Any) -> bool:  # noqa: N802
        assert len(args) == 6
        self.ur.rec("servoJ", *args)
        q = np.asarray(args[0], float)
        assert q.shape == (6,) and np.all(np.abs(q) <= 2 * np.pi)
        if self._ok():
            self.ur.q = q.copy()
        return self._ok()

    def speedL(self, xd: Any, acceleration: float = 0.25, time: float = 0.0) -> bool:  # noqa: N802
        self.ur.rec("speedL", xd, acceleration, time)
        v = np.asarray(xd, float)
        assert v.shape == (6,) and np.linalg.norm(v[:3]) <= 0.25 + 1e-9, f"speedL {v[:3]} m/s: too fast or a unit mistake"
        return self._ok()

    def servoStop(self, a: float = 10.0) -> bool:  # noqa: N802
        self.ur.rec("servoStop", a=a)
        return True

    def speedStop(self, a: float = 10.0) -> bool:  # noqa: N802
        self.ur.rec("speedStop", a=a)
        return True

    def moveJ(self, q: Any, speed: float = 1.05, acceleration: float = 1.4, asynchronous: bool = False) -> bool:  # noqa: N802
        self.ur.rec("moveJ", q, speed, acceleration, asynchronous)
        assert 0 < speed <= 1.05 and asynchronous is False
        if self._ok():
            self.ur.q = np.asarray(q, float)
        return self._ok()

    def isProgramRunning(self) -> bool:  # noqa: N802
        self.ur.rec("isProgramRunning")
        return self.ur.program_running

    def stopScript(self) -> None:  # noqa: N802
        self.ur.rec("stopScript")

    def disconnect(self) -> None:
        self.ur.rec("control.disconnect")


class FakeReceive:
    def __init__(self, ur: FakeUR) -> None:
        self.ur = ur

    def isConnected(self) -> bool:  # noqa: N802
        return self.ur.connected

    def isEmergencyStopped(self) -> bool:  # noqa: N802
        return self.ur.estop

    def isProtectiveStopped(self) -> bool:  # noqa: N802
        return self.ur.protective

    def getActualQ(self) -> list[float]:  # noqa: N802
        self.ur.rec("getActualQ")
        return list(self.ur.q)

    def getActualQd(self) -> list[float]:  # noqa: N802
        self.ur.rec("getActualQd")
        return [0.0] * 6

    def getActualTCPPose(self) -> list[float]:  # noqa: N802
        self.ur.rec("getActualTCPPose")
        return list(self.ur.tcp)

    def disconnect(self) -> None:
        self.ur.calls.append(Call("receive.disconnect", (), {}))
