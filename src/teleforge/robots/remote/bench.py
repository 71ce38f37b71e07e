"""Round-trip latency of a served sim: ``python -m teleforge.robots.remote.bench``.

Starts ``teleforge serve-robot --sim`` in its own process (as in real use), drives
it at a fixed control rate and prints one JSON line: act/observe round trips
(p50/p99, ms) over loopback, and the peer figure measured in the same run --
the sim's own act() time in this process, i.e. the floor the wire adds to.
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

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hz", type=float, default=50.0, help="control rate of the paced loop")
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()

    from teleforge.robots.remote import RemoteRobot
    from teleforge.robots.sim_robot import SimRobot

    code = "import typer; from teleforge.cli.serve import serve_cmd; typer.run(serve_cmd)"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code, "--sim", "--port", "0", "--hz", str(args.hz), "--watchdog", "1.0"],
                            env=env, stdout=subprocess.PIPE, text=True)
    try:
        m = re.search(r"tcp://\S+:\d+", proc.stdout.readline())
        if m is None:
            raise SystemExit("the robot server did not start")
        robot = RemoteRobot(m.group(0), timeout_s=5.0)
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
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)

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
