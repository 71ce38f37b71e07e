"""The contract between a trained model and the things that run it (eval, demo, handoff).

A policy sees what the recorder records — camera images, the arm's proprio state and the
instruction — and returns a chunk of native 7-D actions (docs/design.md §3: EE delta in
the base frame + gripper target, 1 = closed). The same :class:`PolicyObs` is built from a
recorded step (training) and from the live robot (closed-loop eval), so the two can never
disagree about what the model sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass
class PolicyObs:
    """One observation as a policy sees it."""

    images: dict[str, np.ndarray]  # camera name -> (H, W, 3) uint8 RGB
    joint_pos: np.ndarray  # (n_joints,) rad
    ee_pos: np.ndarray  # (3,) m, base frame
    ee_quat: np.ndarray  # (4,) wxyz
    gripper: float  # measured opening in [0, 1]: 0 = closed, 1 = open
    instruction: str = ""

    @classmethod
    def from_step(cls, step: dict[str, Any], instruction: str) -> PolicyObs:
        """Build from a decoded native step (``Episode.step(i)``)."""
        prefix = "observation.images."
        return cls(
            images={k[len(prefix):]: v for k, v in step.items() if k.startswith(prefix) and v is not None},
            joint_pos=np.asarray(step["observation.state.joint_pos"], np.float32),
            ee_pos=np.asarray(step["observation.state.ee_pos"], np.float32),
            ee_quat=np.asarray(step["observation.state.ee_quat"], np.float32),
            gripper=float(step["observation.state.gripper"]),
            instruction=instruction,
        )

    @classmethod
    def from_robot(cls, state: Any, images: dict[str, np.ndarray], instruction: str) -> PolicyObs:
        """Build from a live :class:`teleforge.robots.types.RobotState` and current frames."""
        return cls(
            images=dict(images),
            joint_pos=np.asarray(state.joint_pos, np.float32),
            ee_pos=np.asarray(state.ee_pos, np.float32),
            ee_quat=np.asarray(state.ee_quat, np.float32),
            gripper=float(state.gripper),
            instruction=instruction,
        )


@dataclass
class PolicyInfo:
    """What a checkpoint declares about itself (checked before it is run)."""

    head: str  # "tokens" | "flow"
    chunk: int  # actions per predicted chunk
    cameras: tuple[str, ...]  # camera names it needs
    image_size: int
    action_space: str = "native_ee_delta"
    control_hz: float = 20.0
    extra: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    """A closed-loop controller: call :meth:`reset` per episode, then :meth:`predict` per chunk."""

    info: PolicyInfo

    def reset(self, instruction: str) -> None: ...

    def predict(self, obs: PolicyObs) -> np.ndarray:
        """Return a ``(info.chunk, 7)`` float32 array of native actions, first one to execute first."""
        ...
