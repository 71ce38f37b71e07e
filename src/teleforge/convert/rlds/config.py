"""How an RLDS export is configured, and the conventions it writes down.

The action and state layouts a consumer can ask for (OXE ``ee_delta``, OpenVLA's
gripper convention, joint positions), the docs each writes into the dataset, and the
names of the files beside the shards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from teleforge.dataset.schema import DatasetSpec
from teleforge.errors import ExportError
from teleforge.names import KEY

ACTION_SPACES = ("ee_delta", "openvla", "joint_pos")
STATE_SPACES = ("eef", "joints")
SIDECAR = "teleforge_rlds.json"  # what teleforge knows beyond RLDS: source, view, trims, conventions
STATISTICS = "dataset_statistics.json"  # OpenVLA-style normalization statistics


@dataclass
class RldsExportConfig:
    """How to export: names, action/state representation, sharding, parallelism."""

    name: str = "teleforge_dataset"
    version: str = "1.0.0"
    action_space: str = "ee_delta"  # ee_delta | openvla | joint_pos
    state: str = "eef"  # eef: ee_pos(3)+ee_quat wxyz(4)+gripper(1); joints: joint_pos(n)+gripper(1)
    primary_camera: str | None = None  # becomes observation/image; others observation/<cam>_image
    episodes: Sequence[int] | None = None  # None = every live episode (or every episode of the view)
    view: str | None = None  # curated view name (views/NAME.json) or view file: kept episodes and trims
    num_shards: int | None = None  # None = from size (shard_target_bytes), at least `workers`
    shard_target_bytes: int = 256 << 20
    workers: int = 1
    overwrite: bool = False
    check: bool = False
    description: str = ""
    # Also store every native column RLDS has no field for under steps/native/, so
    # native -> RLDS -> native is exact; consumers that pick the OXE keys ignore them.
    native_columns: bool = True

    def validate(self, spec: DatasetSpec) -> None:
        """Refuse a configuration TFDS or the dataset cannot honour, naming the valid choices."""
        if self.action_space not in ACTION_SPACES:
            raise ExportError(f"unknown action space {self.action_space!r} for RLDS; use one of {', '.join(ACTION_SPACES)}")
        if self.state not in STATE_SPACES:
            raise ExportError(f"unknown state layout {self.state!r}; use one of {', '.join(STATE_SPACES)}")
        # The name becomes a folder, file names and generated trainer config: an identifier only.
        if not KEY.fullmatch(self.name) or self.name != self.name.lower():
            raise ExportError(f"dataset name {self.name!r} must be snake_case (letters, digits, '_'), as TFDS requires")
        parts = self.version.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ExportError(f"version {self.version!r} must look like 1.0.0 (TFDS refuses other forms)")
        if self.primary_camera is not None:
            spec.camera(self.primary_camera)
        if self.workers < 1:
            raise ExportError("workers must be at least 1")


ACTION_DOCS = {
    "ee_delta": "teleforge native action [dx, dy, dz, drx, dry, drz, gripper]: end-effector translation (m) and "
    "rotation (axis-angle, rad) per step in the robot base frame; gripper target in [0, 1] with 0 = open, 1 = closed",
    "openvla": "OpenVLA-style EEF delta [dx, dy, dz, drx, dry, drz, gripper]: translation (m) and rotation "
    "(axis-angle, rad) per step in the robot base frame; gripper in {0, 1} with 1 = open, 0 = closed (1 - teleforge "
    "gripper, binarised like OpenVLA's binarize_gripper_actions: a value in between takes the state reached next)",
    "joint_pos": "absolute target joint positions (rad) followed by the gripper target in [0, 1] with 0 = open, 1 = closed",
}


def state_doc(state: str) -> str:
    """What ``observation/state`` holds for a state layout (``eef`` or ``joints``)."""
    if state == "eef":
        return "[x, y, z, qw, qx, qy, qz, gripper]: end-effector position (m) and quaternion (wxyz) in the base frame, gripper opening in [0, 1] with 1 = open"
    return "[joint positions (rad)..., gripper]: measured joint positions and gripper opening in [0, 1] with 1 = open"
