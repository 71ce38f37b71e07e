"""The workcell: sim arm, tasks, scripted expert, cameras (and the shared robot vocabulary).

Public names are imported lazily so that ``teleforge.robots.types`` (the Robot
protocol, capabilities and ``RENDER_SIZE``, used by teleop and remote clients) does
not pull in MuJoCo.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# Offscreen rendering without a display; MuJoCo reads this once, at import.
os.environ.setdefault("MUJOCO_GL", "egl")

_EXPORTS: dict[str, str] = {
    "SimRobot": "sim_robot",
    "SimRobotConfig": "sim_robot",
    "EMBODIMENT": "sim_robot",
    "SceneConfig": "scene",
    "build_scene_xml": "scene",
    "PALETTE": "scene",
    "DiffIK": "ik",
    "IKConfig": "ik",
    "Task": "tasks",
    "TASKS": "tasks",
    "ObjectState": "tasks",
    "get_task": "tasks",
    "ScriptedExpert": "expert",
    "FAILURES": "expert",
    "SimCameraRig": "sim_cameras",
    "SimCamera": "sim_cameras",
    "SnapshotRenderer": "sim_cameras",
    "render": "sim_cameras",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'teleforge.robots' has no attribute '{name}'")
    return getattr(importlib.import_module(f"teleforge.robots.{module}"), name)
