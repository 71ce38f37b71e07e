"""Round-trip latency of a served sim: ``python -m teleforge.robots.remote.bench``.

Starts a sim ``RobotServer`` in its own process (as in real use), drives it at a
fixed control rate and prints one JSON line: act/observe round trips (p50/p99,
ms) over loopback, and the peer figure measured in the same run -- the sim's
own act() time in this process, i.e. the floor the wire adds to.

``spawn_sim_server`` (the served sim in a child process) is shared with the
flood benchmark and the hostile-input tests, which must see the server process
survive or die on its own. Robots never import the CLI: output is plain JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

_TOKEN_ENV = "TELEFORGE_ROBOT_TOKEN"  # the token travels by environment, never on a command line others can read


@dataclass
class SimServerProcess:
    """A sim robot server in a child process; ``address`` is its ``tcp://127.0.0.1:port``."""

    proc: subprocess.Popen
    address: str
    banner: str = ""
    stats: dict = field(default_factory=dict)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, wait, and read the final stats line; returns the exit code (negative: killed by that signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                out, _ = self.proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate(timeout=timeout_s)
            for line in (out or "").splitlines():
                if line.startswith("{"):
                    self.stats = json.loads(line)
        return int(self.proc.returncode)

    def __enter__(self) -> SimServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn_sim_server(
    hz: float = 50.0, watchdog_s: float = 1.0, token: str | None = None, timeout_s: float = 60.0
) -> SimServerProcess:
    """Start ``RobotServer(SimRobot(control_hz=hz))`` on 127.0.0.1:<free port> in a child process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop(_TOKEN_ENV, None)
    if token:
        env[_TOKEN_ENV] = token
    cmd = [sys.executable, "-m", "teleforge.robots.remote.bench", "--serve", "--hz", str(hz), "--watchdog", str(watchdog_s)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""  # "" once the child died
        m = re.search(r"tcp://127\.0\.0\.1:\d+", line)
        if m:
            return SimServerProcess(proc, m.group(0), line.strip())
        if not line:
            break
    proc.kill()
    proc.wait(timeout=10)
    raise RuntimeError(f"the sim robot server did not start (exit code {proc.returncode}, last line {line!r})")


def _serve(hz: float, watchdog_s: float) -> None:
    """Child side of ``spawn_sim_server``: serve until SIGTERM, then print the server's stats as JSON."""
    from teleforge.robots.remote import RobotServer, serve_until_stopped
    from teleforge.robots.sim_robot import SimRobot

    server = RobotServer(SimRobot(control_hz=hz), port=0, token=os.environ.get(_TOKEN_ENV) or None, watchdog_s=watchdog_s)
    serve_until_stopped(server, ready=lambda: print(f"serving {server.address}", flush=True))
    s = server.stats
    print(json.dumps({"requests": s.requests, "errors": s.errors, "clients": s.clients,
                      "watchdog_trips": s.watchdog_trips, "watchdog_holds": s.watchdog_holds}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hz", type=float, default=50.0, help="control rate of the paced loop")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--watchdog", type=float, default=1.0, help="server watchdog (s)")
    ap.add_argument("--serve", action="store_true", help="only serve the sim (used by spawn_sim_server)")
    args = ap.parse_args()
    if args.serve:
        _serve(args.hz, args.watchdog)
        return

    from teleforge.robots.remote import RemoteRobot
    from teleforge.robots.sim_robot import SimRobot

    with spawn_sim_server(hz=args.hz, watchdog_s=args.watchdog) as server:
        robot = RemoteRobot(server.address, timeout_s=5.0)
        robot.connect()
        robot.reset("pick_cube", 0)
        a = np.zeros(7, np.float32)
        period = 1.0 / args.hz
        t_next = time.perf_counter()
        for i in range(args.steps):
            a[0] = 0.01 * np.sin(i / 20)
            robot.observe()
            robot.act(a)
            t_next += period
            time.sleep(max(0.0, t_next - time.perf_counter()))
        act, obs = robot.latency("act"), robot.latency("observe")
        robot.close()

    sim = SimRobot(control_hz=args.hz)
    sim.connect()
    sim.reset("pick_cube", 0)
    local = []
    for i in range(args.steps):
        t0 = time.perf_counter_ns()
        sim.act(np.zeros(7, np.float32))
        local.append(time.perf_counter_ns() - t0)
    local_ms = np.asarray(local) / 1e6
    print(json.dumps({
        "benchmark": "remote_robot_loopback", "hz": args.hz, "steps": args.steps,
        "act_rtt_p50_ms": round(act.p50_ms, 3), "act_rtt_p99_ms": round(act.p99_ms, 3),
        "observe_rtt_p50_ms": round(obs.p50_ms, 3), "observe_rtt_p99_ms": round(obs.p99_ms, 3),
        "peer_local_sim_act_p50_ms": round(float(np.percentile(local_ms, 50)), 3),
        "peer_local_sim_act_p99_ms": round(float(np.percentile(local_ms, 99)), 3),
        "control_period_ms": round(1e3 / args.hz, 3),
    }))


if __name__ == "__main__":
    main()
