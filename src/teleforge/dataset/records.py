"""Plain records the recorder accepts: one per control step, one per episode.

These are the contract between the session loop (teleop) and the dataset
writer. They hold numpy arrays only -- no MuJoCo, no pygame -- so a curation
or export machine needs nothing heavier than pyarrow and numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class StepRecord:
    """Everything recorded at one control tick. Images are raw RGB here; the
    recorder pipeline encodes them off the control thread."""

    step: int
    tick_ns: int  # time.monotonic_ns() of the tick deadline actually hit
    action: np.ndarray  # (action_dim,) native action [dx,dy,dz,drx,dry,drz,gripper] (teleforge.spec.ACTION_NAMES)
    joint_pos: np.ndarray  # (n_joints,)
    joint_vel: np.ndarray  # (n_joints,)
    ee_pos: np.ndarray  # (3,)
    ee_quat: np.ndarray  # (4,) wxyz
    gripper: float  # measured opening [0, 1], 1 = open
    target_ee_pos: np.ndarray  # (3,)
    target_ee_quat: np.ndarray  # (4,) wxyz
    target_joint_pos: np.ndarray  # (n_joints,)
    command_twist: np.ndarray  # (TWIST_DIM = 6,) device twist in [-1, 1] (zeros for native devices)
    command_gripper: float  # device gripper command [0, 1]
    reward: float = 0.0
    success: bool = False  # task success predicate at this step
    hold: bool = False  # safety guard held the arm this step
    estop: bool = False
    clamped: bool = False  # guard or IK clamped the command
    intervention: bool = False  # a human had taken over from a policy (format 1.2)
    images: dict[str, np.ndarray] = field(default_factory=dict)  # cam -> (H,W,3) uint8
    image_t_ns: dict[str, int] = field(default_factory=dict)  # cam -> capture time
    image_seq: dict[str, int] = field(default_factory=dict)  # cam -> frame counter
    # Depth of cameras that record it (CameraConfig.depth): cam -> (H, W) uint16 mm, 0 = no reading; it came
    # with the colour frame (same image_t_ns / image_seq). A camera absent here records a null (missing) depth.
    depth: dict[str, np.ndarray] = field(default_factory=dict)
    # Robot-declared state beyond the native features (DatasetSpec.extra_state): name -> (k,) float32.
    state_extras: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class EpisodeStart:
    """Known when recording starts; written into the shard header."""

    task: str
    instruction: str
    robot_embodiment: str
    seed: int | None
    device: str
    operator_id: str
    session_id: str
    fps: float
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. expert quality, injected failure


@dataclass
class EpisodeEnd:
    """Known when the operator (or the expert) decides; written at finalize."""

    outcome: str  # "success" | "failure" | "unknown"
    loop_stats: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)  # ground-truth failure labels, notes
