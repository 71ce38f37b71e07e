"""The collection session: device → safety guard → arm → recorder, on a fixed-rate clock.

One file because the control loop and the episode bookkeeping it drives share the control
thread's state (records in session_records, the window side in session_ui).

Threads and why:
- the **control thread** runs the fixed-rate loop. Per tick it reads the device
  (non-blocking), filters through the guard, records the observation it acted on,
  applies the action and publishes a state snapshot for the cameras. No disk, no
  encoding, no rendering, no UI here.
- **camera threads** (the rig) render/capture at their own fps and publish frames.
- the **recorder pipeline** encodes and writes behind bounded queues.
- the **main thread** owns the operator window (pygame) or, headless, a progress bar.
  It also answers the quit confirmation and runs the quality card's edits (catalog
  writes through ``EpisodeReview``), never the control thread.

Quitting never loses the episode in progress silently: the quit key or closing the
window asks (keep as ``unknown`` / discard / cancel) where there is a window; Ctrl-C,
``stop()`` and headless quits keep it as ``unknown``.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import threading
import time
from dataclasses import asdict, is_dataclass
from typing import Any, Callable

import numpy as np

from teleforge.dataset.records import EpisodeEnd, EpisodeStart, StepRecord
from teleforge.errors import CameraError, RobotError
from teleforge.robots.types import Frame, SceneRobot, SimStateful, Snapshotting, SuccessCheck, TaskInfo
from teleforge.spec import ACTION_DIM
from teleforge.teleop.clock import RateClock
from teleforge.teleop.command import (
    Command,
    Device,
    Event,
    FineModeAware,
    GripperLatch,
    Labeller,
    SceneFollower,
    is_autonomous,
)
from teleforge.teleop.control_frame import rotate_twist
from teleforge.teleop.hud import HudState, QualityCard
from teleforge.teleop.ports import CameraRig, EpisodeReview, Guard, Recorder, ResettableGuard, Window
from teleforge.teleop.session_records import EpisodeResult, SessionConfig, SessionResult, _Episode, end_reason
from teleforge.teleop.session_ui import CARD_KEY_HELP, OperatorUi

__all__ = ["CARD_KEY_HELP", "CameraRig", "CollectionSession", "EpisodeResult", "SceneRobot", "SessionConfig",
           "SessionResult", "end_reason"]


def _vec(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).copy()


class CollectionSession(OperatorUi):
    """Runs a collection session until ``config.episodes`` are saved or the operator quits.

    The caller owns the device (opens it before, closes it after), so a missing
    device fails before anything is created on disk.
    """

    def __init__(
        self,
        robot: SceneRobot,
        device: Device,
        guard: Guard,
        recorder: Recorder,
        rig: CameraRig | None,
        config: SessionConfig,
        window: Window | None = None,
        on_episode: Callable[[EpisodeResult], None] | None = None,
        review: EpisodeReview | None = None,
    ) -> None:
        self.robot = robot
        self.device = device
        self.guard = guard
        self.recorder = recorder
        self.rig = rig
        self.cfg = config
        self.window = window
        self.on_episode = on_episode
        self.review = review
        self.autonomous = is_autonomous(device)
        self.has_check = isinstance(robot, SuccessCheck)
        self.hud = HudState(
            task=config.task,
            target_hz=config.hz,
            device_name=device.name,
            episodes_target=config.episodes,
            outcomes={"success": 0, "failure": 0, "unknown": 0, "discarded": 0},
            control_frame=config.control_frame if not self.autonomous else "",
        )
        self.result = SessionResult(session_id=config.session_id)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._frames: dict[str, np.ndarray | None] = {}
        self._seed_offset = 0
        self._quit_request = threading.Event()  # the window was closed (UI thread -> control thread)
        self._confirm_answer: str | None = None  # "keep" | "discard" | "cancel", from the quit overlay
        self._stop_reason = ""
        self._card: QualityCard | None = None  # the quality card to show (any thread sets it)
        self._card_shown: QualityCard | None = None  # what the window shows (UI thread)
        # A robot that declares a non-native action (a LeRobot follower's joint targets) is driven
        # by Command.joint_action and records that action as declared.
        self._joint_space = tuple(robot.action_spec.shape) != (ACTION_DIM,)

    # ------------------------------------------------------------------ public
    def run(self) -> SessionResult:
        """Blocks until done. The control loop runs in its own thread."""
        old_switch = sys.getswitchinterval()
        # The control thread must get the GIL back quickly after a camera or
        # encoder thread takes it; the default 5 ms switch interval would show up
        # directly as period jitter.
        sys.setswitchinterval(0.0005)
        # Everything built so far (models, renderers, pyarrow) lives for the whole
        # session: move it out of the collector's view so a full collection
        # never pauses the control thread for milliseconds.
        gc.collect()
        gc.freeze()
        if self.rig is not None:
            self.rig.start()
        ctl = threading.Thread(target=self._control_main, name="teleforge-control", daemon=True)
        ctl.start()
        try:
            if self.window is not None:
                self._ui_loop(ctl)
            else:
                while ctl.is_alive():
                    ctl.join(timeout=0.1)
        except KeyboardInterrupt:
            # The control thread keeps the episode in progress as `unknown` on its way out.
            self._stop_reason = "interrupted"
            self.result.aborted = "interrupted (Ctrl-C): the episode in progress was kept as unknown"
            self._stop.set()
            ctl.join(timeout=5)
        finally:
            self._stop.set()
            ctl.join(timeout=10)
            if self.rig is not None:
                self.rig.stop()
            sys.setswitchinterval(old_switch)
            gc.unfreeze()
        if self._error is not None:
            raise self._error
        return self.result

    def stop(self) -> None:
        """Ask the session to end after the current tick (thread-safe); an episode in progress is kept as unknown."""
        self._stop_reason = self._stop_reason or "stopped"
        self._stop.set()

    # ---------------------------------------------------------- control thread
    def _control_main(self) -> None:
        try:
            self._control_loop()
        except BaseException as exc:  # surfaced by run()
            # Never discard here: whatever reached the disk stays as a .partial
            # shard for `teleforge recover`.
            self._error = exc
            self._stop.set()
            try:
                self.robot.hold()
            except Exception:
                pass

    def _reset_scene(self) -> TaskInfo:
        seed = self.cfg.seed + self._seed_offset
        self._seed_offset += 1
        info = self.robot.reset(self.cfg.task, seed)
        if isinstance(self.guard, ResettableGuard):  # speed/gripper history must not leak across episodes
            self.guard.reset()
        if isinstance(self.device, SceneFollower):
            self.device.on_reset(self.robot, info)
        if isinstance(self.device, GripperLatch):  # each scene starts with an open hand
            self.device.release_gripper()
        self.hud.instruction = info.instruction
        self.hud.task = info.task
        self.hud.time_limit_s = self._time_limit(info)
        if self.rig is not None:
            stamp = time.monotonic_ns()
            self.rig.publish(self._snapshot(), stamp)
            self._await_frames(stamp)
        return info

    def _await_frames(self, stamp: int, timeout_s: float = 10.0, first_timeout_s: float = 30.0) -> None:
        """Between episodes only: wait until every camera shows the new scene, so
        the first recorded step already carries an image of it. A camera that has never
        delivered a frame gets ``first_timeout_s``: its first frame includes start-up (a USB
        camera's auto-exposure, Mesa compiling the sim's shaders). The old 5 s limit for every
        reset ran out once in a CI run on a 2-core machine that was also running the demo."""
        assert self.rig is not None
        start = time.monotonic()
        for cam in self.rig.cameras.values():
            limit = timeout_s if cam.latest() is not None else first_timeout_s
            while not self._stop.is_set():
                f = cam.latest()
                if f is not None and f.t_ns >= stamp:
                    break
                if time.monotonic() - start > limit:
                    raise CameraError(
                        f"camera {cam.spec.name!r} delivered no frame within {limit:.0f} s of a reset; "
                        "check MUJOCO_GL=egl (sim) or the camera connection (real)"
                    )
                time.sleep(0.002)

    def _snapshot(self) -> np.ndarray:
        return self.robot.state_snapshot() if isinstance(self.robot, Snapshotting) else np.zeros(0)

    def _start_episode(self, ep: _Episode, clock: RateClock) -> None:
        info = ep.info
        extras: dict[str, Any] = {"time_limit_s": self._time_limit(info)}
        extras.update(info.extras or {})
        if isinstance(self.device, Labeller):
            extras["device_labels"] = self.device.labels()
        if not self.autonomous and self.cfg.control_yaw_rad is not None:
            extras["control_frame"] = {"name": self.cfg.control_frame, "yaw_rad": float(self.cfg.control_yaw_rad)}
        # The full sim state at the first recorded step: the arm may have moved in
        # standby before START, so replay restores this instead of trusting the seed alone.
        if isinstance(self.robot, SimStateful):
            extras["initial_sim_state"] = [float(x) for x in self.robot.get_sim_state()]
        self.recorder.start_episode(
            EpisodeStart(
                task=info.task,
                instruction=info.instruction,
                robot_embodiment=self.robot.embodiment,
                seed=info.seed,
                device=self.device.name,
                operator_id=self.cfg.operator_id,
                session_id=self.cfg.session_id,
                fps=self.cfg.hz,
                extras=extras,
            )
        )
        clock.reset_stats()
        ep.recording, ep.step, ep.success_since = True, 0, None
        self.hud.recording = True
        self.hud.elapsed_s = 0.0
        self.hud.end_reason = ""
        self._card = None  # the next episode begins: the last one's card goes away

    def _time_limit(self, info: TaskInfo) -> float:
        return float(self.cfg.time_limit_s if self.cfg.time_limit_s is not None else info.time_limit_s)

    def _finish_episode(self, outcome: str, ep: _Episode, clock: RateClock, labels: dict[str, Any]) -> None:
        info, steps = ep.info, ep.step
        ep.recording = False
        loop = clock.stats.summary()
        status = self.recorder.status()
        loop["recorder"] = asdict(status) if is_dataclass(status) and not isinstance(status, type) else {}
        self.hud.recording = False
        wall = time.monotonic() - ep.scene_t
        if outcome == "discarded":
            self.recorder.discard()
            res = EpisodeResult(None, "discarded", steps, info.seed, info.instruction, loop, wall_s=wall, task=info.task)
            self.hud.message = f"discarded the episode in progress ({steps} steps)"
            self.hud.end_reason = "discarded by the operator"
        else:
            if isinstance(self.device, Labeller):
                labels = {**self.device.labels(), **labels}
            labels = {**labels, **self._check_labels(outcome, ep, labels.get("ended_by", ""))}
            t0 = time.perf_counter()
            summary = self.recorder.finish(EpisodeEnd(outcome=outcome, loop_stats=loop, labels=labels))
            fin = time.perf_counter() - t0
            ep_id = summary.episode_id
            number = self._saved() + 1
            res = EpisodeResult(ep_id, outcome, steps, info.seed, info.instruction, loop, fin, number=number,
                                labels=dict(labels), wall_s=wall, task=info.task,
                                file=str(getattr(summary, "file", "") or ""))
            reason = end_reason(labels.get("ended_by", ""), outcome, self._time_limit(info))
            self.hud.end_reason = reason
            of = f" of {self.cfg.episodes}" if self.cfg.episodes else ""
            self.hud.message = f"saved episode {number}{of} as {outcome}: {reason} (dataset id {ep_id}, {steps} steps)"
        self.hud.outcomes[res.outcome] = self.hud.outcomes.get(res.outcome, 0) + 1
        self.result.episodes.append(res)
        if res.outcome != "discarded":
            self.hud.episode_index += 1
        if self.on_episode is not None:
            self.on_episode(res)

    def _check_labels(self, outcome: str, ep: _Episode, ended_by: str) -> dict[str, Any]:
        """The operator's label next to the robot's success check, and whether they disagree."""
        out: dict[str, Any] = {}
        if ended_by == "operator":
            out["operator_outcome"] = outcome
        if self.has_check and ep.success is not None:
            out["success_check"] = bool(ep.success)
            op = out.get("operator_outcome")
            out["label_disagrees"] = op in ("success", "failure") and (op == "success") != bool(ep.success)
        return out

    def _saved(self) -> int:
        return sum(1 for e in self.result.episodes if e.outcome != "discarded")

    def _control_loop(self) -> None:
        cfg = self.cfg
        clock = RateClock(cfg.hz)
        dt = 1.0 / cfg.hz
        self.robot.connect()
        ep = self._new_scene(clock)
        last_cmd_ns = time.monotonic_ns()
        while not self._stop.is_set() and self._saved() < cfg.episodes:
            tick, deadline = clock.wait()
            if ep.recording and ep.step == 0:
                ep.start_tick = tick

            cmd: Command = self.device.read()
            connected = self.device.connected()
            if cmd.t_ns:
                last_cmd_ns = cmd.t_ns
            elif connected:
                last_cmd_ns = tick
            self.guard.handle_events(cmd.events)

            # Episode controls first: they decide whether this tick is recorded.
            decision = self._decide(cmd.events, ep.recording)
            if decision == "quit" or self._quit_request.is_set():
                self._quit_request.clear()
                if not ep.recording:
                    self.result.aborted = "operator quit"
                    break
                if self.window is None:  # nobody to ask: keep what was recorded
                    self._finish_episode("unknown", ep, clock, {"ended_by": "quit"})
                    self.result.aborted = "operator quit (the episode in progress was kept as unknown)"
                    break
                self._confirm_answer = None
                self.hud.confirm_quit = True
            if self.hud.confirm_quit:
                answer, self._confirm_answer = self._confirm_answer, None
                if answer == "keep":
                    self.hud.confirm_quit = False
                    self._finish_episode("unknown", ep, clock, {"ended_by": "quit"})
                    self.result.aborted = "operator quit (the episode in progress was kept as unknown)"
                    break
                if answer == "discard":
                    self.hud.confirm_quit = False
                    self._finish_episode("discarded", ep, clock, {})
                    self.result.aborted = "operator quit (the episode in progress was discarded, as asked)"
                    break
                if answer == "cancel":
                    self.hud.confirm_quit = False
                else:  # waiting for the answer: the arm holds, nothing is recorded
                    self.robot.hold()
                    if self.rig is not None:
                        self.rig.publish(self._snapshot(), deadline + clock.period_ns)
                    continue
            if decision == "start" and not ep.recording:
                self._start_episode(ep, clock)
                ep.start_tick = tick
            elif decision in ("success", "failure", "unknown", "discarded") and ep.recording:
                self._finish_episode(decision, ep, clock, {"ended_by": "operator"})
                ep = self._new_scene(clock)
                continue
            elif decision == "reset":
                if ep.recording:
                    self._finish_episode("discarded", ep, clock, {})
                ep = self._new_scene(clock)
                continue

            state = self.robot.observe()
            if self._joint_space:
                action, gstatus = self._joint_action(cmd, state.ee_pos, tick, last_cmd_ns, connected, dt)
            else:
                guard_cmd = cmd
                if cfg.control_yaw_rad is not None and cmd.native_action is None:  # a twist from a person (also mid-takeover)
                    # View-aligned controls: the device's forward/left are the main camera's.
                    guard_cmd = dataclasses.replace(cmd, twist=rotate_twist(cmd.twist, cfg.control_yaw_rad))
                action = self.guard.command_to_action(guard_cmd, state.ee_pos, dt)
                action, gstatus = self.guard.filter(action, state.ee_pos, tick, last_cmd_ns, connected, dt,
                                                    ee_quat=state.ee_quat)
            # Apply exactly what is recorded (float32) so a replay is bit-identical.
            action = _vec(action)
            self.hud.safety = "estop" if gstatus.estop else ("hold" if gstatus.hold else "ok")
            self.hud.safety_reason = gstatus.reason
            self.hud.device_connected = connected
            self.hud.gripper_cmd = float(action[-1]) if cmd.native_action is not None else float(cmd.gripper)
            self.hud.gripper_open = float(state.gripper)
            self.hud.fine_mode = bool(self.device.fine) if isinstance(self.device, FineModeAware) else None

            frames: dict[str, Frame | None] = {}
            cams = self.rig.cameras if self.rig is not None else {}
            if self.rig is not None:
                for name, cam in cams.items():
                    frames[name] = cam.latest()

            act = self.robot.hold() if (gstatus.hold or gstatus.estop) else self.robot.act(action)
            success = bool(self.robot.success())
            if self.has_check:
                self.hud.success_check = success
            if self.rig is not None:
                # act() advanced the world by one period: the published state is
                # the world at the next deadline, which is what those frames depict.
                self.rig.publish(self._snapshot(), deadline + clock.period_ns)

            if not ep.recording:
                self._update_hud(clock, 0.0, frames, tick)
                continue
            rec = StepRecord(
                step=ep.step,
                tick_ns=tick,
                action=action,
                joint_pos=_vec(state.joint_pos),
                joint_vel=_vec(state.joint_vel),
                ee_pos=_vec(state.ee_pos),
                ee_quat=_vec(state.ee_quat),
                gripper=float(state.gripper),
                target_ee_pos=_vec(act.target_ee_pos),
                target_ee_quat=_vec(act.target_ee_quat),
                target_joint_pos=_vec(act.target_joint_pos),
                command_twist=_vec(cmd.twist),
                command_gripper=float(cmd.gripper),
                reward=1.0 if success else 0.0,
                success=success,
                hold=bool(gstatus.hold),
                estop=bool(gstatus.estop),
                clamped=bool(gstatus.clamped or act.clamped),
                intervention=bool(cmd.intervention),
                state_extras={k: _vec(v) for k, v in state.extras.items()},
            )
            for name, f in frames.items():
                if f is None:  # stalled, unplugged or ended: a null image, listed in the loop stats
                    clock.stats.add_missing_frame(name, ep.step)
                    continue
                rec.images[name] = f.image
                rec.image_t_ns[name] = f.t_ns
                rec.image_seq[name] = f.seq
                clock.stats.add_frame_age(name, tick - f.t_ns)
                if f.depth is not None:
                    rec.depth[name] = f.depth
                elif getattr(getattr(cams.get(name), "spec", None), "depth", False):
                    clock.stats.add_missing_frame(f"{name}.depth", ep.step)  # colour came, its depth did not
            self.recorder.submit(rec)
            clock.stats.add_work(time.monotonic_ns() - tick)
            ep.step += 1
            ep.success = success if self.has_check else None
            elapsed = (tick - ep.start_tick) / 1e9
            self._update_hud(clock, elapsed, frames, tick)

            ep.success_since = (ep.success_since or tick) if success else None
            ended_by = None
            if self.autonomous and ep.success_since is not None and (tick - ep.success_since) / 1e9 >= cfg.success_hold_s:
                ended_by = "success"
            elif elapsed >= self._time_limit(ep.info):
                ended_by = "time_limit"
            elif self.autonomous and Event.STOP in cmd.events:
                ended_by = "device_stopped"
            if ended_by is not None:
                # The task's predicate decides the outcome, whoever ended the episode.
                self._finish_episode("success" if success else "failure", ep, clock, {"ended_by": ended_by})
                if self._saved() >= cfg.episodes:
                    break
                ep = self._new_scene(clock)
        if ep.recording:
            # Stopped from outside (Ctrl-C, stop(), the episodes target reached elsewhere): keep, never drop.
            self._finish_episode("unknown", ep, clock, {"ended_by": self._stop_reason or "stopped"})
        self.robot.disconnect()

    def _joint_action(self, cmd: Command, ee_pos: np.ndarray, tick: int, last_cmd_ns: int, connected: bool,
                      dt: float) -> tuple[np.ndarray, Any]:
        """A joint-space step: the guard decides hold / e-stop (watchdog, device lost) on a still
        native action; the robot's declared limits bound the joint targets themselves."""
        width = int(np.prod(self.robot.action_spec.shape))
        _, gstatus = self.guard.filter(np.zeros(ACTION_DIM, np.float32), ee_pos, tick, last_cmd_ns, connected, dt)
        if cmd.joint_action is None:
            gstatus.hold = True
            gstatus.reason = gstatus.reason or "waiting for the joint-space device's first reading"
            return np.zeros(width, np.float32), gstatus
        a = np.asarray(cmd.joint_action, np.float32).reshape(-1)
        if a.shape != (width,):
            raise RobotError(f"the device sends {a.shape[0]} joint targets, the robot declares {width}; "
                             "pair a leader and a follower with the same motors")
        return a.copy(), gstatus

    def _new_scene(self, clock: RateClock) -> _Episode:
        """Reset the scene (next seed), re-anchor the clock, and start recording
        right away for autonomous devices."""
        ep = _Episode(info=self._reset_scene())
        clock.start()
        if self.autonomous:
            self._start_episode(ep, clock)
        return ep

    def _decide(self, events: list[Event], recording: bool) -> str | None:
        for ev in events:
            if ev == Event.QUIT:
                return "quit"
            if ev == Event.START:
                return "start" if not recording else "success"
            if ev == Event.SAVE_SUCCESS:
                return "success" if recording else "start"
            if ev == Event.SAVE_FAILURE:
                return "failure"
            if ev == Event.STOP:
                return None if self.autonomous else "unknown"
            if ev == Event.DISCARD:
                return "discarded"
            if ev == Event.RESET:
                return "reset"
        return None

    def _update_hud(self, clock: RateClock, elapsed: float, frames: dict[str, Frame | None], tick: int) -> None:
        st = clock.stats
        self.hud.elapsed_s = elapsed
        n = len(st.tick_ns)
        if n >= 2 and n % 10 == 0:  # cheap: every 10 ticks, over the last 100
            recent: np.ndarray = np.diff(np.asarray(st.tick_ns[-100:], dtype=np.int64)) / 1e6  # ms
            self.hud.loop_hz = float(1e3 / recent.mean())
            self.hud.jitter_p99_ms = float(np.percentile(np.abs(recent - st.period_ns / 1e6), 99))
            self.hud.missed_deadlines = st.missed
            rs = self.recorder.status()
            self.hud.recorder_behind = bool(rs.behind)
            self.hud.queue_depth = int(rs.queue_depth)
        for name, f in frames.items():
            self.hud.frame_age_ms[name] = float("nan") if f is None else (tick - f.t_ns) / 1e6
