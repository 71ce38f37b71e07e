"""`teleforge collect` as a library call: build the parts (robot, device, safety guard,
recorder, cameras, window) and run one collection session."""

from __future__ import annotations

import difflib
import os
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# The recorder is looked up on its package at call time, so a test can stand in a failing disk.
import teleforge.dataset as tds
from teleforge.dataset import CameraConfig, DatasetSpec, EpisodeEnd, SessionRecord, open_or_create, write_session
from teleforge.errors import CameraError, DeviceError, RobotError, WindowError
from teleforge.names import check_key
from teleforge.progress import Progress, or_null, tracked
from teleforge.robots.cameras import CameraSet, open_camera, parse_camera_arg
from teleforge.robots.remote import RemoteRobot
from teleforge.robots.scene import SceneConfig, build_scene_xml
from teleforge.robots.sim_cameras import SimCameraRig
from teleforge.robots.sim_robot import SimRobot, scene_camera_pose
from teleforge.robots.tasks import get_task
from teleforge.robots.types import CameraSpec
from teleforge.teleop.command import is_autonomous
from teleforge.teleop.control_frame import camera_yaw
from teleforge.teleop.devices.registry import device_names
from teleforge.teleop.devices.registry import make_device as make_hw
from teleforge.teleop.expert_device import ExpertDevice
from teleforge.teleop.safety import SafetyConfig, SafetyGuard
from teleforge.teleop.session import CollectionSession, EpisodeResult, SessionConfig, SessionResult
from teleforge.teleop.takeover import TakeoverDevice
from teleforge.workflows.policy_device import PolicyDevice
from teleforge.workflows.quality import CatalogReview, QualityTracker

KEY_HELP_FALLBACK = [("ENTER", "start / save success"), ("BACKSPACE", "save failure"), ("X", "discard"),
                     ("Z", "reset scene"), ("ESC", "e-stop / release"), ("SPACE", "gripper")]
# A person at a keyboard needs longer than the tasks' scripted-expert limits (20-30 s).
HUMAN_TIME_LIMIT_S = 60.0
CONTROL_FRAMES = ("view", "base")


@dataclass
class CollectConfig:
    """Everything `teleforge collect` needs; defaults are the operator's usual session."""

    dataset: Path = Path("teleforge_data")
    device: str = "keyboard"
    # "sim" (the embedded workcell) or a `teleforge serve-robot` address, e.g. tcp://127.0.0.1:5555
    robot: str = "sim"
    robot_token: str | None = None
    task: str = "pick_cube"
    episodes: int = 10
    hz: float = 20.0
    cameras: tuple[str, ...] = ("front", "wrist")
    image_size: int = 224
    camera_fps: float = 30.0
    jpeg_quality: int = 95
    headless: bool = False
    operator_id: str = "operator"
    notes: str = ""
    seed: int = 0
    quality: float = 1.0  # scripted expert
    failure: str | None = None  # scripted expert
    failure_rate: float | None = None  # scripted expert: share of episodes with an injected failure
    screenshot: Path | None = None
    device_config: dict[str, Any] = field(default_factory=dict)
    # Episode time limit (s). None: HUMAN_TIME_LIMIT_S for human devices, the task's own for scripted.
    time_limit_s: float | None = None
    # Human devices: "view" = forward/left as the main camera shows them, "base" = the robot's x/y.
    control_frame: str = "view"
    window_max: tuple[int, int] | None = None  # px the window must fit in (None: the desktop)
    # ``--camera NAME=SOURCE`` entries (robots.cameras.parse_camera_arg); when given they replace
    # ``cameras``: NAME=sim renders the scene camera, anything else is captured (files loop).
    camera_sources: tuple[str, ...] = ()
    # Human-in-the-loop: a policy drives the arm and ``device`` is the operator's, whose takeover
    # button hands control over and back. "bundled", a checkpoint folder, or a reference policy
    # ("expert": the sim's scripted oracle, "zero": never moves). None: the device drives.
    policy: str | None = None
    # Vendor arms (xarm://HOST, ur://HOST): compute and show every command, send no motion.
    shadow: bool = False
    # Cameras that also record depth (uint16 mm, lossless): sim cameras render it, RealSense streams it.
    depth_cameras: tuple[str, ...] = ()


