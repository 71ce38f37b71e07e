"""`teleforge serve-robot`: serve an arm to collection clients over ZeroMQ. Thin: parse, build, serve."""

from __future__ import annotations

import logging
from typing import Optional

import typer
from rich.console import Console

from teleforge.errors import TeleforgeError
from teleforge.robots.remote import RobotServer, serve_until_stopped

console = Console()
err_console = Console(stderr=True)


def serve_cmd(
    sim: bool = typer.Option(False, "--sim", help="Serve the embedded MuJoCo workcell (the only arm teleforge drives itself today)."),
    bind: str = typer.Option("127.0.0.1", "--bind", help="Address to listen on; anything beyond loopback needs --token."),
    port: int = typer.Option(5555, "--port", help="TCP port (0: any free port, printed at start)."),
    token: Optional[str] = typer.Option(None, "--token", envvar="TELEFORGE_ROBOT_TOKEN", help="Shared secret every client must send (env TELEFORGE_ROBOT_TOKEN)."),
    hz: float = typer.Option(20.0, "--hz", help="Sim control rate: one act() advances the sim by 1/hz seconds."),
    watchdog: float = typer.Option(0.25, "--watchdog", help="Seconds without an act/hold before the server holds the arm itself."),
) -> None:
    """Serve a robot to `RemoteRobot` clients; the server holds the arm when its client goes quiet. Ctrl-C stops it."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    if not sim:
        err_console.print(
            "[bold red]error:[/] no robot chosen: pass --sim to serve the embedded sim "
            "(a vendor arm is served from Python: RobotServer(your_robot).serve_forever())",
            soft_wrap=True, highlight=False,
        )
        raise typer.Exit(code=1)
    try:
        from teleforge.robots.sim_robot import SimRobot  # lazy: mujoco only when a sim is served

        server = RobotServer(SimRobot(control_hz=hz), bind=bind, port=port, token=token, watchdog_s=watchdog)
    except TeleforgeError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=1)
    auth = "token required" if token else "no token (loopback only)"
    console.print(f"serving sim robot at {server.address} ({auth}, watchdog {watchdog * 1e3:.0f} ms); Ctrl-C stops", highlight=False, soft_wrap=True)
    console.print(f"clients: RemoteRobot({server.address!r}{', token=...' if token else ''})", highlight=False, soft_wrap=True)
    serve_until_stopped(server)  # Ctrl-C and SIGTERM alike: hold, disconnect, free the port
    s = server.stats
    console.print(
        f"stopped: {s.requests} requests, {s.errors} errors, {s.clients} clients, watchdog tripped {s.watchdog_trips}x",
        highlight=False, soft_wrap=True,
    )
