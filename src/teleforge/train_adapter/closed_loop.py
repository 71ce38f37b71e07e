"""The one closed-loop runner: a policy drives a robot through one episode of a task.

Evaluation (``eval.evaluate``) runs every episode through :func:`run_episode`, and the
curation experiment and the demo evaluate through it, so they all share one success rule
and one observation path.

Observation path (what the policy sees, the same as what training saw): each camera the
policy asks for is rendered at the size the training data was recorded at, round-tripped
through the recorder's JPEG codec (``dataset.images.jpeg_roundtrip``), and handed over with
the arm's proprio state and the instruction; the policy then resizes it to its input with
``model.resize_frame``, the resize its training data went through.

Success rule: the task predicate must hold for ``hold_steps`` consecutive control steps
(the collection session's ``success_hold_s`` at the control rate); the episode then ends
as ``success``. Otherwise it runs to ``max_steps`` and counts as a success only if the
predicate holds at the last step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from teleforge.dataset.images import jpeg_roundtrip
from teleforge.errors import EvalError
from teleforge.robots.types import Robot, TaskInfo
from teleforge.spec import ACTION_DIM
from teleforge.train_adapter.policy import Policy, PolicyObs


class TaskScene(Protocol):
    """What the runner needs besides the :class:`~teleforge.robots.types.Robot` protocol.

    The sim arm (``SimRobot``) and a served one (``RemoteRobot``) are both; a real cell
    can pair its arm with a separate success detector.
    """

    def reset(self, task: str, seed: int) -> TaskInfo:
        """Set up one episode of ``task`` from scene seed ``seed``; returns its instruction and time limit."""
        ...

    def success(self) -> bool:
        """Whether the task's predicate holds now."""
        ...


class FrameSource(Protocol):
    """The live view of one camera: ``(camera, size)`` -> a (size, size, 3) uint8 RGB image."""

    def __call__(self, camera: str, size: int) -> np.ndarray: ...


@dataclass
class LoopConfig:
    """How one episode runs; ``eval.EvalConfig`` resolves its settings into this."""

    max_steps: int  # control steps before the episode ends as ``time_limit``
    hold_steps: int = 1  # consecutive steps the predicate must hold to end as ``success``
    execute: int = 1  # actions executed per predicted chunk (with ensembling: query period)
    temporal_ensemble: bool = False  # ACT-style: average overlapping predictions
    ensemble_decay: float = 0.01  # weight exp(-decay * i), i = 0 for the oldest prediction of a step
    render_size: int = 128  # px, the size the training data was recorded at
    jpeg_quality: int | None = 95  # the recorder's quality; None feeds raw renders
    decode_size: int = 0  # px the JPEG is decoded to at least, as the training loader does (0: full size)
    video_camera: str | None = None  # keep this camera's frame of every step (for a video)


@dataclass
class Rollout:
    """What happened in one closed-loop episode."""

    instruction: str
    success: bool
    steps: int  # control steps executed
    chunks: int  # predict() calls
    first_success_step: int | None = None  # first step the predicate held
    ended_by: str = "time_limit"  # success | time_limit
    latency_ms: list[float] = field(default_factory=list)  # one per predict() call
    frames: list[np.ndarray] = field(default_factory=list)  # video_camera, one per step


def check_chunk(chunk: Any) -> np.ndarray:
    """A predicted chunk as a ``(n, 7)`` float32 array; malformed or non-finite actions raise ``EvalError``."""
    a = np.asarray(chunk, dtype=np.float32)
    if a.ndim == 1 and a.shape[0] == ACTION_DIM:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != ACTION_DIM or a.shape[0] < 1:
        raise EvalError(f"the policy returned actions of shape {a.shape}; predict() must return (chunk, 7) native actions")
    if not np.all(np.isfinite(a)):
        raise EvalError("the policy returned non-finite actions (NaN/inf): check the checkpoint's normalization statistics")
    return a


