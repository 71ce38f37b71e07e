"""A scripted expert for the sim workcell, with labelled failure injection.

The expert reads privileged object state (``SimRobot.object_states``) and runs a
phase machine (approach, descend, grasp, lift, transport, lower, release, retreat;
for pushing: approach behind, descend, push, retreat). At ``quality=1`` and no
``failure`` it is the best demonstrator the workcell has. Below 1 it injects one
realistic failure mode, drawn from its rng unless ``failure`` names one, and
reports the ground truth in ``labels``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from teleforge.errors import RobotError
from teleforge.robots.tasks import ObjectState, get_task
from teleforge.spec import ACTION_DIM, GRIPPER_INDEX, TWIST_DIM

FAILURES: tuple[str, ...] = ("idle", "jitter", "overshoot", "dropped_object", "wrong_object", "timeout")

_LIFT_Z = 0.25  # TCP height for carrying, m
_HOVER = 0.12  # approach height above a cube's centre, m
_PUSH_HOVER = 0.1  # TCP height when lining up behind a cube, m: pad tips (2.2 cm below the TCP) clear every cube
_PUSH_SPEED = 0.08  # m/s while pushing
_PUSH_SPEED_NEAR = 0.05  # m/s within 4 cm of the target centre
_PUSH_Z = 0.027  # TCP (= pad centre) height while pushing: pad tips 5 mm above the table, contact near the cube's mid-height


def _still(gripper: float) -> np.ndarray:
    """A native action that stays put with gripper target ``gripper`` (float64, (ACTION_DIM,))."""
    a = np.zeros(ACTION_DIM, dtype=np.float64)
    a[GRIPPER_INDEX] = gripper
    return a


def _wrap(angle: float, period: float) -> float:
    """Angle wrapped to [-period/2, period/2)."""
    return (angle + period / 2) % period - period / 2


class ScriptedExpert:
    """Privileged-state demonstrator: ``reset(robot)`` then ``act(robot)`` once per control step."""

    def __init__(
        self,
        task: str,
        quality: float = 1.0,
        failure: str | None = None,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        self.task = get_task(task)
        if failure is not None and failure not in FAILURES:
            raise RobotError(f"unknown failure mode '{failure}': choose one of {', '.join(FAILURES)}")
        if not 0.0 <= quality <= 1.0:
            raise RobotError(f"quality must be in [0, 1], got {quality}")
        self.quality = float(quality)
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        if failure is None and quality < 1.0:
            failure = FAILURES[int(self.rng.integers(len(FAILURES)))]
        self.failure = failure
        # How bad the injected failure is; an explicitly requested failure at quality 1 gets a middling one.
        self.severity = float(np.clip(1.0 - quality, 0.0, 1.0)) if quality < 1.0 else 0.5
        self.severity = max(self.severity, 0.2) if failure else 0.0
        self._injected_at: int | None = None
        self._step = 0
        self._obj = ""  # set by reset()
        self._phase = ""

    # --- public ----------------------------------------------------------------

    @property
    def labels(self) -> dict[str, Any]:
        """Ground truth for the episode metadata."""
        return {
            "quality": self.quality,
            "failure": self.failure,
            "severity": round(self.severity, 3) if self.failure else 0.0,
            "injected_at_step": self._injected_at,
            "executed": bool(self.failure) and self._injected_at is not None,
            "manipulated_object": self._obj or None,
            "phase": self._phase or None,
        }

    def reset(self, robot: Any) -> None:
        """Read the new scene (task binding, rate, action bounds) and restart the phase machine."""
        binding = robot.binding
        self._hz = float(robot.control_hz)
        high = np.asarray(robot.action_spec.high, dtype=np.float64)
        self._max_t, self._max_r = float(high[0]), float(high[3])
        self._time_limit_steps = int(self.task.time_limit_s * self._hz)
        self._obj = binding["object"]
        self._support = binding.get("support")
        if self.failure == "wrong_object":
            others = [c for c in robot.object_states() if c not in ("bin", "target_region", self._obj, self._support)]
            self._obj = others[int(self.rng.integers(len(others)))]
        self._phase = "timeout" if self.failure == "timeout" else ("push_approach" if self.task.name == "push_to_target" else "approach")
        self._phase_steps = 0
        self._gripper = 1.0 if self.task.name == "push_to_target" else 0.0
        self._retries = 0
        self._step = 0
        self._injected_at = None
        self._idle_left = 0
        self._overshoot_goal: np.ndarray | None = None
        s = self.severity
        # When time-triggered failures fire: after the arm has visibly started, and
        # before the fastest task can succeed (~1.7 s), so an injected failure
        # always happens inside the episode its label describes.
        self._fire_step = int(self.rng.uniform(0.3, 1.2) * self._hz)
        self._idle_steps = int((2.0 + 4.0 * s) * self._hz)
        self._jitter_sigma = 0.3 + 0.7 * s  # fraction of the action bound
        self._overshoot_m = 0.04 + 0.08 * s
        self._wander_goal: np.ndarray | None = None
        self._lift_goal: np.ndarray | None = None
        if self.failure == "wrong_object" or self.failure == "timeout":
            self._injected_at = 0

    def act(self, robot: Any) -> np.ndarray:
        """The next native (ACTION_DIM,) action, float64, for the scene as ``robot`` observes it now."""
        self._step += 1
        self._phase_steps += 1
        if self.failure == "idle" and self._idle_hook():
            return _still(self._gripper)
        action = self._policy(robot)
        if self.failure == "jitter" and self._step >= self._fire_step:
            if self._injected_at is None:
                self._injected_at = self._step - 1
            bound = np.array([self._max_t] * 3 + [self._max_r] * 3)
            action[:TWIST_DIM] += self.rng.normal(0.0, self._jitter_sigma, TWIST_DIM) * bound
            action[:TWIST_DIM] = np.clip(action[:TWIST_DIM], -bound, bound)
        return action

    # --- failure hooks -----------------------------------------------------------

    def _idle_hook(self) -> bool:
        """Hesitation: one long pause of zero actions (gripper unchanged)."""
        if self._injected_at is None and self._step >= self._fire_step:
            self._injected_at = self._step - 1
            self._idle_left = self._idle_steps
        if self._idle_left > 0:
            self._idle_left -= 1
            return True
        return False

    # --- the phase machine ---------------------------------------------------------

    def _goto(self, robot: Any, goal: np.ndarray, yaw: float | None, speed: float = 1.0) -> tuple[np.ndarray, bool]:
        """Action moving the controller target toward ``goal`` (and hand yaw), and whether we are there."""
        tpos, tmat = robot.target_pose
        tcp = robot.observe().ee_pos
        d = np.clip(goal - tpos, -self._max_t * speed, self._max_t * speed)
        rot = np.zeros(3)
        yaw_err = 0.0
        if yaw is not None:
            yaw_err = _wrap(yaw - float(np.arctan2(tmat[1, 0], tmat[0, 0])), 2 * np.pi)
            rot[2] = np.clip(yaw_err, -self._max_r, self._max_r)
        # Keep the gripper pointing straight down: correct any roll/pitch drift of the target.
        down_err = np.cross(tmat[:, 2], np.array([0.0, 0.0, -1.0]))
        rot[:2] = np.clip(down_err[:2], -self._max_r, self._max_r)
        there = float(np.linalg.norm(goal - tcp)) < 0.008 and abs(yaw_err) < 0.05
        return np.concatenate([d, rot, [self._gripper]]), there

    def _grasp_yaw(self, robot: Any, cube: ObjectState) -> float:
        """Hand yaw that puts the fingers on two faces of ``cube``, nearest the current yaw."""
        _, tmat = robot.target_pose
        current = float(np.arctan2(tmat[1, 0], tmat[0, 0]))
        return current + _wrap(cube.yaw - current, np.pi / 2)

    def _next(self, phase: str) -> None:
        self._phase = phase
        self._phase_steps = 0
        self._overshoot_goal = None

    def _with_overshoot(self, robot: Any, goal: np.ndarray) -> np.ndarray:
        """For the ``overshoot`` failure: aim past the goal first, then correct back."""
        if self.failure != "overshoot" or self._injected_at is not None and self._overshoot_goal is None:
            return goal
        tcp = robot.observe().ee_pos
        if self._overshoot_goal is None:
            direction = goal - tcp
            direction[2] = 0.0
            n = float(np.linalg.norm(direction))
            if n < 0.05:
                return goal
            self._overshoot_goal = goal + direction / n * self._overshoot_m
            self._overshoot_goal[2] = max(goal[2], 0.06)
            self._injected_at = self._step - 1
        if self._overshoot_goal is not None and self._overshoot_goal.size:
            if float(np.linalg.norm(self._overshoot_goal - tcp)) < 0.01:
                self._overshoot_goal = np.empty(0)  # reached the overshoot point: correct from here on
            else:
                return self._overshoot_goal
        return goal

    def _policy(self, robot: Any) -> np.ndarray:
        objs = robot.object_states()
        cube = objs[self._obj]
        ph = self._phase
        hz = self._hz
        tcp = robot.observe().ee_pos

        if ph == "timeout":
            return self._dawdle(robot)
        if ph.startswith("push"):
            return self._push(robot, objs)

        yaw = self._grasp_yaw(robot, cube)
        if ph == "approach":
            self._gripper = 0.0
            goal = cube.pos + np.array([0.0, 0.0, _HOVER])
            goal = self._with_overshoot(robot, goal)
            a, there = self._goto(robot, goal, yaw)
            if there and (self._overshoot_goal is None or self._overshoot_goal.size == 0):
                self._next("descend")
            return a
        if ph == "descend":
            goal = cube.pos + np.array([0.0, 0.0, 0.002])
            a, there = self._goto(robot, goal, yaw, speed=0.6)
            if there or self._phase_steps > 3 * hz:
                self._next("grasp")
            return a
        if ph == "grasp":
            self._gripper = 1.0
            a, _ = self._goto(robot, robot.target_pose[0], None)
            if self._phase_steps > 0.4 * hz:
                self._next("lift")
            return a
        if ph == "lift":
            goal = np.array([tcp[0], tcp[1], _LIFT_Z]) if self._phase_steps == 1 or self._lift_goal is None else self._lift_goal
            self._lift_goal = goal
            if self.failure == "dropped_object" and self._injected_at is None and cube.bottom > 0.04:
                return self._drop()
            a, there = self._goto(robot, goal, None)
            if self._phase_steps > 0.3 * hz and not self._holding(robot, cube):
                return self._retry()
            if there:
                self._next("hold" if self.task.name == "pick_cube" else "transport")
            return a
        if ph == "transport":
            place = self._place_goal(objs, cube, tcp)
            goal = np.array([place[0], place[1], _LIFT_Z])
            goal = self._with_overshoot(robot, goal)
            yaw_goal = self._carry_yaw(robot, objs, cube)
            if self.failure == "dropped_object" and self._injected_at is None and self._phase_steps > 0.3 * hz:
                return self._drop()
            a, there = self._goto(robot, goal, yaw_goal)
            if not self._holding(robot, cube):
                return self._retry()
            if there and (self._overshoot_goal is None or self._overshoot_goal.size == 0):
                self._next("lower")
            return a
        if ph == "lower":
            goal = self._place_goal(objs, cube, tcp)
            a, there = self._goto(robot, goal, self._carry_yaw(robot, objs, cube), speed=0.5)
            if not self._holding(robot, cube):
                return self._retry()
            if there or self._phase_steps > 3 * hz:
                self._next("release")
            return a
        if ph == "release":
            self._gripper = 0.0
            a, _ = self._goto(robot, robot.target_pose[0], None)
            if self._phase_steps > 0.4 * hz:
                self._next("retreat")
            return a
        if ph == "retreat":
            goal = np.array([tcp[0], tcp[1], _LIFT_Z]) if self._phase_steps == 1 or self._lift_goal is None else self._lift_goal
            self._lift_goal = goal
            a, there = self._goto(robot, goal, None, speed=0.5)
            if there:
                self._next("hold")
            return a
        # "hold" and "dropped": stay put
        return _still(self._gripper)

    def _holding(self, robot: Any, cube: ObjectState) -> bool:
        tcp = robot.observe().ee_pos
        return float(np.linalg.norm(cube.pos - tcp)) < 0.04 and robot.gripper_opening() > 0.05

    def _retry(self) -> np.ndarray:
        """The grasp slipped: go back and try again (a perfect expert recovers, up to 3 times)."""
        self._retries += 1
        self._gripper = 0.0
        self._next("approach" if self._retries <= 3 else "hold")
        return _still(0.0)

    def _drop(self) -> np.ndarray:
        self._injected_at = self._step - 1
        self._gripper = 0.0
        self._next("dropped")
        return _still(0.0)

    def _place_goal(self, objs: dict[str, ObjectState], cube: ObjectState, tcp: np.ndarray) -> np.ndarray:
        """Where the TCP must go so the held cube lands on its destination (closed loop on the cube)."""
        grip_offset = tcp - cube.pos  # where the cube sits in the hand
        if self.task.name == "stack":
            base = objs[self._support]
            dest = np.array([base.pos[0], base.pos[1], base.pos[2] + base.size / 2 + cube.size / 2 + 0.004])
        else:
            tote = objs["bin"]
            dest = np.array([tote.pos[0], tote.pos[1], 0.02 + cube.size / 2])
        goal = dest + grip_offset
        return goal

    def _carry_yaw(self, robot: Any, objs: dict[str, ObjectState], cube: ObjectState) -> float | None:
        """Turn the hand so a stacked cube lines up with the one below."""
        if self.task.name != "stack":
            return None
        _, tmat = robot.target_pose
        current = float(np.arctan2(tmat[1, 0], tmat[0, 0]))
        return current + _wrap(objs[self._support].yaw - cube.yaw, np.pi / 2)

    # --- pushing -----------------------------------------------------------------------

    def _push(self, robot: Any, objs: dict[str, ObjectState]) -> np.ndarray:
        cube, target = objs[self._obj], objs["target_region"]
        tcp = robot.observe().ee_pos
        to_target = target.pos[:2] - cube.pos[:2]
        dist = float(np.linalg.norm(to_target))
        u = to_target / max(dist, 1e-9)
        behind = cube.pos[:2] - u * (cube.size / 2 + 0.045)  # pad half-width 1 cm + room for tracking error
        ph = self._phase
        self._gripper = 1.0
        hz = self._hz
        if ph == "push_approach":
            goal = np.array([behind[0], behind[1], _PUSH_HOVER])
            goal = self._with_overshoot(robot, goal)
            a, there = self._goto(robot, goal, None)
            # Near the base the arm may not reach the exact hover point: close enough over the lane will do.
            near = float(np.linalg.norm(goal[:2] - tcp[:2])) < 0.015 and self._phase_steps > 1.5 * hz
            if (there or near) and (self._overshoot_goal is None or self._overshoot_goal.size == 0):
                self._next("push_descend")
            return a
        if ph == "push_descend":
            # Slow: a fast drop next to the cube lets the arm swing into it and flip it.
            a, there = self._goto(robot, np.array([behind[0], behind[1], _PUSH_Z]), None, speed=0.3)
            if there or self._phase_steps > 3 * hz:
                self._next("push")
            return a
        if ph == "push":
            rel = tcp[:2] - cube.pos[:2]
            lateral = float(rel[0] * -u[1] + rel[1] * u[0])
            along = float(rel @ u)
            if dist < 0.015:
                self._next("push_retreat")
            elif abs(lateral) > 0.02 or along > -cube.size / 2 + 0.005:
                self._next("push_realign")
            elif self.failure == "dropped_object" and self._injected_at is None and self._phase_steps > 0.5 * hz:
                self._injected_at = self._step - 1
                self._next("push_retreat")  # abandons the push midway
            # Contact point: just behind the cube on the line through its centre to the target.
            contact = cube.pos[:2] - u * (cube.size / 2 + 0.008) + u * 0.01
            goal = np.array([contact[0], contact[1], _PUSH_Z])
            # Slow pushes keep the cube sliding, not tumbling; slower still on the final approach.
            v = _PUSH_SPEED if dist > 0.04 else _PUSH_SPEED_NEAR
            speed = min(1.0, (v / hz) / self._max_t)
            a, _ = self._goto(robot, goal, None, speed=speed)
            return a
        if ph == "push_realign":
            a, there = self._goto(robot, np.array([tcp[0], tcp[1], _PUSH_HOVER]), None)
            if there or tcp[2] > _PUSH_HOVER - 0.01:
                self._next("push_approach")
                self._retries += 1
                if self._retries > 6:
                    self._next("hold")
            return a
        if ph == "push_retreat":
            goal = np.array([tcp[0], tcp[1], 0.12])
            a, there = self._goto(robot, goal, None, speed=0.4)
            if there or tcp[2] > 0.11:
                self._next("hold")
            return a
        return _still(self._gripper)

    # --- timeout -------------------------------------------------------------------------

    def _dawdle(self, robot: Any) -> np.ndarray:
        """Wander slowly high above the table with an open gripper until time runs out."""
        tcp = robot.observe().ee_pos
        if self._wander_goal is None or float(np.linalg.norm(self._wander_goal - tcp)) < 0.02:
            self._wander_goal = np.array(
                [self.rng.uniform(0.35, 0.6), self.rng.uniform(-0.2, 0.2), self.rng.uniform(0.2, 0.35)]
            )
        self._gripper = 0.0
        a, _ = self._goto(robot, self._wander_goal, None, speed=0.1)
        return a
