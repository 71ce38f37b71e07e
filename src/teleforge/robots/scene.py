"""The simulated workcell as MJCF, generated from code (primitives only, no meshes).

One scene serves every task and seed: a Panda-like 7-DoF arm with a parallel-jaw
gripper, a table, ``n_cubes`` free cubes, a tote (mocap, walls collide) and a flat
target marker (mocap, visual only), a fixed ``front`` camera and a ``wrist`` camera.
Everything a seed randomizes lives in state that a *snapshot* carries (joint
positions, mocap poses, cube colours), so a renderer with its own model copy of the
same XML reproduces any moment from ``state_snapshot()`` alone.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless offscreen rendering; must precede `import mujoco`

from dataclasses import dataclass  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

ARM_JOINTS: tuple[str, ...] = tuple(f"joint{i}" for i in range(1, 8))
FINGER_JOINTS: tuple[str, ...] = ("finger_joint1", "finger_joint2")
# Franka Panda joint limits (rad).
JOINT_LOW = np.array([-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973])
JOINT_HIGH = np.array([2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973])
# Gripper pointing down above the table centre.
HOME_QPOS = np.array([0.0, -0.2, 0.0, -2.35, 0.0, 2.15, 0.785])
FINGER_OPEN = 0.04  # m per finger: 8 cm total opening
TCP_SITE = "tcp"

# Named colours a seed draws cube colours from (instructions say "the red cube").
PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.1, 0.1),
    "green": (0.1, 0.7, 0.15),
    "blue": (0.1, 0.25, 0.9),
    "yellow": (0.95, 0.85, 0.1),
    "purple": (0.55, 0.15, 0.75),
    "orange": (1.0, 0.5, 0.05),
}


@dataclass(frozen=True)
class SceneConfig:
    """What the generated MJCF contains. Changing it changes the model (and snapshots)."""

    cube_sizes: tuple[float, ...] = (0.045, 0.05, 0.04, 0.045)  # edge length, m
    cube_mass: float = 0.08  # kg
    bin_inner: float = 0.16  # inner edge of the square tote, m
    bin_wall_height: float = 0.06
    target_radius: float = 0.06  # push target disc
    timestep: float = 0.002
    offscreen_width: int = 640
    offscreen_height: int = 480

    @property
    def n_cubes(self) -> int:
        """Number of cubes in the scene."""
        return len(self.cube_sizes)


def _xyaxes(pos: np.ndarray, target: np.ndarray, up: np.ndarray) -> str:
    """MJCF ``xyaxes`` for a camera at ``pos`` looking at ``target`` (camera looks along -z)."""
    f = np.asarray(target, float) - np.asarray(pos, float)
    f /= np.linalg.norm(f)
    right = np.cross(f, up)
    right /= np.linalg.norm(right)
    y = np.cross(right, f)
    return " ".join(f"{v:.5f}" for v in (*right, *y))


def _f(v: np.ndarray | tuple[float, ...]) -> str:
    return " ".join(f"{x:.5g}" for x in v)


def build_scene_xml(cfg: SceneConfig | None = None) -> str:
    """The workcell MJCF as a string (robot base at the origin, table top at z = 0)."""
    cfg = cfg or SceneConfig()
    front_pos = np.array([1.3, 0.0, 0.8])
    front_xy = _xyaxes(front_pos, np.array([0.35, 0.0, 0.12]), np.array([0.0, 0.0, 1.0]))
    wrist_pos = np.array([0.07, 0.0, 0.05])
    wrist_xy = _xyaxes(wrist_pos, np.array([0.0, 0.0, 0.15]), np.array([1.0, 0.0, 0.0]))

    cubes = []
    for i, edge in enumerate(cfg.cube_sizes):
        h = edge / 2
        cubes.append(
            f"""
    <body name="cube{i}" pos="{0.4 + 0.08 * i:.3f} -0.5 {h:.4f}">
      <freejoint name="cube{i}_free"/>
      <geom name="cube{i}" type="box" size="{h:.4f} {h:.4f} {h:.4f}" mass="{cfg.cube_mass}" class="object" rgba="0.5 0.5 0.5 1"/>
    </body>"""
        )
    b, wh, t = cfg.bin_inner / 2, cfg.bin_wall_height / 2, 0.005
    walls = [
        (f"{b + t:.4f} 0 {wh:.4f}", f"{t} {b + 2 * t:.4f} {wh:.4f}"),
        (f"{-b - t:.4f} 0 {wh:.4f}", f"{t} {b + 2 * t:.4f} {wh:.4f}"),
        (f"0 {b + t:.4f} {wh:.4f}", f"{b:.4f} {t} {wh:.4f}"),
        (f"0 {-b - t:.4f} {wh:.4f}", f"{b:.4f} {t} {wh:.4f}"),
    ]
    wall_xml = "\n".join(
        f'      <geom name="bin_wall{k}" type="box" pos="{p}" size="{s}" class="fixture" rgba="0.3 0.3 0.35 1"/>'
        for k, (p, s) in enumerate(walls)
    )

    return f"""<mujoco model="teleforge_workcell">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{cfg.timestep}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual>
    <global offwidth="{cfg.offscreen_width}" offheight="{cfg.offscreen_height}"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
    <map znear="0.01"/>
  </visual>
  <default>
    <default class="arm">
      <geom type="capsule" contype="0" conaffinity="0" density="600" rgba="0.92 0.92 0.94 1"/>
      <joint damping="2" armature="0.1"/>
    </default>
    <default class="hand">
      <geom contype="1" conaffinity="1" condim="4" friction="1.2 0.02 0.001" solref="0.004 1" density="300"/>
    </default>
    <default class="pad">
      <geom type="box" contype="1" conaffinity="1" condim="4" friction="1.5 0.05 0.002" solref="0.004 1"
            solimp="0.95 0.99 0.001" density="1000" rgba="0.15 0.15 0.15 1"/>
    </default>
    <!-- Cube-table sliding friction is max(object, fixture) = 0.6: a cube pushed anywhere below
         edge / (2 * 0.6) slides rather than tipping over its leading edge (at 1.0 a push at mid-height tipped it).
         Grasps are unaffected: cube-pad contacts take the pads' 1.5. -->
    <default class="object">
      <geom contype="1" conaffinity="1" condim="4" friction="0.5 0.02 0.001" solref="0.004 1" solimp="0.95 0.99 0.001"/>
    </default>
    <default class="fixture">
      <geom contype="1" conaffinity="1" condim="3" friction="0.6 0.005 0.0001"/>
    </default>
  </default>
  <worldbody>
    <light name="sun" directional="true" castshadow="false" pos="0.5 0 2" dir="-0.2 0 -1" diffuse="0.5 0.5 0.5"/>
    <geom name="floor" type="plane" size="3 3 0.1" pos="0 0 -0.76" rgba="0.35 0.37 0.4 1" contype="0" conaffinity="0"/>
    <geom name="table" type="box" pos="0.45 0 -0.02" size="0.65 0.75 0.02" class="fixture" rgba="0.62 0.5 0.38 1"/>
    <camera name="front" pos="{_f(front_pos)}" xyaxes="{front_xy}" fovy="50"/>
    <body name="link0" childclass="arm">
      <geom type="cylinder" size="0.07 0.06" pos="0 0 0.06"/>
      <body name="link1" pos="0 0 0.333" gravcomp="1">
        <joint name="joint1" damping="100" range="{JOINT_LOW[0]} {JOINT_HIGH[0]}"/>
        <geom size="0.06" fromto="0 0 -0.21 0 0 0"/>
        <body name="link2" quat="1 -1 0 0" gravcomp="1">
          <joint name="joint2" damping="100" range="{JOINT_LOW[1]} {JOINT_HIGH[1]}"/>
          <geom size="0.06" fromto="0 0 0 0 -0.2 0"/>
          <body name="link3" pos="0 -0.316 0" quat="1 1 0 0" gravcomp="1">
            <joint name="joint3" damping="80" range="{JOINT_LOW[2]} {JOINT_HIGH[2]}"/>
            <geom size="0.055" fromto="0 0 -0.12 0.0825 0 0"/>
            <body name="link4" pos="0.0825 0 0" quat="1 1 0 0" gravcomp="1">
              <joint name="joint4" damping="80" range="{JOINT_LOW[3]} {JOINT_HIGH[3]}"/>
              <geom size="0.055" fromto="0 0 0 -0.0825 0.12 0"/>
              <body name="link5" pos="-0.0825 0.384 0" quat="1 -1 0 0" gravcomp="1">
                <joint name="joint5" damping="10" range="{JOINT_LOW[4]} {JOINT_HIGH[4]}"/>
                <geom size="0.05" fromto="0 0 -0.26 0 0 -0.02"/>
                <body name="link6" quat="1 1 0 0" gravcomp="1">
                  <joint name="joint6" damping="10" range="{JOINT_LOW[5]} {JOINT_HIGH[5]}"/>
                  <geom size="0.045" fromto="0 0 0 0.088 0 0"/>
                  <body name="link7" pos="0.088 0 0" quat="1 1 0 0" gravcomp="1">
                    <joint name="joint7" damping="10" range="{JOINT_LOW[6]} {JOINT_HIGH[6]}"/>
                    <geom type="cylinder" size="0.045 0.03" pos="0 0 0.07" rgba="0.2 0.2 0.22 1"/>
                    <body name="hand" pos="0 0 0.107" quat="0.9238795 0 0 -0.3826834" gravcomp="1">
                      <geom name="hand" type="box" class="hand" size="0.025 0.095 0.025" pos="0 0 0.03" rgba="0.9 0.9 0.92 1"/>
                      <site name="{TCP_SITE}" pos="0 0 0.1034" size="0.005" rgba="1 0 0 0" group="3"/>
                      <camera name="wrist" pos="{_f(wrist_pos)}" xyaxes="{wrist_xy}" fovy="75"/>
                      <body name="left_finger" pos="0 0 0.0584" gravcomp="1">
                        <joint name="finger_joint1" type="slide" axis="0 1 0" range="0 {FINGER_OPEN}" damping="8" armature="0.02"/>
                        <geom name="left_finger" type="box" class="hand" size="0.01 0.006 0.015" pos="0 0.008 0.012" rgba="0.8 0.8 0.82 1"/>
                        <geom name="left_pad" class="pad" size="0.01 0.004 0.022" pos="0 0.004 0.045"/>
                      </body>
                      <body name="right_finger" pos="0 0 0.0584" quat="0 0 0 1" gravcomp="1">
                        <joint name="finger_joint2" type="slide" axis="0 1 0" range="0 {FINGER_OPEN}" damping="8" armature="0.02"/>
                        <geom name="right_finger" type="box" class="hand" size="0.01 0.006 0.015" pos="0 0.008 0.012" rgba="0.8 0.8 0.82 1"/>
                        <geom name="right_pad" class="pad" size="0.01 0.004 0.022" pos="0 0.004 0.045"/>
                      </body>
                    </body>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>
    <body name="bin" mocap="true" pos="0.5 0.38 0">
      <geom name="bin_floor" type="box" pos="0 0 0.0025" size="{b + 2 * t:.4f} {b + 2 * t:.4f} 0.0025" class="fixture" rgba="0.3 0.3 0.35 1"/>
{wall_xml}
    </body>
    <body name="target_region" mocap="true" pos="0.5 -0.2 0">
      <geom name="target_region" type="cylinder" size="{cfg.target_radius} 0.0008" pos="0 0 0.0008" contype="0" conaffinity="0" rgba="0.95 0.95 0.95 1"/>
    </body>
{"".join(cubes)}
  </worldbody>
  <contact>
    <exclude body1="hand" body2="left_finger"/>
    <exclude body1="hand" body2="right_finger"/>
    <exclude body1="left_finger" body2="right_finger"/>
  </contact>
  <actuator>
    <general name="act1" biastype="affine" joint="joint1" gainprm="4500" biasprm="0 -4500 0" forcerange="-87 87"/>
    <general name="act2" biastype="affine" joint="joint2" gainprm="4500" biasprm="0 -4500 0" forcerange="-87 87"/>
    <general name="act3" biastype="affine" joint="joint3" gainprm="3500" biasprm="0 -3500 0" forcerange="-87 87"/>
    <general name="act4" biastype="affine" joint="joint4" gainprm="3500" biasprm="0 -3500 0" forcerange="-87 87"/>
    <general name="act5" biastype="affine" joint="joint5" gainprm="2000" biasprm="0 -2000 0" forcerange="-12 12"/>
    <general name="act6" biastype="affine" joint="joint6" gainprm="2000" biasprm="0 -2000 0" forcerange="-12 12"/>
    <general name="act7" biastype="affine" joint="joint7" gainprm="2000" biasprm="0 -2000 0" forcerange="-12 12"/>
    <general name="finger1" biastype="affine" joint="finger_joint1" gainprm="800" biasprm="0 -800 0" forcerange="-15 15"/>
    <general name="finger2" biastype="affine" joint="finger_joint2" gainprm="800" biasprm="0 -800 0" forcerange="-15 15"/>
  </actuator>
