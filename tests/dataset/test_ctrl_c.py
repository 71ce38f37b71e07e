"""Item 14 of issue 11: Ctrl-C during a scripted collect does what it says: the episode in progress is kept as
`unknown` (issue 13: quitting never loses work), no `.partial` is left for `recover` to resurrect."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.dataset.helpers import REPO, child_env

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("after_s", [0.3, 1.5, 4.5])
def test_ctrl_c_leaves_no_partial(tmp_path, after_s):
    root = tmp_path / "ds"
    env = {**child_env(), "MUJOCO_GL": "egl", "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    p = subprocess.Popen([sys.executable, "-m", "teleforge.cli.main", "collect", "--device", "scripted", "--headless",
                          "-d", str(root), "-n", "5", "--image-size", "64", "--cameras", "front"], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not list((root / "episodes").glob("*.partial")) if (root / "episodes").is_dir() else True:
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.05)
        time.sleep(after_s)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert "kept as" in out and "unknown" in out, out[-2000:]
    assert not list((root / "episodes").glob("*.partial")), out[-2000:]
    from teleforge.dataset import Dataset

    eps = Dataset.open(root).episodes
    assert eps and eps[-1].outcome == "unknown", out[-2000:]  # the interrupted one, kept
