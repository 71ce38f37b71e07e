"""Teleop latency: device event -> command at the arm, locally and through the robot server.

A device thread produces input events at random moments (like a gamepad's HID thread
publishing its newest report); the collection session reads the device each tick, runs
the safety guard and commands the arm. A thin wrapper around the robot stamps when the
command reaches it:

- ``local``: the embedded sim, ``act()`` entry;
- ``server``: the sim served by ``teleforge serve-robot`` in another process on loopback;
  the command is at the arm before the reply comes back, so ``act()`` return is an upper
  bound. The robot server round trip (act RTT) is reported beside it: the issue's target
  is p99 < 5 ms at 50 Hz.

Figures: event -> arm (includes waiting for the next tick: up to one period), tick -> arm
(the loop's own processing), p50/p99 in ms, and the 1-minute load average (on a loaded
machine the tails measure the scheduler; repeat with --repeats).

    python benchmarks/teleop_latency.py --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time

import numpy as np

from teleforge.teleop.command import Command


class EventDevice:
    """An autonomous device whose events arrive on its own thread at random moments."""

    autonomous = True
    name = "events"

    def __init__(self, rate_hz: float = 120.0) -> None:
        self.rate_hz = rate_hz
        self._lock = threading.Lock()
        self._event_ns = 0
        self._stop = threading.Event()
        self.last_read_event_ns = 0
        self.k = 0

    def open(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="event-device").start()

    def close(self) -> None:
        self._stop.set()

    def connected(self) -> bool:
        return True

    def _run(self) -> None:
        rng = random.Random(0)
        while not self._stop.wait(rng.expovariate(self.rate_hz)):
            with self._lock:
                self._event_ns = time.monotonic_ns()

    def read(self) -> Command:
        with self._lock:
            ev = self._event_ns
        self.last_read_event_ns = ev
        self.k += 1
        a = np.array([0.0005 * np.sin(self.k / 25), 0, 0, 0, 0, 0, 0], np.float32)
        return Command(t_ns=ev, native_action=a)


class StampingRobot:
    """Forwards everything to ``robot``; records event->arm and tick->arm at each act()."""

    def __init__(self, robot, device: EventDevice, at_return: bool) -> None:
        self._robot = robot
        self._device = device
        self._at_return = at_return
        self.event_to_arm_ns: list[int] = []
        self.read_ns = 0

    def __getattr__(self, name):
        return getattr(self._robot, name)

    def observe(self):
        self.read_ns = time.monotonic_ns()  # the session observes right before reading the device
        return self._robot.observe()

    def act(self, action):
        t = time.monotonic_ns()
        res = self._robot.act(action)
        if self._at_return:
            t = time.monotonic_ns()
        ev = self._device.last_read_event_ns
        if ev:
            self.event_to_arm_ns.append(t - ev)
        return res


class NullRecorder:
    """Drops every step: this benchmark measures the command path, not the disk."""

    def start_episode(self, start) -> None: ...

    def submit(self, rec) -> None: ...

    def finish(self, end):
        from types import SimpleNamespace

        return SimpleNamespace(episode_id=0, file="")

    def discard(self) -> None: ...

    def status(self):
        from types import SimpleNamespace

        return SimpleNamespace(queue_depth=0, behind=False)


def _pct(xs: list[int]) -> dict[str, float]:
    a = np.asarray(xs, dtype=np.float64) / 1e6
    if not len(a):
        return {}
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3),
            "max_ms": round(float(a.max()), 3), "n": int(len(a))}


def run(kind: str, hz: float, seconds: float) -> dict:
    from teleforge.robots.sim_robot import SimRobot
    from teleforge.teleop.safety import SafetyConfig, SafetyGuard
    from teleforge.teleop.session import CollectionSession, SessionConfig

    device = EventDevice()
    server = None
    if kind == "local":
        robot = SimRobot(control_hz=hz)
    else:
        from teleforge.robots.remote import RemoteRobot
        from teleforge.robots.remote.bench import spawn_sim_server

        server = spawn_sim_server(hz=hz)
        robot = RemoteRobot(server.address, timeout_s=5.0)
    stamped = StampingRobot(robot, device, at_return=(kind != "local"))
    load = os.getloadavg()[0]
    device.open()
    try:
        session = CollectionSession(stamped, device, SafetyGuard(SafetyConfig()), NullRecorder(), None,
                                    SessionConfig(task="pick_cube", episodes=1, hz=hz, time_limit_s=seconds))
        res = session.run()
    finally:
        device.close()
        rtt = robot.latency("act") if kind != "local" else None
        if kind != "local":
            robot.close()
        if server is not None:
            server.stop()
    loop = res.episodes[0].loop
    out = {"path": kind, "hz": hz, "seconds": seconds, "event_to_arm": _pct(stamped.event_to_arm_ns),
           "missed_deadlines": loop.get("missed_deadlines"),
           "control_work_p50_ms": round(loop.get("work_p50_ms", float("nan")), 3),
           "control_work_p99_ms": round(loop.get("work_p99_ms", float("nan")), 3),
           "loadavg_1m": [round(load, 2), round(os.getloadavg()[0], 2)]}
    if rtt is not None:
        out["server_act_rtt_p50_ms"] = round(rtt.p50_ms, 3)
        out["server_act_rtt_p99_ms"] = round(rtt.p99_ms, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--hz", type=float, default=50.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--only", choices=("local", "server"), default=None)
    args = ap.parse_args()
    kinds = [args.only] if args.only else ["local", "server"]
    runs = [run(k, args.hz, args.seconds) for _ in range(args.repeats) for k in kinds]
    print(json.dumps({"benchmark": "teleop_latency", "runs": runs, "cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    main()