</mujoco>
"""


# --- snapshots -----------------------------------------------------------------
# A snapshot is everything that differs between two moments/seeds of the same XML:
# [qpos (nq) | mocap_pos (nmocap*3) | mocap_quat (nmocap*4) | cube rgba (n_cubes*4)].


def cube_geom_ids(model: mujoco.MjModel) -> np.ndarray:
    """Geom ids of cube0, cube1, ... in order."""
    ids: list[int] = []
    i = 0
    while True:
        gid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"cube{i}")
        if gid < 0:
            return np.array(ids, dtype=int)
        ids.append(gid)
        i += 1


def make_snapshot(model: mujoco.MjModel, data: mujoco.MjData, cube_ids: np.ndarray | None = None) -> np.ndarray:
    """Copy the render-relevant state of ``data`` (and the model's cube colours)."""
    ids = cube_geom_ids(model) if cube_ids is None else cube_ids
    return np.concatenate(
        [data.qpos, data.mocap_pos.ravel(), data.mocap_quat.ravel(), model.geom_rgba[ids].ravel()]
    )


def apply_snapshot(model: mujoco.MjModel, data: mujoco.MjData, snap: np.ndarray, cube_ids: np.ndarray | None = None) -> None:
    """Write a snapshot into a (renderer's) model/data copy and update kinematics."""
    ids = cube_geom_ids(model) if cube_ids is None else cube_ids
    nq, nm = model.nq, model.nmocap
    expected = nq + nm * 7 + len(ids) * 4
    if snap.shape[0] != expected:
        raise ValueError(f"snapshot has {snap.shape[0]} values, this scene needs {expected}: build both from the same SceneConfig")
    o = 0
    data.qpos[:] = snap[o : o + nq]
    o += nq
    data.mocap_pos[:] = snap[o : o + nm * 3].reshape(nm, 3)
    o += nm * 3
    data.mocap_quat[:] = snap[o : o + nm * 4].reshape(nm, 4)
    o += nm * 4
    model.geom_rgba[ids] = snap[o:].reshape(len(ids), 4)
    mujoco.mj_kinematics(model, data)
    mujoco.mj_camlight(model, data)
