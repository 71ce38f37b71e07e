"""A policy (the bundled VLA, or any object with the ``Policy`` protocol) as a collection device.

It reads the arm and the session's cameras itself, queries the policy for a chunk when the
executor runs dry, and hands the session one native action per tick -- so ``teleforge collect
--policy CKPT`` records policy rollouts with the same recorder, and, wrapped in
:class:`teleforge.teleop.takeover.TakeoverDevice`, with human interventions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from teleforge.robots.types import Robot, TaskInfo
from teleforge.teleop.command import Command
from teleforge.train_adapter.closed_loop import ChunkExecutor, check_chunk
from teleforge.train_adapter.frames import resize_frame
from teleforge.train_adapter.policy import Policy, PolicyObs

FrameGetter = Callable[[str], "np.ndarray | None"]
"""camera name -> its newest (H, W, 3) uint8 frame, or None before the first."""


class PolicyDevice:
    """Drives the arm with ``policy``: one ``predict`` per ``execute`` steps (chunking)."""

    autonomous = True
    name = "policy"

    def __init__(self, policy: Policy, robot: Robot, frames: FrameGetter, execute: int | None = None) -> None:
        self.policy = policy
        self.robot = robot
        self.frames = frames
        chunk = int(getattr(policy.info, "chunk", 1) or 1)
        self.execute = max(1, min(int(execute or chunk), chunk))
        self._exec = ChunkExecutor(self.execute, ensemble=False, decay=0.0)
        self._t = 0
        self._instruction = ""
        self.queries = 0

    def open(self) -> None:
        """Nothing to open: the policy is loaded."""

    def close(self) -> None:
        """Nothing to release."""

    def connected(self) -> bool:
        """A policy never unplugs."""
        return True

    def on_reset(self, robot: Robot, info: TaskInfo) -> None:
        """New episode: reset the policy with its instruction and drop any planned actions."""
        self.robot = robot
        self._instruction = info.instruction
        self.policy.reset(info.instruction)
        self.resume()

    def resume(self) -> None:
        """Re-plan from the next observation (after a human intervention)."""
        self._exec = ChunkExecutor(self.execute, ensemble=False, decay=0.0)
        self._t = 0

    def _obs(self) -> PolicyObs:
        size = int(getattr(self.policy.info, "image_size", 0) or 0)
        images: dict[str, np.ndarray] = {}
        for cam in getattr(self.policy.info, "cameras", ()):
            img = self.frames(cam)
            if img is not None:
                images[cam] = resize_frame(img, size) if size else img
        return PolicyObs.from_robot(self.robot.observe(), images, self._instruction)

    def read(self) -> Command:
        """The next native action of the current chunk (querying the policy when it runs out)."""
        if self._exec.needs_query(self._t):
            self._exec.add(self._t, check_chunk(self.policy.predict(self._obs())))
            self.queries += 1
        a = np.asarray(self._exec.action(self._t), np.float32)
        self._t += 1
        return Command(gripper=float(a[-1]), t_ns=time.monotonic_ns(), native_action=a)

    def labels(self) -> dict[str, Any]:
        """The policy's identity, for the episode's labels."""
        info = self.policy.info
        return {"policy": {"head": getattr(info, "head", ""), "chunk": getattr(info, "chunk", 0)}}
