"""Subtle quality defects for the scripted expert, with ground truth.

The crude failures of :mod:`teleforge.robots.expert` (idle, jitter, overshoot, drop, wrong
object, timeout) were designed together with the default curation rules, so the rules
find them. The defects here stay *under* every default rule's threshold and the episode
still succeeds, so success labels say nothing about them:

- ``hesitant``: slower moves and several short pauses (each well under the 1.5 s idle rule);
- ``wobble``: a low-amplitude sinusoidal sway on the commanded translation (jerk far under the rule);
- ``regrasp``: the first grasp slips during the lift, the expert goes back and succeeds;
- ``off_centre``: the fingers close off the cube's centre, a barely-holding grasp;
- ``multimodal``: a second approach strategy (a detour through a side waypoint).

Each episode is labelled with its kind, a severity in [0, 1] and a continuous quality in
[0, 1] (:func:`quality_of`): 1 for a clean demo, 0.45-0.85 for a subtle defect (lower is
worse), 0-0.3 for a crude failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from teleforge.errors import RobotError
from teleforge.robots.expert import FAILURES, ScriptedExpert, _still

SUBTLE_DEFECTS: tuple[str, ...] = ("hesitant", "wobble", "regrasp", "off_centre", "multimodal")
_GRASP_TASKS = ("pick_cube", "place_in_bin", "stack")


def quality_of(kind: str | None, severity: float) -> float:
    """The continuous quality label: 1 clean, 0.85..0.45 subtle (by severity), 0.3..0 crude."""
    s = float(np.clip(severity, 0.0, 1.0))
    if kind is None:
        return 1.0
    if kind in SUBTLE_DEFECTS:
        return round(0.85 - 0.4 * s, 3)
    if kind in FAILURES:
        return round(0.3 * (1.0 - s), 3)
    raise RobotError(f"unknown defect or failure {kind!r}: choose one of {', '.join(SUBTLE_DEFECTS + FAILURES)}")


@dataclass(frozen=True)
class EpisodeQuality:
    """What one scripted episode should be: clean, one subtle defect, or one crude failure."""

    kind: str | None = None  # None (clean), a SUBTLE_DEFECTS name, or a robots.expert.FAILURES name
    severity: float = 0.0  # 0..1, how strong the defect is

    @property
    def tier(self) -> str:
        return "clean" if self.kind is None else ("subtle" if self.kind in SUBTLE_DEFECTS else "crude")

    @property
    def quality(self) -> float:
        return quality_of(self.kind, self.severity)


def draw_quality(seed: int, subtle_rate: float, crude_rate: float, task: str = "pick_cube") -> EpisodeQuality:
    """The episode setting for scene ``seed``: crude with ``crude_rate``, subtle with ``subtle_rate``, else clean.

    Drawn from the seed alone, so a collection is reproducible. Grasp defects (regrasp,
    off-centre) are only drawn for tasks that grasp.
    """
    rng = np.random.default_rng([int(seed), 0x5D7E])
    u = rng.random()
    sev = float(rng.uniform(0.25, 1.0))
    if u < crude_rate:
        return EpisodeQuality(str(rng.choice(FAILURES)), sev)
    if u < crude_rate + subtle_rate:
        kinds = [k for k in SUBTLE_DEFECTS if task in _GRASP_TASKS or k not in ("regrasp", "off_centre")]
        return EpisodeQuality(str(rng.choice(kinds)), sev)
    return EpisodeQuality()


def make_expert(task: str, q: EpisodeQuality, seed: int) -> ScriptedExpert:
    """The expert for one episode setting (a crude failure uses the base expert's injection)."""
    if q.kind is None:
        return ScriptedExpert(task, seed=seed)
    if q.kind in FAILURES:
        return ScriptedExpert(task, quality=min(0.5, 1.0 - q.severity + 1e-9), failure=q.kind, seed=seed)
    return SubtleExpert(task, q.kind, q.severity, seed=seed)


class SubtleExpert(ScriptedExpert):
    """The scripted expert with one subtle defect; ``labels`` carry kind, severity and quality."""

    def __init__(self, task: str, defect: str, severity: float = 0.5, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        if defect not in SUBTLE_DEFECTS:
            raise RobotError(f"unknown subtle defect {defect!r}: choose one of {', '.join(SUBTLE_DEFECTS)}")
        if not 0.0 <= severity <= 1.0:
            raise RobotError(f"severity must be in [0, 1], got {severity}")
        super().__init__(task, seed=seed, rng=rng)
        self.defect = defect
        self.defect_severity = float(severity)

    @property
    def labels(self) -> dict[str, Any]:
        d = super().labels
        d.update({"defect": self.defect, "defect_severity": round(self.defect_severity, 3),
                  "quality": quality_of(self.defect, self.defect_severity), "quality_tier": "subtle",
                  "executed": self._defect_fired})
        return d

    def reset(self, robot: Any) -> None:
        super().reset(robot)
        s = self.defect_severity
        r = self.rng
        self._defect_fired = False
        # hesitant: slower moves and short pauses (<= 1 s each: the idle rule fires above 1.5 s)
        self._speed = 1.0 - 0.45 * s
        n_pauses = int(round(2 + 5 * s))
        # pick_cube takes ~2.5 s: the pauses fall inside the motion
        self._pause_at = set(int(x) for x in r.uniform(0.3, 2.5, n_pauses) * self._hz)
        self._pause_len = (0.4 + 0.6 * s) * self._hz
        self._pause_left = 0
        self._last_pause_end = -100
        # wobble: per-step translation amplitude (fraction of the bound) at 1.5-3 Hz
        self._wobble_amp = (0.08 + 0.22 * s) * self._max_t
        self._wobble_hz = float(r.uniform(1.5, 3.0))
        self._wobble_phase = r.uniform(0, 2 * np.pi, 3)
        # regrasp: open the fingers this many steps into the first lift
        self._slip_step = int(0.15 * self._hz)
        self._slipped = False
        # off-centre: fingers close this far (m) from the centre, along the closing and the finger axes
        self._offset_local = np.array([(0.004 + 0.005 * s) * r.choice([-1, 1]), (0.004 + 0.006 * s) * r.choice([-1, 1])])
        # multimodal: a side waypoint 8-16 cm off the straight approach, 4-8 cm higher
        self._via_side = float((0.08 + 0.08 * s) * r.choice([-1, 1]))
        self._via_up = 0.04 + 0.04 * s
        self._via_goal: np.ndarray | None = None
        self._via_done = False

    def act(self, robot: Any) -> np.ndarray:
        if self.defect == "hesitant" and self._phase not in ("hold", "dropped"):
            if self._pause_left > 0:
                self._pause_left -= 1
                self._step += 1
                self._last_pause_end = self._step
                return _still(self._gripper)
            # Pauses never run into each other: two back to back would look like one long (rule-visible) pause.
            if self._step in self._pause_at and self._step - self._last_pause_end >= 4:
                self._mark()
                self._pause_left = int(self._pause_len) - 1
                self._step += 1
                return _still(self._gripper)
        action = super().act(robot)
        if self.defect == "wobble" and self._phase not in ("hold", "dropped", "grasp", "release"):
            self._mark()
            t = self._step / self._hz
            sway = self._wobble_amp * np.sin(2 * np.pi * self._wobble_hz * t + self._wobble_phase)
            sway[2] *= 0.3  # mostly sideways: a vertical sway would bump the table
            action[:3] = np.clip(action[:3] + sway, -self._max_t, self._max_t)
        return action

    def _mark(self) -> None:
        if not self._defect_fired:
            self._defect_fired = True
            self._injected_at = self._step

    def _goto(self, robot: Any, goal: np.ndarray, yaw: float | None, speed: float = 1.0) -> tuple[np.ndarray, bool]:
        if self.defect == "hesitant":
            speed *= self._speed
        return super()._goto(robot, goal, yaw, speed)

    def _policy(self, robot: Any) -> np.ndarray:
        ph = self._phase
        if self.defect == "regrasp" and ph == "lift" and not self._slipped and self._phase_steps >= self._slip_step:
            self._slipped = True
            self._mark()
            self._gripper = 0.0  # the grasp slips: the cube falls back and the expert retries
        if self.defect == "off_centre" and ph in ("approach", "descend"):
            return self._off_centre(robot, ph)
        if self.defect == "multimodal" and ph == "approach" and not self._via_done:
            return self._detour(robot)
        return super()._policy(robot)

    def _off_centre(self, robot: Any, ph: str) -> np.ndarray:
        cube = robot.object_states()[self._obj]
        yaw = self._grasp_yaw(robot, cube)
        c, s = np.cos(yaw), np.sin(yaw)
        off = np.array([c * self._offset_local[0] - s * self._offset_local[1], s * self._offset_local[0] + c * self._offset_local[1], 0.0])
        self._mark()
        if ph == "approach":
            a, there = self._goto(robot, cube.pos + off + np.array([0.0, 0.0, 0.12]), yaw)
            if there:
                self._next("descend")
            return a
        a, there = self._goto(robot, cube.pos + off + np.array([0.0, 0.0, 0.002]), yaw, speed=0.6)
        if there or self._phase_steps > 3 * self._hz:
            self._next("grasp")
        return a

    def _detour(self, robot: Any) -> np.ndarray:
        cube = robot.object_states()[self._obj]
        tcp = robot.observe().ee_pos
        if self._via_goal is None:
            u = cube.pos[:2] - tcp[:2]
            u = u / max(float(np.linalg.norm(u)), 1e-6)
            perp = np.array([-u[1], u[0]])
            xy = cube.pos[:2] + perp * self._via_side - u * 0.03
            self._via_goal = np.array([xy[0], xy[1], cube.pos[2] + 0.12 + self._via_up])
            self._mark()
        a, _ = self._goto(robot, self._via_goal, None)
        if float(np.linalg.norm(self._via_goal - tcp)) < 0.02:
            self._via_done = True
        return a


__all__ = ["EpisodeQuality", "SUBTLE_DEFECTS", "SubtleExpert", "draw_quality", "make_expert", "quality_of"]
