"""Control latency of a served sim while unauthenticated peers flood it with bulk messages.

Starts a sim ``RobotServer`` (token required, its default 0.25 s watchdog, 50 Hz
sim) in a child process on 127.0.0.1 and drives it with one ``RemoteRobot`` at a
paced 50 Hz. What is timed: the wall time of each ``robot.act(action)`` call in
the client, i.e. client-side pack + send + server-side receive, token check,
unpack, argument validation, ``SimRobot.act`` (IK + one physics period) and
reply + client-side receive and unpack -- the control loop's round trip. Also
reported: the longest gap between two act() starts in the client (if it exceeds
the watchdog while round trips stay short, the client was starved, not the
server). Three
phases of ``--seconds`` each, one after the other:

- ``idle``: nothing else talks to the server;
- ``flood``: ``--connections`` (4) peers in child processes each send
  ``--flood-bytes`` (50 MB) messages with a wrong token as fast as the server
  takes them, reconnecting every 10 ms when dropped;
- ``flood_under_limit``: the same peers send messages just under the server's
  per-frame limit (``MAX_REQUEST_BYTES``), which do reach the request loop and
  are refused at the token frame.

Prints one JSON line: p50/p99/max act round trip (ms) per phase, the number of
acts, the flood messages the peers got onto the wire, and the watchdog trips the
server reported per phase. Loopback only; about 25 s with the defaults.

    python benchmarks/remote_flood.py
    python benchmarks/remote_flood.py --seconds 3 --flood-bytes 20000000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

TOKEN = "bench-token"


def _flood_worker(address: str, size: int) -> None:
    """One flooding peer: wrong token, ``size``-byte body, as fast as the socket accepts; prints its count at SIGTERM."""
    import zmq

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    blob = b"\xa5" * size
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 2)
    s.setsockopt(zmq.RECONNECT_IVL, 10)
    s.connect(address)
    sent = 0
    print("ready", flush=True)
    while not stop:
        try:
            s.send_multipart([b"", b"not-the-token", blob], flags=zmq.NOBLOCK, copy=False)
            sent += 1
        except zmq.Again:
            time.sleep(0.0005)
        while s.poll(0):  # refusals, if any come back, are read and dropped
            s.recv_multipart()
    s.close(linger=0)
    ctx.term()
    print(json.dumps({"sent": sent}), flush=True)


def _start_flood(address: str, n: int, size: int) -> list[subprocess.Popen]:
    procs = [
        subprocess.Popen([sys.executable, __file__, "--flood-worker", address, "--flood-bytes", str(size)],
                         stdout=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    for p in procs:
        p.stdout.readline()  # "ready"
    return procs


def _stop_flood(procs: list[subprocess.Popen]) -> int:
    sent = 0
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        out, _ = p.communicate(timeout=30)
        for line in out.splitlines():
            if line.startswith("{"):
                sent += json.loads(line)["sent"]
    return sent


def _drive(robot, seconds: float, hz: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Paced acts for ``seconds``; returns act round trips (ms), act start times (ms) and the watchdog trips meanwhile."""
    a = np.zeros(7, np.float32)
    robot.act(a)  # its reply counts trips from the pause between phases (the watchdog rightly holds then)
    trips0 = robot.watchdog_trips
    period = 1.0 / hz
    rtt, starts = [], []
    t_next = time.perf_counter()
    t_end = t_next + seconds
    i = 0
    while time.perf_counter() < t_end:
        a[0] = 0.005 * np.sin(i / 20)  # keeps the arm moving, so the watchdog guards it
        t0 = time.perf_counter_ns()
        starts.append(t0)
        robot.act(a)
        rtt.append(time.perf_counter_ns() - t0)
        i += 1
        t_next += period
        time.sleep(max(0.0, t_next - time.perf_counter()))
    robot.observe()  # the reply reports trips up to now
    return np.asarray(rtt, dtype=np.float64) / 1e6, np.asarray(starts, dtype=np.float64) / 1e6, robot.watchdog_trips - trips0


def _summary(name: str, ms: np.ndarray, starts: np.ndarray, trips: int) -> dict[str, float]:
    return {
        f"act_rtt_p50_ms_{name}": round(float(np.percentile(ms, 50)), 3),
        f"act_rtt_p99_ms_{name}": round(float(np.percentile(ms, 99)), 3),
        f"act_rtt_max_ms_{name}": round(float(ms.max()), 3),
        f"acts_{name}": int(ms.size),
        f"watchdog_trips_{name}": int(trips),
        # the longest the client went between two act() starts: a trip with short round trips
        # but a gap over the watchdog means the client itself was not scheduled (a loaded box)
        f"act_gap_max_ms_{name}": round(float(np.diff(starts).max()), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each phase")
    ap.add_argument("--hz", type=float, default=50.0)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--flood-bytes", type=int, default=50_000_000)
    ap.add_argument("--watchdog", type=float, default=0.25)
    ap.add_argument("--flood-worker", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.flood_worker:
        _flood_worker(args.flood_worker, args.flood_bytes)
        return

    from teleforge.robots.remote import RemoteRobot, protocol
    from teleforge.robots.remote.bench import spawn_sim_server

    out: dict[str, object] = {
        "benchmark": "remote_flood", "hz": args.hz, "seconds_per_phase": args.seconds,
        "flood_connections": args.connections, "flood_bytes": args.flood_bytes,
        "under_limit_bytes": protocol.MAX_REQUEST_BYTES - 4096, "server_watchdog_s": args.watchdog,
    }
    with spawn_sim_server(hz=args.hz, watchdog_s=args.watchdog, token=TOKEN) as server:
        robot = RemoteRobot(server.address, token=TOKEN, timeout_s=5.0)
        robot.connect()
        robot.reset("pick_cube", 0)
        for _ in range(20):  # warm up both sides
            robot.act(np.zeros(7, np.float32))
        out.update(_summary("idle", *_drive(robot, args.seconds, args.hz)))
        for name, size in (("flood", args.flood_bytes), ("flood_under_limit", protocol.MAX_REQUEST_BYTES - 4096)):
            procs = _start_flood(server.address, args.connections, size)
            try:
                out.update(_summary(name, *_drive(robot, args.seconds, args.hz)))
            finally:
                out[f"flood_messages_sent_{name}"] = _stop_flood(procs)
        robot.close()
        server.stop()
        out["server_requests"] = server.stats.get("requests")
        out["server_watchdog_trips"] = server.stats.get("watchdog_trips")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
