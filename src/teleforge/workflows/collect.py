"""`teleforge collect` as a library call: build the parts (robot, device, safety guard,
recorder, cameras, window) and run one collection session.

The session's settings and their checks live in :mod:`.collect_config`; building the robot,
device, rig and limits in :mod:`.collect_parts`."""

from __future__ import annotations

import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

# The recorder is looked up on its package at call time, so a test can stand in a failing disk.
import teleforge.dataset as tds
from teleforge.dataset import CameraConfig, DatasetSpec, EpisodeEnd, SessionRecord, open_or_create, write_session
from teleforge.errors import DeviceError
from teleforge.progress import Progress, or_null, tracked
from teleforge.robots.tasks import get_task
from teleforge.teleop.command import is_autonomous
from teleforge.teleop.safety import SafetyGuard
from teleforge.teleop.session import CollectionSession, EpisodeResult, SessionConfig, SessionResult
from teleforge.workflows.collect_config import CONTROL_FRAMES, HUMAN_TIME_LIMIT_S, CollectConfig, check_config
from teleforge.workflows.collect_parts import (
    camera_specs,
    control_yaw,
    load_collect_policy,
    make_device,
    make_rig,
    make_robot,
    policy_device,
    safety_config_for,
)
from teleforge.workflows.quality import CatalogReview, QualityTracker

KEY_HELP_FALLBACK = [("ENTER", "start / save success"), ("BACKSPACE", "save failure"), ("X", "discard"),
                     ("Z", "reset scene"), ("ESC", "e-stop / release"), ("SPACE", "gripper")]


def collect(cfg: CollectConfig, progress: Progress | None = None,
            on_episode: Callable[[EpisodeResult], None] | None = None) -> SessionResult:
    """Run one collection session and append its episodes to ``cfg.dataset``.

    Headless sessions report one progress unit per saved episode (discarded ones update the
    counts only); with the operator window the window is the display.
    """
    check_config(cfg)
    if cfg.headless:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

    if cfg.control_frame not in CONTROL_FRAMES:
        raise DeviceError(f"control frame {cfg.control_frame!r} is not one of {', '.join(CONTROL_FRAMES)}")
    if cfg.time_limit_s is not None and not cfg.time_limit_s > 0:
        raise DeviceError(f"the time limit must be positive seconds, got {cfg.time_limit_s}")
    if cfg.headless and cfg.device == "keyboard":
        raise DeviceError("the keyboard needs the operator window: drop --headless, or use --device scripted / gamepad / spacemouse")
    device = make_device(cfg.device, cfg)
    device.open()  # fail fast (absent SpaceMouse, udev permissions) before touching the dataset
    try:
        # Loaded before the dataset is touched: a broken checkpoint must not leave a session record.
        policy = load_collect_policy(cfg) if cfg.policy is not None else None
        return _run(cfg, device, progress, on_episode, policy)
    finally:
        device.close()


