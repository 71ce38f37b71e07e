"""What a `teleforge collect` session is asked for (:class:`CollectConfig`) and the checks that
refuse a mistyped or impossible request before any device opens or any dataset folder is created."""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teleforge.errors import CameraError, DeviceError, RobotError, WindowError
from teleforge.names import check_key
from teleforge.robots.cameras import parse_camera_arg
from teleforge.robots.scene import SceneConfig, build_scene_xml
from teleforge.robots.tasks import get_task
from teleforge.teleop.devices.registry import device_names

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



def camera_names(cfg: CollectConfig) -> list[str]:
    """Recorded camera names, in display order (``camera_sources`` when given)."""
    names = [parse_camera_arg(c).name for c in cfg.camera_sources] if cfg.camera_sources else list(cfg.cameras)
    if len(set(names)) != len(names):
        raise CameraError(f"two cameras share a name in {', '.join(names)}: give each camera its own NAME")
    return names
