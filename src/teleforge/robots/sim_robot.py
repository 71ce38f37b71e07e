"""``SimRobot``: the MuJoCo workcell behind the ``Robot`` protocol.

One file because the controller, the physics step and snapshot/restore all act on one MuJoCo model and data.

A native action moves an end-effector *target* pose (integrated from the deltas,
leashed to the measured pose so it never runs away from a blocked arm);
differential IK turns the target into joint position targets that stiff joint
servos track for one control period. Everything is deterministic: the same seed
and the same action sequence give bit-identical states, which replay relies on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import mujoco
import numpy as np

from teleforge.errors import RobotError, RobotNotConnectedError
from teleforge.robots.ik import DiffIK, IKConfig, mat_from_axis_angle, quat_from_mat
from teleforge.robots.scene import (
    ARM_JOINTS,
    FINGER_JOINTS,
    FINGER_OPEN,
    HOME_QPOS,
    PALETTE,
    TCP_SITE,
    SceneConfig,
    build_scene_xml,
    cube_geom_ids,
    make_snapshot,
)
from teleforge.robots.tasks import ObjectState, Task, get_task
from teleforge.robots.types import ActResult, ArraySpec, RobotState, SafetyLimits, TaskInfo
from teleforge.spec import ACTION_DIM, ACTION_NAMES, GRIPPER_INDEX, TWIST_DIM

EMBODIMENT = "teleforge_sim_panda"
_HAND_GEOMS = ("hand", "left_finger", "right_finger", "left_pad", "right_pad")


@dataclass(frozen=True)
class SimRobotConfig:
    """Controller and randomization settings of the simulated arm."""

    control_hz: float = 20.0
    max_speed: float = 0.6  # m/s: per-step translation bound = max_speed / control_hz
    max_rot_speed: float = 2.0  # rad/s: per-step rotation bound
    workspace_low: tuple[float, float, float] = (0.2, -0.5, 0.012)  # TCP target box, m
    workspace_high: tuple[float, float, float] = (0.8, 0.5, 0.6)
    leash: float = 0.04  # m: the target stays this close to the measured TCP
    rot_pos_tolerance: float = 0.005  # m: a rotation whose IK solution moves the TCP further than this is refused
    home_noise: float = 0.02  # rad: seed-drawn perturbation of the home posture
    cube_region_low: tuple[float, float] = (0.38, -0.22)
    cube_region_high: tuple[float, float] = (0.62, 0.22)
    min_cube_gap: float = 0.09  # m between cube centres
    scene: SceneConfig = field(default_factory=SceneConfig)
    ik: IKConfig = field(default_factory=IKConfig)


class SimRobot:
    """The simulated Panda-like arm; implements ``teleforge.robots.types.Robot``."""

    name = "sim"
    embodiment = EMBODIMENT
    n_joints = len(ARM_JOINTS)

    def __init__(self, control_hz: float | None = None, config: SimRobotConfig | None = None) -> None:
        cfg = config or SimRobotConfig()
        if control_hz is not None:
            cfg = SimRobotConfig(**{**cfg.__dict__, "control_hz": float(control_hz)})
        if cfg.control_hz <= 0:
            raise RobotError(f"control_hz must be positive, got {cfg.control_hz}")
        self.config = cfg
        self.xml = build_scene_xml(cfg.scene)
        self.model = mujoco.MjModel.from_xml_string(self.xml)
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.n_substeps = max(1, int(round(1.0 / (cfg.control_hz * m.opt.timestep))))
        self._ik = DiffIK(m, TCP_SITE, ARM_JOINTS, HOME_QPOS, cfg.ik)
        self._tcp = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, TCP_SITE)
        jids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in ARM_JOINTS]
        self._qadr = np.array([m.jnt_qposadr[j] for j in jids])
        self._dadr = np.array([m.jnt_dofadr[j] for j in jids])
        fids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in FINGER_JOINTS]
        self._fadr = np.array([m.jnt_qposadr[j] for j in fids])
        self._jlow = m.jnt_range[jids, 0].copy()
        self._jhigh = m.jnt_range[jids, 1].copy()
        self._cube_geoms = cube_geom_ids(m)
        self._cube_bodies = np.array([m.geom_bodyid[g] for g in self._cube_geoms])
        self._cube_qadr = np.array([m.jnt_qposadr[m.body_jntadr[b]] for b in self._cube_bodies])
        self._cube_dadr = np.array([m.jnt_dofadr[m.body_jntadr[b]] for b in self._cube_bodies])
        self._hand_geoms = {mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in _HAND_GEOMS}
        self._bin_mocap = m.body_mocapid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "bin")]
        self._target_mocap = m.body_mocapid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "target_region")]

        step_t = cfg.max_speed / cfg.control_hz
        step_r = cfg.max_rot_speed / cfg.control_hz
        low = (-step_t,) * 3 + (-step_r,) * 3 + (0.0,)
        high = (step_t,) * 3 + (step_r,) * 3 + (1.0,)
        self.action_spec = ArraySpec(shape=(ACTION_DIM,), dtype="float32", low=low, high=high, names=ACTION_NAMES)
        self._act_low = np.array(low)
        self._act_high = np.array(high)
        self.state_spec = {
            "joint_pos": ArraySpec((self.n_joints,), "float32", tuple(self._jlow), tuple(self._jhigh), ARM_JOINTS),
            "joint_vel": ArraySpec((self.n_joints,), "float32", names=ARM_JOINTS),
            "ee_pos": ArraySpec((3,), "float32", names=("x", "y", "z")),
            "ee_quat": ArraySpec((4,), "float32", names=("qw", "qx", "qy", "qz")),
            "gripper": ArraySpec((1,), "float32", (0.0,), (1.0,), ("opening",)),
        }

        # Declared for the safety guard: the TCP box of the controller, the action bounds as
        # velocity norms, and the points of the hand in the TCP frame (flange above the TCP,
        # fingertip pads either side of it when open).
        lo, hi = cfg.workspace_low, cfg.workspace_high  # may arrive as lists from a config file
        self.safety_limits = SafetyLimits(
            workspace_min=(lo[0], lo[1], lo[2]), workspace_max=(hi[0], hi[1], hi[2]),
            max_speed=cfg.max_speed * math.sqrt(3), max_rot_speed=cfg.max_rot_speed * math.sqrt(3),
            tool_points=((0.0, 0.0, 0.0), (0.0, 0.0, -0.1034), (0.0, 0.044, 0.0), (0.0, -0.044, 0.0)),
            source=f"{EMBODIMENT} (declared by the sim)",
        )
        self._connected = False
        self._task: Task | None = None
        self._info: TaskInfo | None = None
        self._binding: dict[str, str] = {}
        self._colours: list[str] = []
        self._max_lift = np.zeros(len(self._cube_geoms))
        self._step = 0
        self._target_pos: np.ndarray  # TCP target (3,), m; set by _reset_controller
        self._target_mat: np.ndarray  # TCP target rotation (3, 3)
        self._q_des: np.ndarray  # arm joint targets (n_joints,), rad
        self._reset_controller()

    # --- Robot protocol ----------------------------------------------------------

    @property
    def control_hz(self) -> float:
        """Control rate (Hz): one act() advances 1 / control_hz seconds."""
        return self.config.control_hz

    def connect(self) -> None:
        """Claim the arm (scene reset to pick_cube, seed 0, when nothing was reset yet)."""
        if not self._connected:
            self._connected = True
            if self._task is None:
                self.reset("pick_cube", 0)

    def disconnect(self) -> None:
        """Release the arm; observe/act raise until connect() again."""
        self._connected = False

    def observe(self) -> RobotState:
        """Joint positions (rad) / velocities (rad/s), TCP pose (m, wxyz) and gripper opening."""
        self._require_connected()
        d = self.data
        q = d.qpos[self._qadr].copy()
        return RobotState(
            joint_pos=q,
            joint_vel=d.qvel[self._dadr].copy(),
            ee_pos=d.site_xpos[self._tcp].copy(),
            ee_quat=quat_from_mat(d.site_xmat[self._tcp].reshape(3, 3)),
            gripper=self.gripper_opening(),
            t_ns=time.monotonic_ns(),
        )

    def act(self, action: np.ndarray) -> ActResult:
        """Move the EE target by one native delta (clipped to ``action_spec``), IK, step one period."""
        self._require_connected()
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (ACTION_DIM,) or not np.all(np.isfinite(a)):
            raise RobotError(
                f"a native action is {ACTION_DIM} finite numbers [{' '.join(ACTION_NAMES)}], got {action!r}"
            )
        a = np.clip(a, self._act_low, self._act_high)
        tcp = self.data.site_xpos[self._tcp]
        target = self._target_pos + a[:3]
        clamped = False
        boxed = np.clip(target, self.config.workspace_low, self.config.workspace_high)
        clamped |= bool(np.any(boxed != target))
        offset = boxed - tcp
        dist = float(np.linalg.norm(offset))
        if dist > self.config.leash:
            boxed = tcp + offset * (self.config.leash / dist)
        # The leash pulls the target toward the measured TCP; the box still bounds it, so a TCP
        # pushed outside (contact) is led back in, never followed out.
        self._target_pos = np.clip(boxed, self.config.workspace_low, self.config.workspace_high)
        turned = mat_from_axis_angle(a[3:TWIST_DIM]) @ self._target_mat
        res = self._ik.solve(self._q_des, self._target_pos, turned)
        if res.pos_error > self.config.rot_pos_tolerance and np.any(a[3:TWIST_DIM]):
            # Position before orientation: a rotation the arm can only reach by moving the TCP away
            # (joint limits) is refused, so a held rotation cannot drag the tool out of the box.
            held = self._ik.solve(self._q_des, self._target_pos, self._target_mat)
            if held.pos_error < res.pos_error:
                res, turned, clamped = held, self._target_mat, True
        self._target_mat = turned
        self._q_des = res.q
        self._gripper_target = float(a[GRIPPER_INDEX])
        self._step_physics()
        return self._act_result(res.pos_error, clamped or res.clamped)

    def act_joints(self, joint_targets: np.ndarray, gripper: float) -> ActResult:
        """Track absolute joint targets (clipped to the joint limits) for one period."""
        self._require_connected()
        q = np.asarray(joint_targets, dtype=np.float64).reshape(-1)
        if q.shape != (self.n_joints,) or not np.all(np.isfinite(q)):
            raise RobotError(f"joint targets must be {self.n_joints} finite angles (rad), got {joint_targets!r}")
        qc = np.clip(q, self._jlow, self._jhigh)
        self._q_des = qc
        self._target_pos, self._target_mat = self._ik.forward(qc)
        self._gripper_target = float(np.clip(gripper, 0.0, 1.0))
        self._step_physics()
        return self._act_result(0.0, bool(np.any(qc != q)))

    def hold(self) -> ActResult:
        """Stop where the arm is: targets become the measured pose; the gripper keeps its grip."""
        self._require_connected()
        self._q_des = self.data.qpos[self._qadr].copy()
        self._target_pos, self._target_mat = self._ik.forward(self._q_des)
        self._step_physics()
        return self._act_result(0.0, False)

    # --- sim-only API ------------------------------------------------------------

    def reset(self, task: str, seed: int) -> TaskInfo:
        """Randomize the scene from ``seed`` for ``task`` and return its instruction."""
        t = get_task(task)
        rng = np.random.default_rng(seed)
        cfg = self.config
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)

        names = list(PALETTE)
        order = rng.permutation(len(names))[: len(self._cube_geoms)]
        self._colours = [names[i] for i in order]
        for gid, colour in zip(self._cube_geoms, self._colours):
            m.geom_rgba[gid] = (*PALETTE[colour], 1.0)
        roles = rng.choice(len(self._colours), size=len(t.roles), replace=False)
        self._binding = {role: self._colours[int(i)] for role, i in zip(t.roles, roles)}

        q0 = HOME_QPOS + rng.uniform(-cfg.home_noise, cfg.home_noise, size=self.n_joints)
        d.qpos[self._qadr] = np.clip(q0, self._jlow, self._jhigh)
        d.qpos[self._fadr] = FINGER_OPEN
        self._layout(t, rng, [int(i) for i in roles])
        mujoco.mj_forward(m, d)
        self._reset_controller()
        self._task = t
        self._step = 0
        self._max_lift[:] = 0.0
        instruction = t.instruction(self._binding, rng)
        self._info = TaskInfo(
            task=t.name,
            instruction=instruction,
            seed=int(seed),
            time_limit_s=t.time_limit_s,
            extras={"binding": dict(self._binding), "cube_colours": list(self._colours), "control_hz": cfg.control_hz},
        )
        return self._info

    def success(self) -> bool:
        """True while the current task's success predicate holds."""
        if self._task is None:
            return False
        return self._task.success(self, self._binding)

    @property
    def task_info(self) -> TaskInfo | None:
        """The last reset's TaskInfo (None before the first reset)."""
        return self._info

    @property
    def binding(self) -> dict[str, str]:
        """Task role -> cube colour for the current episode, e.g. {"object": "red"}."""
        return dict(self._binding)

    @property
    def target_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The controller's current EE target (position, 3x3 rotation)."""
        return self._target_pos.copy(), self._target_mat.copy()

    @property
    def step_count(self) -> int:
        """Control steps since the last reset."""
        return self._step

    @property
    def sim_time(self) -> float:
        """Simulated time (s) of the physics."""
        return float(self.data.time)

    def gripper_opening(self) -> float:
        """Measured finger opening in [0, 1] (1 = fully open)."""
        return float(np.clip(self.data.qpos[self._fadr].sum() / (2 * FINGER_OPEN), 0.0, 1.0))

    def state_snapshot(self) -> np.ndarray:
        """Everything a renderer needs to draw this moment (see ``scene.make_snapshot``)."""
        return make_snapshot(self.model, self.data, self._cube_geoms)

    def object_states(self) -> dict[str, ObjectState]:
        """Privileged object state: cubes keyed by colour, plus "bin" and "target_region"."""
        d, sc = self.data, self.config.scene
        out: dict[str, ObjectState] = {}
        for i, colour in enumerate(self._colours):
            qa, da = self._cube_qadr[i], self._cube_dadr[i]
            out[colour] = ObjectState(
                name=colour,
                pos=d.qpos[qa : qa + 3].copy(),
                quat=d.qpos[qa + 3 : qa + 7].copy(),
                size=sc.cube_sizes[i],
                lin_vel=d.qvel[da : da + 3].copy(),
            )
        out["bin"] = ObjectState("bin", d.mocap_pos[self._bin_mocap].copy(), d.mocap_quat[self._bin_mocap].copy(), sc.bin_inner)
        out["target_region"] = ObjectState(
            "target_region", d.mocap_pos[self._target_mocap].copy(), d.mocap_quat[self._target_mocap].copy(), 2 * sc.target_radius
        )
        return out

    def fingers_touching(self, name: str) -> bool:
        """True if the hand or a finger is in contact with the cube coloured ``name``."""
        gid = int(self._cube_geoms[self._colours.index(name)])
        d = self.data
        for k in range(d.ncon):
            g1, g2 = int(d.contact.geom1[k]), int(d.contact.geom2[k])
            if (g1 == gid and g2 in self._hand_geoms) or (g2 == gid and g1 in self._hand_geoms):
                return True
        return False

    def max_lift(self, name: str) -> float:
        """Highest the cube's bottom has been above the table since reset (m)."""
        return float(self._max_lift[self._colours.index(name)])

    def get_sim_state(self) -> np.ndarray:
        """Full physics + controller state; ``set_sim_state`` restores it exactly."""
        phys = np.empty(mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_INTEGRATION))
        mujoco.mj_getState(self.model, self.data, phys, mujoco.mjtState.mjSTATE_INTEGRATION)
        ctrl = np.concatenate(
            [
                self._target_pos,
                self._target_mat.ravel(),  # the matrix itself: a quaternion round trip is not bit-exact
                self._q_des,
                [self._gripper_target, float(self._step)],
                self._max_lift,
                self.model.geom_rgba[self._cube_geoms].ravel(),
            ]
        )
        return np.concatenate([phys, ctrl])

    def set_sim_state(self, state: np.ndarray) -> None:
        """Restore a :meth:`get_sim_state` vector exactly (physics and controller)."""
        state = np.asarray(state, dtype=np.float64).ravel()
        n_phys = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_INTEGRATION)
        n_cubes = len(self._cube_geoms)
        n = n_phys + 3 + 9 + self.n_joints + 2 + n_cubes + 4 * n_cubes
        if state.shape[0] != n:
            raise RobotError(
                f"sim state has {state.shape[0]} values, this workcell needs {n}: it was saved from a different scene config"
            )
        mujoco.mj_setState(self.model, self.data, state[:n_phys], mujoco.mjtState.mjSTATE_INTEGRATION)
        o = n_phys
        self._target_pos = state[o : o + 3].copy()
        self._target_mat = state[o + 3 : o + 12].reshape(3, 3).copy()
        o += 12
        self._q_des = state[o : o + self.n_joints].copy()
        o += self.n_joints
        self._gripper_target = float(state[o])
        self._step = int(state[o + 1])
        o += 2
        self._max_lift[:] = state[o : o + n_cubes]
        o += n_cubes
        self.model.geom_rgba[self._cube_geoms] = state[o:].reshape(n_cubes, 4)
        mujoco.mj_forward(self.model, self.data)

    # --- internals ---------------------------------------------------------------

    def _require_connected(self) -> None:
        if not self._connected:
            raise RobotNotConnectedError("the sim robot is not connected: call connect() first")

    def _reset_controller(self) -> None:
        q = self.data.qpos[self._qadr].copy()
        self._q_des = q
        self._target_pos, self._target_mat = self._ik.forward(q)
        self._gripper_target = 0.0

    def _step_physics(self) -> None:
        d = self.data
        d.ctrl[: self.n_joints] = self._q_des
        d.ctrl[self.n_joints :] = FINGER_OPEN * (1.0 - self._gripper_target)
        mujoco.mj_step(self.model, d, nstep=self.n_substeps)
        self._step += 1
        bottoms = d.qpos[self._cube_qadr + 2] - np.asarray(self.config.scene.cube_sizes) / 2
        np.maximum(self._max_lift, bottoms, out=self._max_lift)

    def _act_result(self, ik_error: float, clamped: bool) -> ActResult:
        return ActResult(
            target_ee_pos=self._target_pos.copy(),
            target_ee_quat=quat_from_mat(self._target_mat),
            target_joint_pos=self._q_des.copy(),
            gripper_target=self._gripper_target,
            ik_error=float(ik_error),
            clamped=bool(clamped),
        )

    def _layout(self, task: Task, rng: np.random.Generator, role_slots: list[int]) -> None:
        """Place tote, target disc and cubes without overlaps (rejection sampling from ``rng``)."""
        cfg, sc, d = self.config, self.config.scene, self.data
        lo, hi = np.array(cfg.cube_region_low), np.array(cfg.cube_region_high)
        side = 1.0 if rng.random() < 0.5 else -1.0
        d.mocap_pos[self._bin_mocap] = (rng.uniform(0.44, 0.58), side * rng.uniform(0.37, 0.42), 0.0)
        n = len(self._cube_geoms)
        obj = role_slots[0]
        for _attempt in range(2000):
            target = rng.uniform(lo, hi)
            cubes = rng.uniform(lo, hi, size=(n, 2))
            gaps = np.linalg.norm(cubes[:, None] - cubes[None], axis=-1) + np.eye(n)
            if gaps.min() < cfg.min_cube_gap:
                continue
            if np.linalg.norm(cubes - target, axis=1).min() < sc.target_radius + 0.06:
                continue
            if task.name == "push_to_target" and not self._push_clear(cubes, obj, target):
                continue
            break
        else:  # pragma: no cover - the region is far larger than the cubes need
            raise RobotError("could not place the cubes without overlap: enlarge cube_region or lower min_cube_gap")
        d.mocap_pos[self._target_mocap] = (target[0], target[1], 0.0)
        yaws = rng.uniform(-np.pi / 4, np.pi / 4, size=n)
        for i in range(n):
            qa = self._cube_qadr[i]
            d.qpos[qa : qa + 3] = (cubes[i, 0], cubes[i, 1], sc.cube_sizes[i] / 2)
            d.qpos[qa + 3 : qa + 7] = (np.cos(yaws[i] / 2), 0.0, 0.0, np.sin(yaws[i] / 2))

    @staticmethod
    def _push_clear(cubes: np.ndarray, obj: int, target: np.ndarray) -> bool:
        """A push needs a free lane: from behind the cube to the target, no other cube within 8 cm."""
        start = cubes[obj]
        dist = float(np.linalg.norm(target - start))
        if not 0.12 <= dist <= 0.25:
            return False
        u = (target - start) / dist
        a, b = start - 0.12 * u, target + 0.03 * u
        for i, c in enumerate(cubes):
            if i == obj:
                continue
            t = np.clip(np.dot(c - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
            if np.linalg.norm(c - (a + t * (b - a))) < 0.08:
                return False
        # the pusher's start behind the cube must stay on the reachable table
        behind = start - 0.12 * u
        return bool(0.28 <= behind[0] <= 0.75)


def scene_camera_pose(name: str, xml: str | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Pose of scene camera ``name`` with the arm at home: position (3,) m, orientation (3, 3)
    (columns: image right, image up, backward; MuJoCo's convention) and vertical field of view (deg).

    Used to align human controls with a view and to project motion into an image.
    """
    model = mujoco.MjModel.from_xml_string(xml or build_scene_xml(SceneConfig()))
    data = mujoco.MjData(model)
    cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, name)
    if cam < 0:
        names = ", ".join(model.camera(i).name for i in range(model.ncam))
        raise RobotError(f"camera '{name}' is not in the scene: choose one of {names}")
    data.qpos[: len(HOME_QPOS)] = HOME_QPOS
    mujoco.mj_forward(model, data)
    return data.cam_xpos[cam].copy(), data.cam_xmat[cam].reshape(3, 3).copy(), float(model.cam_fovy[cam])
