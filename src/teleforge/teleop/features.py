"""A robot's declared features -> the recorded schema (LeRobot-style declared features).

``dataset`` sits below ``robots`` and never sees a Robot, so the translation from
``Robot.state_spec`` / ``action_spec`` (ArraySpecs) to a :class:`DatasetSpec`
(plain shapes) lives here, in the layer that knows both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from teleforge.dataset.schema import CameraConfig, DatasetSpec
from teleforge.errors import RobotError
from teleforge.robots.types import Robot
from teleforge.spec import ACTION_DIM, NATIVE_STATE_NAMES


def dataset_spec_for(robot: Robot, fps: float, cameras: Sequence[CameraConfig] = ()) -> DatasetSpec:
    """The DatasetSpec that records ``robot`` at ``fps`` Hz with ``cameras``: ``n_joints`` joints
    (checked against a declared ``joint_pos``), the action width of ``action_spec`` (the native 7
    for every built-in arm), and each non-native declared state feature as an extra float32 column.
    Per-value names the robot declares (action, joint_pos, extras) are kept in ``feature_names``."""
    state = {name: tuple(int(n) for n in spec.shape) for name, spec in dict(robot.state_spec or {}).items()}
    n_joints = int(robot.n_joints)
    if "joint_pos" in state and int(np.prod(state["joint_pos"])) != n_joints:
        raise RobotError(
            f"robot {robot.name!r} declares joint_pos of shape {state['joint_pos']} but n_joints={n_joints}; "
            "make its state_spec and n_joints agree"
        )
    action_shape = tuple(int(n) for n in robot.action_spec.shape) or (ACTION_DIM,)
    # Declared per-value names travel with the data (a LeRobot arm's "shoulder_pan.pos", ...), so an
    # export can name its columns as the robot does; the native 7-D action keeps spec.ACTION_NAMES.
    names: dict[str, list[str]] = {}
    declared = {"action": robot.action_spec, **dict(robot.state_spec or {})}
    for feature, spec in declared.items():
        if spec.names and len(spec.names) == int(np.prod(spec.shape or (1,))) and (feature != "action" or action_shape != (ACTION_DIM,)):
            names[feature] = [str(n) for n in spec.names]
    return DatasetSpec.from_features(
        fps=fps,
        robot_embodiment=robot.embodiment,
        state=state,
        action_shape=action_shape,
        cameras=list(cameras),
        n_joints=n_joints,
        feature_names={k: v for k, v in names.items() if k in ("action", "joint_pos") or k not in NATIVE_STATE_NAMES},
    )
