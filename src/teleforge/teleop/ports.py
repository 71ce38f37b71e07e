"""The collection session's seams: what it needs from a guard, a recorder, a window
and a camera rig. The real parts (``SafetyGuard``, ``dataset.AsyncRecorder``,
``OperatorWindow``, ``robots.sim_cameras.SimCameraRig``) satisfy them; tests pass
small fakes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from teleforge.dataset.records import EpisodeEnd, EpisodeStart, StepRecord
from teleforge.robots.types import Camera
from teleforge.teleop.command import Command, Event
from teleforge.teleop.hud import HudState, QualityCard


class GuardVerdict(Protocol):
    """What the guard decided for one tick (``teleforge.teleop.safety.GuardStatus``)."""

    hold: bool  # hold the arm this tick
    estop: bool  # the e-stop is latched
    clamped: bool  # a limit changed the command
    reason: str  # why, for the HUD


class Guard(Protocol):
    """Sits between every command source and the arm (``teleforge.teleop.safety.SafetyGuard``)."""

    def handle_events(self, events: Iterable[Event]) -> None:
        """Latch / release the e-stop from the device's events."""
        ...

    def command_to_action(self, cmd: Command, ee_pos: np.ndarray, dt: float) -> np.ndarray:
        """The native (ACTION_DIM,) action for this step; ``ee_pos`` (3,) m, ``dt`` s."""
        ...

    def filter(
        self, action: np.ndarray, ee_pos: np.ndarray, now_ns: int, last_cmd_ns: int, connected: bool, dt: float
    ) -> tuple[np.ndarray, GuardVerdict]:
        """Apply the limits and the watchdog: the action to apply and why."""
        ...


@runtime_checkable
class ResettableGuard(Protocol):
    """A guard with per-episode history (speed, gripper) to clear between episodes."""

    def reset(self) -> None:
        """Forget the previous episode's history."""
        ...


class SavedEpisode(Protocol):
    """What finishing an episode returns (``dataset.writer.EpisodeSummary``)."""

    episode_id: int


class RecorderState(Protocol):
    """The recorder's health, read every few ticks (``dataset.recorder.RecorderStatus``)."""

    queue_depth: int  # steps submitted, not yet on disk
    behind: bool  # queue above its nominal capacity


class Recorder(Protocol):
    """Takes steps from the control thread without blocking it (``dataset.AsyncRecorder``)."""

    def start_episode(self, start: EpisodeStart) -> None:
        """Begin an episode (no disk I/O on the caller's thread)."""
        ...

    def submit(self, rec: StepRecord) -> None:
        """Queue one step; never blocks."""
        ...

    def finish(self, end: EpisodeEnd) -> SavedEpisode:
        """Wait for the queued steps, then finalize the episode."""
        ...

    def discard(self) -> None:
        """Throw the current episode away."""
        ...

    def status(self) -> RecorderState:
        """A cheap snapshot of the pipeline (a dataclass: it is copied into the loop stats)."""
        ...


class Window(Protocol):
    """The operator's view, owned by the main thread (``teleforge.teleop.window.OperatorWindow``)."""

    def poll_events(self) -> list[Any]:
        """Input events since the last call (pygame events)."""
        ...

    def draw(self, hud: HudState, frames: dict[str, np.ndarray | None]) -> None:
        """Draw the HUD and the newest (H, W, 3) uint8 frame of each camera."""
        ...

    def show_card(self, card: QualityCard | None) -> None:
        """Show the quality card of the episode just saved (None: hide it). Called on the UI thread."""
        ...


@runtime_checkable
class EpisodeReview(Protocol):
    """Edits to an episode already saved, from the quality card's keys (workflows: catalog edits;
    the shard itself never changes, so both are undoable with `teleforge curate`)."""

    def discard(self, episode_id: int) -> None:
        """Hide a saved episode (soft delete: `teleforge curate restore` brings it back)."""
        ...

    def relabel(self, episode_id: int, outcome: str) -> None:
        """Override a saved episode's outcome (success | failure | unknown)."""
        ...


class CameraRig(Protocol):
    """Cameras that need the robot state (sim renderers); real cameras ignore publish."""

    @property
    def cameras(self) -> Mapping[str, Camera]:
        """Camera name -> camera, in display order."""
        ...

    def publish(self, qpos: np.ndarray, t_ns: int) -> None:
        """Hand the renderers the world state at ``t_ns`` (session clock)."""
        ...

    def start(self) -> None:
        """Start every camera thread."""
        ...

    def stop(self) -> None:
        """Stop every camera thread."""
        ...
