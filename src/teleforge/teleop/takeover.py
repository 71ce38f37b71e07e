"""Human-in-the-loop takeover: a policy drives, one button hands control to the operator and back.

:class:`TakeoverDevice` composes two devices -- an *autopilot* (a policy, see
``workflows.policy_device.PolicyDevice``, or any autonomous device that emits native actions)
and the operator's device (gamepad, keyboard, SpaceMouse). ``Event.TAKEOVER`` (keyboard T, gamepad
right-stick click) toggles who is in control. Every command it returns says so in
``Command.intervention``, which the session records per step as ``control.intervention``; the
episode's labels carry the intervention segments (HG-DAgger / RaC-style data).

No jump in the commanded pose, by construction: both sources emit *deltas* of the arm's commanded
tool-tip pose, so a switch changes only the velocity, and the session's safety guard caps the
change of velocity (its acceleration limit). The gripper does not jump either: at takeover the
operator inherits the policy's last gripper target until they press their gripper button; at
hand-back the policy re-plans from the current observation (``resume()``), never replaying a
chunk predicted before the intervention.
"""

from __future__ import annotations

from typing import Any

from teleforge.robots.types import Robot, TaskInfo
from teleforge.teleop.command import Command, Device, Event, Labeller, SceneFollower

__all__ = ["TakeoverDevice", "segments_of"]


def segments_of(flags: list[bool]) -> list[list[int]]:
    """``[start, stop)`` step ranges where ``flags`` is True, in order."""
    out: list[list[int]] = []
    start: int | None = None
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append([start, i])
            start = None
    if start is not None:
        out.append([start, len(flags)])
    return out


class TakeoverDevice:
    """An autopilot with an operator on standby; ``Event.TAKEOVER`` from the operator toggles control."""

    autonomous = True  # the policy starts recording at once and ends the episode on success / STOP

    def __init__(self, autopilot: Device, operator: Device) -> None:
        self.autopilot = autopilot
        self.operator = operator
        self.name = f"{autopilot.name}+{operator.name}"
        self.operator_in_control = False
        self.takeovers = 0
        self._flags: list[bool] = []
        self._policy_gripper = 0.0
        self._op_gripper_at_switch: float | None = None

    # --- Device -----------------------------------------------------------------------
    def open(self) -> None:
        """Open the operator's device first: a missing gamepad fails before the policy loads."""
        self.operator.open()
        self.autopilot.open()

    def close(self) -> None:
        """Close both devices."""
        try:
            self.autopilot.close()
        finally:
            self.operator.close()

    def connected(self) -> bool:
        """The operator's device must be there either way (it carries the e-stop and the takeover button)."""
        ok = self.operator.connected()
        return ok and (self.operator_in_control or self.autopilot.connected())

    def read(self) -> Command:
        """The command of whoever is in control, flagged ``intervention`` while the operator is."""
        op = self.operator.read()
        events: list[Event] = [e for e in op.events if e != Event.TAKEOVER]
        toggles = len(op.events) - len(events)
        for _ in range(toggles):
            self._toggle(op)
        if self.operator_in_control:
            cmd = Command(twist=op.twist, gripper=op.gripper, events=events, t_ns=op.t_ns,
                          native_action=op.native_action, intervention=True)
            if self._op_gripper_at_switch is not None:
                if op.gripper == self._op_gripper_at_switch:
                    cmd.gripper = self._policy_gripper  # keep the grip until the operator changes it
                else:
                    self._op_gripper_at_switch = None
        else:
            ap = self.autopilot.read()
            if ap.native_action is not None:
                self._policy_gripper = float(ap.native_action[-1])
            cmd = Command(twist=ap.twist, gripper=ap.gripper, events=events + list(ap.events), t_ns=ap.t_ns,
                          native_action=ap.native_action, intervention=False)
        self._flags.append(cmd.intervention)
        return cmd

    def _toggle(self, op: Command) -> None:
        self.operator_in_control = not self.operator_in_control
        if self.operator_in_control:
            self.takeovers += 1
            self._op_gripper_at_switch = float(op.gripper)
        else:
            resume = getattr(self.autopilot, "resume", None)
            if callable(resume):
                resume()

    # --- capabilities -------------------------------------------------------------------
    def on_reset(self, robot: Robot, info: TaskInfo) -> None:
        """A new episode starts under the policy."""
        self.operator_in_control = False
        self._op_gripper_at_switch = None
        self._flags = []
        self.takeovers = 0
        for dev in (self.autopilot, self.operator):
            if isinstance(dev, SceneFollower):
                dev.on_reset(robot, info)

    def labels(self) -> dict[str, Any]:
        """``control`` = "policy", the intervention segments (``[start, stop)`` read indices = steps
        of an autonomous episode) and the autopilot's own labels."""
        own = self.autopilot.labels() if isinstance(self.autopilot, Labeller) else {}
        return {**own, "control": "policy", "takeovers": self.takeovers, "interventions": segments_of(self._flags)}

    def key_help(self) -> list[tuple[str, str]]:
        """The takeover control, for the HUD."""
        return [("T / right-stick click", "take over from the policy / hand back")]
