"""Workcell tasks: language templates, success predicates and time limits.

A task names *roles* ("object", and for stacking "support") that a reset binds to
cube colours; instructions are templates over those roles ("pick up the {object}").
Success is a predicate over privileged scene state, evaluated every control step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from teleforge.errors import UnknownTaskError

LIFT_HEIGHT = 0.10  # m: a picked cube's lowest point is at least this far above the table
ON_TABLE_TOL = 0.01  # m: a cube whose bottom is this close to the table rests on it
PUSH_MAX_LIFT = 0.02  # m: lifting higher than this during a push counts as grasping


@dataclass
class ObjectState:
    """Pose and size of one object (cube or fixture) in the robot base frame."""

    name: str
    pos: np.ndarray  # (3,) centre, m
    quat: np.ndarray  # (4,) wxyz
    size: float  # cube edge / tote inner edge / target disc diameter, m
    lin_vel: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @property
    def bottom(self) -> float:
        """Height (m) of the object's lowest face."""
        return float(self.pos[2] - self.size / 2)

    @property
    def yaw(self) -> float:
        """Rotation about +z (rad) from the quaternion."""
        w, x, y, z = self.quat
        return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


class TaskScene(Protocol):
    """What a success predicate may ask of the sim (``SimRobot`` provides it)."""

    def object_states(self) -> dict[str, ObjectState]:
        """Name -> state of every object in the scene."""
        ...

    def fingers_touching(self, name: str) -> bool:
        """True when both fingers touch object ``name``."""
        ...

    def max_lift(self, name: str) -> float:
        """Highest the object's bottom has been this episode (m)."""
        ...


Predicate = Callable[[TaskScene, dict[str, str]], bool]


@dataclass(frozen=True)
class Task:
    """One task of the workcell."""

    name: str
    templates: tuple[str, ...]  # str.format over roles, e.g. "pick up the {object}"
    predicate: Predicate
    time_limit_s: float
    roles: tuple[str, ...] = ("object",)
    description: str = ""

    def instruction(self, binding: dict[str, str], rng: np.random.Generator) -> str:
        """A language instruction for ``binding`` (role -> colour), template drawn from ``rng``."""
        template = self.templates[int(rng.integers(len(self.templates)))]
        return template.format(**{role: f"{colour} cube" for role, colour in binding.items()})

    def success(self, scene: TaskScene, binding: dict[str, str]) -> bool:
        """The task's success predicate on ``scene`` for this binding."""
        return bool(self.predicate(scene, binding))


def _picked(scene: TaskScene, b: dict[str, str]) -> bool:
    return scene.object_states()[b["object"]].bottom > LIFT_HEIGHT


def _in_bin(scene: TaskScene, b: dict[str, str]) -> bool:
    objs = scene.object_states()
    cube, tote = objs[b["object"]], objs["bin"]
    inside = bool(np.all(np.abs(cube.pos[:2] - tote.pos[:2]) < tote.size / 2))
    low = cube.bottom < 0.04  # resting in the tote, not hovering above it
    settled = float(np.linalg.norm(cube.lin_vel)) < 0.1
    return inside and low and settled and not scene.fingers_touching(b["object"])


def _pushed(scene: TaskScene, b: dict[str, str]) -> bool:
    objs = scene.object_states()
    cube, target = objs[b["object"]], objs["target_region"]
    inside = float(np.linalg.norm(cube.pos[:2] - target.pos[:2])) < target.size / 2
    return inside and cube.bottom < ON_TABLE_TOL and scene.max_lift(b["object"]) < PUSH_MAX_LIFT


def _stacked(scene: TaskScene, b: dict[str, str]) -> bool:
    objs = scene.object_states()
    top, base = objs[b["object"]], objs[b["support"]]
    aligned = float(np.linalg.norm(top.pos[:2] - base.pos[:2])) < 0.45 * base.size
    expected_dz = (top.size + base.size) / 2
    resting = abs(float(top.pos[2] - base.pos[2]) - expected_dz) < 0.012
    base_down = base.bottom < ON_TABLE_TOL
    settled = float(np.linalg.norm(top.lin_vel)) < 0.1
    return aligned and resting and base_down and settled and not scene.fingers_touching(b["object"])


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            name="pick_cube",
            templates=(
                "pick up the {object}",
                "grab the {object} and lift it",
                "lift the {object} off the table",
                "pick the {object} up",
            ),
            predicate=_picked,
            time_limit_s=20.0,
            description=f"lift the named cube so its bottom is > {LIFT_HEIGHT * 100:.0f} cm above the table",
        ),
        Task(
            name="place_in_bin",
            templates=(
                "put the {object} in the bin",
                "place the {object} into the tote",
                "pick up the {object} and drop it in the bin",
                "move the {object} into the bin",
            ),
            predicate=_in_bin,
            time_limit_s=30.0,
            description="the named cube rests inside the tote, released",
        ),
        Task(
            name="push_to_target",
            templates=(
                "push the {object} onto the white target",
                "slide the {object} to the marked region",
                "push the {object} into the target circle without picking it up",
                "nudge the {object} onto the white disc",
            ),
            predicate=_pushed,
            time_limit_s=30.0,
            description="the named cube's centre lies in the target disc, never lifted",
        ),
        Task(
            name="stack",
            templates=(
                "stack the {object} on the {support}",
                "put the {object} on top of the {support}",
                "place the {object} onto the {support}",
                "pick up the {object} and stack it on the {support}",
            ),
            predicate=_stacked,
            time_limit_s=30.0,
            roles=("object", "support"),
            description="the named cube rests on top of the support cube, released",
        ),
    )
}


def get_task(name: str) -> Task:
    """The task called ``name``; raises ``UnknownTaskError`` naming the known tasks."""
    try:
        return TASKS[name]
    except KeyError:
        known = ", ".join(sorted(TASKS))
        raise UnknownTaskError(f"unknown task '{name}': choose one of {known}") from None