class ChunkExecutor:
    """Turns predicted chunks into one action per step: plain chunking, or ACT-style temporal ensembling."""

    def __init__(self, execute: int, ensemble: bool, decay: float) -> None:
        self.execute = execute
        self.ensemble = ensemble
        self.decay = decay
        self._queue: list[np.ndarray] = []
        self._preds: list[tuple[int, np.ndarray]] = []  # (start step, chunk), oldest first

    def needs_query(self, t: int) -> bool:
        """Whether step ``t`` needs a new prediction before an action can be taken."""
        return (t % self.execute == 0) if self.ensemble else not self._queue

    def add(self, t: int, chunk: np.ndarray) -> None:
        """Take the ``(n, 7)`` chunk predicted at step ``t``."""
        if self.ensemble:
            self._preds.append((t, chunk))
        else:
            self._queue = list(chunk[: self.execute])

    def action(self, t: int) -> np.ndarray:
        """The ``(7,)`` action for step ``t``."""
        if not self.ensemble:
            return self._queue.pop(0)
        self._preds = [(s, c) for s, c in self._preds if t - s < len(c)]
        acts = np.stack([c[t - s] for s, c in self._preds])  # oldest first
        w = np.exp(-self.decay * np.arange(len(acts)))
        return (acts * w[:, None]).sum(0) / w.sum()


def observe(robot: Robot, frames: FrameSource, cameras: tuple[str, ...], instruction: str, loop: LoopConfig) -> PolicyObs:
    """The policy's observation now: each camera at ``loop.render_size``, through the recorder's JPEG."""
    images = {c: frames(c, loop.render_size) for c in cameras}
    if loop.jpeg_quality is not None:
        images = {c: jpeg_roundtrip(v, loop.jpeg_quality, loop.decode_size) for c, v in images.items()}
    return PolicyObs.from_robot(robot.observe(), images, instruction)


def run_episode(policy: Policy, robot: Robot, scene: TaskScene, frames: FrameSource, task: str, seed: int,
                loop: LoopConfig) -> Rollout:
    """Reset ``scene`` to ``task``/``seed`` and let ``policy`` drive ``robot`` until success holds or time runs out.

    A privileged reference policy (one with ``bind(robot)``, like the scripted oracle) is bound
    to the robot after the reset, before ``policy.reset``.
    """
    tinfo = scene.reset(task, seed)
    bind = getattr(policy, "bind", None)
    if callable(bind):  # privileged reference policies (the scripted oracle) read the sim directly
        bind(robot)
    policy.reset(tinfo.instruction)
    runner = ChunkExecutor(loop.execute, loop.temporal_ensemble, loop.ensemble_decay)
    out = Rollout(instruction=tinfo.instruction, success=False, steps=0, chunks=0)
    held = 0
    step = 0
    for step in range(loop.max_steps):
        images: dict[str, np.ndarray] = {}
        if runner.needs_query(step):
            obs = observe(robot, frames, tuple(policy.info.cameras), tinfo.instruction, loop)
            images = obs.images
            tq = time.perf_counter()
            chunk = check_chunk(policy.predict(obs))
            out.latency_ms.append((time.perf_counter() - tq) * 1e3)
            out.chunks += 1
            runner.add(step, chunk)
        if loop.video_camera is not None:
            cam = loop.video_camera
            # Videos show the camera at the recorded size (the policy's frame may be decoded smaller).
            seen = images.get(cam)
            out.frames.append(seen if seen is not None and seen.shape[0] == loop.render_size else frames(cam, loop.render_size))
        robot.act(runner.action(step))
        if scene.success():
            held += 1
            out.first_success_step = step if out.first_success_step is None else out.first_success_step
            if held >= loop.hold_steps:
                out.ended_by, out.success = "success", True
                break
        else:
            held = 0
    else:
        out.success = bool(scene.success())
    out.steps = step + 1
    return out