def _run(cfg: CollectConfig, device: Any, progress: Progress | None,
         on_episode: Callable[[EpisodeResult], None] | None, policy: Any = None) -> SessionResult:
    robot = make_robot(cfg)
    # The robot's declared limits (workspace, speeds, tool points); conservative for one that declares none.
    limits = safety_config_for(robot)
    or_null(progress).message(f"safety limits in force: {limits.describe()}")
    describe = getattr(robot, "describe_limits", None)
    for line in (describe() if callable(describe) else []):  # a vendor arm's own limits (and SHADOW MODE)
        or_null(progress).message(f"arm limits: {line}", "warning" if "SHADOW" in line else "info")
    specs = camera_specs(cfg)
    spec = DatasetSpec(
        fps=cfg.hz,
        robot_embodiment=robot.embodiment,
        n_joints=robot.n_joints,
        cameras=[CameraConfig(name=s.name, height=s.height, width=s.width, encoding="jpeg", quality=cfg.jpeg_quality,
                              depth=s.depth) for s in specs],
    )
    ds = open_or_create(cfg.dataset, spec)
    # A policy run keeps the operator's view-aligned controls and human time limit: they may take over.
    human = not is_autonomous(device)
    time_limit = cfg.time_limit_s if cfg.time_limit_s is not None else (HUMAN_TIME_LIMIT_S if human else None)
    yaw, frame_name = control_yaw(cfg) if human else (None, "")
    session_cfg = SessionConfig(task=cfg.task, episodes=cfg.episodes, hz=cfg.hz, seed=cfg.seed,
                                operator_id=cfg.operator_id, notes=cfg.notes, time_limit_s=time_limit,
                                control_yaw_rad=yaw, control_frame=frame_name)
    write_session(cfg.dataset, SessionRecord(
        session_id=session_cfg.session_id, operator_id=cfg.operator_id,
        device=("policy+" if policy is not None else "") + getattr(device, "name", cfg.device),
        task=cfg.task, robot_embodiment=robot.embodiment, notes=cfg.notes,
        extras={"hz": cfg.hz, "cameras": [s.name for s in specs],
                **({"camera_sources": list(cfg.camera_sources)} if cfg.camera_sources else {}),
                "image_size": cfg.image_size, "seed": cfg.seed, "safety_limits": limits.describe(),
                **({"policy": cfg.policy} if policy is not None else {}),
                **({"shadow": True} if cfg.shadow else {})},
    ))
    recorder = tds.AsyncRecorder(ds)  # built before the first episode: pyarrow warms up in its writer thread
    rig = make_rig(cfg, robot, specs)
    if policy is not None:  # the operator's device was opened by collect(); the policy needs no opening
        device = policy_device(policy, device, robot, rig)
        or_null(progress).message(f"policy {cfg.policy} drives; {getattr(device.operator, 'name', cfg.device)}'s "
                                  "takeover button (keyboard T, gamepad right-stick click) hands control over and back")
    guard = SafetyGuard(limits)
    window = None
    if not cfg.headless:
        from teleforge.teleop.window import OperatorWindow  # lazy: pygame's display only when there is a window

        window = OperatorWindow([s.name for s in specs], cam_size=(cfg.image_size, cfg.image_size),
                                max_size=cfg.window_max)
        window.open()
    tracker = QualityTracker(cfg.hz, operator_id=cfg.operator_id)
    session = CollectionSession(
        robot, device, guard, recorder, rig,
        session_cfg,
        window=window, on_episode=on_episode, review=CatalogReview(cfg.dataset, tracker),
    )
    # Quality cards are measured on a worker: the control thread only hands over the saved episode.
    cards = ThreadPoolExecutor(max_workers=1, thread_name_prefix="teleforge-card")
    card_limit = time_limit if time_limit is not None else _task_limit(cfg.task)
    card_errors: list[str] = []
    card_lock = threading.Lock()

    def make_card(res: EpisodeResult) -> None:
        try:
            card = tracker.card_for(res, card_limit)
        except Exception as exc:  # feedback must never end a session: say so in the window and go on
            with card_lock:
                card_errors.append(str(exc))
            session.hud.message = f"quality card unavailable: {exc}"
            return
        if not session.hud.recording:  # the operator may already be on the next episode
            session.show_card(card)

    def on_saved(res: EpisodeResult) -> None:
        if res.episode_id is not None and res.file:
            cards.submit(make_card, res)

    key_help = getattr(device, "key_help", None)
    session.hud.key_help = list(key_help() if callable(key_help) else KEY_HELP_FALLBACK)
    try:
        if cfg.headless:
            with tracked(or_null(progress), cfg.episodes, cfg.task) as prog:
                session.on_episode = _chain(on_saved, on_episode, _outcome_counter(prog))
                result = session.run()
        else:
            session.on_episode = _chain(on_saved, on_episode)
            result = session.run()
        cards.shutdown(wait=True)
        shadow_log = list(getattr(robot, "shadow_log", ()) or ()) if cfg.shadow else []
        if shadow_log:  # what would have been sent, in the SDK's units
            or_null(progress).message(f"shadow mode: commands computed, none sent; last: {shadow_log[-1]}", "warning")
        if (result.aborted or "").startswith("interrupted") and recorder.status().recording:
            # Ctrl-C says the episode in progress was kept as unknown: make it so even when the
            # control thread ended before it could finish the episode (close() would leave a .partial).
            saved = recorder.finish(EpisodeEnd("unknown", labels={"interrupted": True}))
            result.episodes.append(EpisodeResult(saved.episode_id, "unknown", saved.num_steps, -1, "", {},
                                                 finalize_s=saved.finalize_s, labels={"interrupted": True},
                                                 task=cfg.task, file=str(saved.file)))
        result.operator_summary = tracker.summary(result.episodes)
        if card_errors:
            result.operator_summary["card_errors"] = card_errors[:3]
    finally:
        cards.shutdown(wait=False)
        if window is not None:
            if cfg.screenshot is not None:
                window.screenshot(cfg.screenshot)
            window.close()
        recorder.close()
    return result


def _task_limit(task: str) -> float | None:
    try:
        return float(get_task(task).time_limit_s)
    except Exception:  # a real cell's task the sim does not know: no limit to compare with
        return None


def _outcome_counter(progress: Progress) -> Callable[[EpisodeResult], None]:
    """Per finished episode: advance by one unless it was discarded, with the outcome counts as status."""
    counts: Counter[str] = Counter()

    def advance(res: EpisodeResult) -> None:
        counts[res.outcome] += 1
        progress.advance(0 if res.outcome == "discarded" else 1, **dict(sorted(counts.items())))

    return advance


def _chain(*fns: Callable[[EpisodeResult], None] | None) -> Callable[[EpisodeResult], None]:
    def call(res: EpisodeResult) -> None:
        for fn in fns:
            if fn is not None:
                fn(res)

    return call