ROBOT_SCHEMES = ("tcp://", "xarm://", "ur://")
REFERENCE_POLICIES = ("expert", "zero")


def collect_devices() -> list[str]:
    """Every ``--device`` name ``collect`` accepts, sorted."""
    return sorted({*device_names(), "scripted"})


def scene_cameras() -> list[str]:
    """The cameras the sim scene renders (also for served arms: frames are rendered here)."""
    import mujoco  # lazy: only to read the scene's camera names

    model = mujoco.MjModel.from_xml_string(build_scene_xml(SceneConfig()))
    return sorted(model.camera(i).name for i in range(model.ncam))


def _display_available() -> bool:
    if sys.platform in ("win32", "darwin") or os.environ.get("SDL_VIDEODRIVER"):
        return True  # an explicit SDL driver (e.g. dummy, for screenshots) is the caller's choice
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def check_config(cfg: CollectConfig) -> None:
    """Refuse a mistyped device, task or camera, or a window without a display, before any device
    opens or any dataset folder is created (a typo must not lock a new dataset to the wrong setup)."""
    valid = collect_devices()
    if cfg.device not in valid:
        close = difflib.get_close_matches(cfg.device, valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DeviceError(f"unknown device {cfg.device!r}{hint}; valid devices: {', '.join(valid)}")
    check_robot(cfg)
    check_policy(cfg)
    get_task(cfg.task)
    known = scene_cameras()
    # With --camera NAME=SOURCE only NAME=sim must be a scene camera; captured ones may have any valid name.
    sim_cams = ([p.name for p in map(parse_camera_arg, cfg.camera_sources) if p.is_sim] if cfg.camera_sources
                else list(cfg.cameras))
    for cam in camera_names(cfg):
        check_key(cam, "camera name")
        if cam in sim_cams and cam not in known:
            close = difflib.get_close_matches(cam, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise CameraError(f"camera {cam!r} is not in the scene{hint}: choose from {', '.join(known)}")
    check_depth(cfg)
    if not cfg.headless and not _display_available():
        raise WindowError("no display here, and collect needs the operator window: run it on a desktop session, or "
                          "use --device gamepad / spacemouse / scripted with --headless (`teleforge devices` lists them)")


def check_depth(cfg: CollectConfig) -> None:
    """``depth_cameras`` must be recorded cameras whose source delivers depth (a sim camera or a RealSense)."""
    names = camera_names(cfg)
    sources = {p.name: p for p in map(parse_camera_arg, cfg.camera_sources)}
    for cam in cfg.depth_cameras:
        if cam not in names:
            raise CameraError(f"--depth {cam!r} is not a recorded camera; record depth from one of {', '.join(names)}")
        src = sources.get(cam)
        if src is not None and not src.is_sim and not src.source.startswith("realsense"):
            raise CameraError(f"camera {cam!r} ({src.source}) has no depth sensor: record depth from a sim camera "
                              f"or a RealSense ({cam}=realsense[:SERIAL])")


def check_robot(cfg: CollectConfig) -> None:
    """Refuse an unknown ``--robot`` scheme, an address without a host, or ``--shadow`` on an arm
    that has no shadow mode, before anything connects."""
    url = cfg.robot
    if url != "sim" and not url.startswith(ROBOT_SCHEMES):
        raise RobotError(f"unknown robot {url!r}: use 'sim', tcp://HOST:PORT (`teleforge serve-robot`), "
                         "xarm://HOST (UFactory xArm) or ur://HOST (Universal Robots)")
    if url != "sim" and not url.split("://", 1)[1].strip("/"):
        raise RobotError(f"robot address {url!r} has no host: write it as {url.split('://', 1)[0]}://HOST")
    if cfg.shadow and not url.startswith(("xarm://", "ur://")):
        raise RobotError("--shadow needs a vendor arm (xarm://HOST or ur://HOST); the sim and served arms have no shadow mode")


def check_policy(cfg: CollectConfig) -> None:
    """Refuse a policy run the operator could not take over, or a checkpoint that is not there."""
    if cfg.policy is None:
        return
    if cfg.device == "scripted":
        raise DeviceError("--policy needs an operator device to take over with: use --device keyboard / gamepad / spacemouse")
    if cfg.policy == "expert" and cfg.robot != "sim":
        raise DeviceError("--policy expert is the sim's scripted oracle: use it with --robot sim, or give a checkpoint")
    if cfg.policy not in ("bundled", *REFERENCE_POLICIES) and not Path(cfg.policy).is_dir():
        raise DeviceError(f"no checkpoint folder at {cfg.policy!r}: give a `teleforge train` run folder, 'bundled', "
                          f"or a reference policy ({', '.join(REFERENCE_POLICIES)})")


def load_collect_policy(cfg: CollectConfig) -> Any:
    """The policy named by ``cfg.policy`` (reference policies see the recorded cameras at ``image_size``)."""
    from teleforge.train_adapter.reference import ExpertPolicy, ZeroPolicy  # lazy: only for policy runs

    cams = tuple(camera_names(cfg))
    if cfg.policy == "expert":
        return ExpertPolicy(cfg.task, cameras=cams, image_size=cfg.image_size, control_hz=cfg.hz)
    if cfg.policy == "zero":
        return ZeroPolicy(cameras=cams, image_size=cfg.image_size, control_hz=cfg.hz)
    from teleforge.train_adapter.checkpoint import load_policy  # lazy: torch only when a checkpoint runs

    return load_policy(cfg.policy or "bundled")


def policy_device(policy: Any, operator: Any, robot: Any, rig: Any) -> TakeoverDevice:
    """``policy`` drives ``robot`` from the session's camera ``rig``; ``operator`` takes over with its button."""
    cams = getattr(rig, "cameras", {}) if rig is not None else {}

    def frames(name: str) -> Any:
        cam = cams.get(name)
        frame = cam.latest() if cam is not None else None
        return None if frame is None else frame.image

    bind = getattr(policy, "bind", None)
    if callable(bind):  # the scripted oracle reads the sim's state
        bind(robot)
    return TakeoverDevice(PolicyDevice(policy, robot, frames), operator)


def make_device(name: str, cfg: CollectConfig) -> Any:
    """The device for ``name``; 'scripted' is the sim's privileged expert."""
    if name == "scripted":
        return ExpertDevice(quality=cfg.quality, failure=cfg.failure, failure_rate=cfg.failure_rate)
    return make_hw(name, **cfg.device_config)


def make_robot(cfg: CollectConfig) -> Any:
    """The embedded sim, a remote arm served by `teleforge serve-robot`, or a vendor arm
    (xarm://HOST, ur://HOST) built from its config with ``cfg.shadow`` (SDKs import at connect)."""
    check_robot(cfg)
    if cfg.robot == "sim":
        return SimRobot(control_hz=cfg.hz)
    if cfg.robot.startswith("tcp://"):
        return RemoteRobot(cfg.robot, token=cfg.robot_token or os.environ.get("TELEFORGE_ROBOT_TOKEN"))
    host = cfg.robot.split("://", 1)[1].strip("/")
    if cfg.robot.startswith("xarm://"):
        from teleforge.robots.vendors.xarm import XArmConfig, XArmRobot  # lazy: vendor code only for vendor arms

        return XArmRobot(XArmConfig(host=host, control_hz=cfg.hz, shadow=cfg.shadow, task=cfg.task))
    from teleforge.robots.vendors.ur import URConfig, URRobot

    return URRobot(URConfig(host=host, control_hz=cfg.hz, shadow=cfg.shadow, task=cfg.task))


def safety_config_for(robot: Any) -> SafetyConfig:
    """The guard's limits for ``robot``: its declared ``safety_limits``; for a vendor arm, conservative
    limits inside its declared ``ArmLimits`` (tool-tip box and speed caps), so guard and arm agree."""
    arm = getattr(robot, "limits", None)
    if getattr(robot, "safety_limits", None) is None and arm is not None and hasattr(arm, "max_tcp_speed"):
        base = SafetyConfig.conservative()
        name = getattr(robot, "embodiment", None) or getattr(robot, "name", "arm")
        return SafetyConfig.conservative(workspace_min=tuple(arm.workspace_min), workspace_max=tuple(arm.workspace_max),
                                         max_speed=min(base.max_speed, float(arm.max_tcp_speed)),
                                         max_rot_speed=min(base.max_rot_speed, float(arm.max_rot_speed)),
                                         source=f"declared by {name} (conservative defaults inside its limits)")
    return SafetyConfig.for_robot(robot)


def safety_limits_by_robot() -> dict[str, str]:
    """What the safety guard enforces for each kind of robot ``collect`` can drive, one line each."""
    return {"sim": SafetyConfig.for_robot(SimRobot()).describe(),
            "tcp:// arms that declare none": SafetyConfig.for_robot(None).describe()}


def camera_names(cfg: CollectConfig) -> list[str]:
    """Recorded camera names, in display order (``camera_sources`` when given)."""
    names = [parse_camera_arg(c).name for c in cfg.camera_sources] if cfg.camera_sources else list(cfg.cameras)
    if len(set(names)) != len(names):
        raise CameraError(f"two cameras share a name in {', '.join(names)}: give each camera its own NAME")
    return names


def camera_specs(cfg: CollectConfig) -> list[CameraSpec]:
    """The cameras to open, at the session's image size and rate (``depth`` for ``cfg.depth_cameras``)."""
    return [CameraSpec(name=c, height=cfg.image_size, width=cfg.image_size, fps=cfg.camera_fps,
                       depth=c in cfg.depth_cameras) for c in camera_names(cfg)]


def make_rig(cfg: CollectConfig, robot: Any, specs: list[CameraSpec]) -> Any:
    """Sim renderers for the sim cameras (a served sim is rendered here from its state
    snapshots, same scene built from code) plus capture threads for the real ones."""
    parsed = [parse_camera_arg(c) for c in cfg.camera_sources]
    sources = {p.name: p for p in parsed}
    sim_specs = [s for s in specs if s.name not in sources or sources[s.name].is_sim]
    scene = robot if isinstance(robot, SimRobot) else build_scene_xml(SceneConfig())
    sim_rig = SimCameraRig(scene, sim_specs) if sim_specs else None
    if all(p.is_sim for p in parsed):
        return sim_rig
    cams: dict[str, Any] = {}
    for s in specs:
        src = sources.get(s.name)
        cams[s.name] = open_camera(src, s) if src is not None and not src.is_sim else sim_rig.cameras[s.name]  # type: ignore[union-attr]
    return CameraSet(cams, sim_rig)


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


def control_yaw(cfg: CollectConfig) -> tuple[float | None, str]:
    """Heading (rad) of the main camera for view-aligned controls, and the frame's name for the HUD.

    The main camera is ``front`` when recorded, else the first fixed (non-wrist) camera;
    ``--control-frame base`` (or no fixed camera) keeps the robot's base frame.
    """
    if cfg.control_frame == "base":
        return None, "robot base"
    names = camera_names(cfg)
    fixed = [c for c in names if c != "wrist"]
    main = "front" if "front" in names else (fixed[0] if fixed else None)
    if main is None:
        return None, "robot base"
    _pos, rot, _fovy = scene_camera_pose(main)
    return camera_yaw(rot), f"{main} view"


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
