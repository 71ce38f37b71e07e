"""`teleforge serve-robot`: refuses unsafe binds, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import numpy as np
import typer
from typer.testing import CliRunner

from teleforge.cli.serve import serve_cmd
from teleforge.robots.remote import RemoteRobot

app = typer.Typer()
app.command()(serve_cmd)
runner = CliRunner()


def test_public_bind_without_token_exits_with_a_one_line_error():
    res = runner.invoke(app, ["--sim", "--bind", "0.0.0.0", "--port", "0"], env={"TELEFORGE_ROBOT_TOKEN": ""})
    assert res.exit_code == 1
    assert "--token" in res.output and "127.0.0.1" in res.output and "Traceback" not in res.output


def test_no_robot_chosen_is_a_clear_error():
    res = runner.invoke(app, ["--port", "0"])
    assert res.exit_code == 1 and "--sim" in res.output


def test_served_sim_answers_a_client_and_sigterm_stops_it_cleanly():
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MUJOCO_GL": "egl"}
    code = "import typer; from teleforge.cli.serve import serve_cmd; typer.run(serve_cmd)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--sim", "--port", "0", "--token", "tok-123", "--hz", "50"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()  # the banner; readline returns "" if the process dies
        m = re.search(r"tcp://127\.0\.0\.1:\d+", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        with RemoteRobot(m.group(0), token="tok-123", timeout_s=10.0) as robot:
            assert robot.control_hz == 50.0
            robot.reset("stack", 2)
            robot.act(np.zeros(7, np.float32))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped:" in out and "1 clients" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
