"""The parts a `teleforge collect` session is built from: robot, operator device (or a policy
with the operator's takeover), camera rig, safety limits and the view-aligned control frame."""

from __future__ import annotations

import os
from typing import Any

from teleforge.robots.cameras import CameraSet, open_camera, parse_camera_arg
from teleforge.robots.remote import RemoteRobot
from teleforge.robots.scene import SceneConfig, build_scene_xml
from teleforge.robots.sim_cameras import SimCameraRig
from teleforge.robots.sim_robot import SimRobot, scene_camera_pose
from teleforge.robots.types import CameraSpec
from teleforge.teleop.control_frame import camera_yaw
from teleforge.teleop.devices.registry import make_device as make_hw
from teleforge.teleop.expert_device import ExpertDevice
from teleforge.teleop.safety import SafetyConfig
from teleforge.teleop.takeover import TakeoverDevice
from teleforge.workflows.collect_config import CollectConfig, camera_names, check_robot
from teleforge.workflows.policy_device import PolicyDevice


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
