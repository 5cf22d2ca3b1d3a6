"""The MJCF of the embedded runtime: N copies of the twin's workcell in one MuJoCo model.

Each world holds the table (a box whose top is the twin's table height), the object (its convex collision mesh,
or one convex mesh geom per part when the twin has convex parts, ``import-mesh --collider decompose``; mass,
inertia and friction from the twin) and a Panda end-effector: the Panda hand with its two fingers on a
Cartesian carriage (three slide joints with stiff position servos: a Cartesian impedance controller standing in
for the arm's operational-space control), the fingers driven by force motors; the carriage is kept inside the
Panda's reach around the twin's robot base. With ``robot_model="arm"`` the same hand (palm, grasp site, fingers)
hangs off the full 7-joint Panda of :mod:`splattwin_tasks.embedded.arm` instead, based at the robot base. Worlds sit
:data:`WORLD_SPACING_M` apart so they never touch, and one ``mj_step`` advances all of them.
"""

from __future__ import annotations

import math

import numpy as np

from splattwin_tasks.contact import CONTACT_DAMPRATIO, CONTACT_TIMECONST_S
from splattwin_tasks.robots.franka import (
    FINGER_JOINTS,
    FINGER_TRAVEL_M,
    GRASP_IN_HAND_QUAT_WXYZ,
    HAND,
    HandGeometry,
    closing_yaw,
    grasp_frame_quat_wxyz,
)
from splattwin_tasks.twin_scene import TwinScene

__all__ = [
    "CARRIAGE_DAMPING",
    "CARRIAGE_FORCE_N",
    "CARRIAGE_KP",
    "WORLD_SPACING_M",
    "build_mjcf",
    "world_origins",
]

WORLD_SPACING_M = 2.0
HAND_CONTYPE = 4
CARRIAGE_KP = 800.0
"""N/m: the carriage's (the hand model's Cartesian impedance controller's) stiffness."""
CARRIAGE_DAMPING = 60.0
"""N s/m: about critical for the hand's mass."""
CARRIAGE_FORCE_N = 60.0
"""N: the largest force the carriage exerts on each axis (the arm's impedance has the same limit)."""


def world_origins(num_envs: int) -> np.ndarray:
    """Origins of the worlds on a square grid :data:`WORLD_SPACING_M` apart, shape [N, 3]."""
    side = math.ceil(math.sqrt(num_envs))
    index = np.arange(num_envs)
    return np.stack([(index // side) * WORLD_SPACING_M, (index % side) * WORLD_SPACING_M, np.zeros(num_envs)], 1)


def _vec(values: np.ndarray | tuple | list) -> str:
    return " ".join(f"{float(v):.9g}" for v in values)


def _finger(i: int, finger: int, g: HandGeometry) -> str:
    """Finger ``finger`` (1: +y, 2: -y) of world ``i``: a pad on a slide joint that opens towards +."""
    side = 1 if finger == 1 else -1
    return (
        f'<body name="finger{finger}_{i}" gravcomp="1">'
        f'<inertial pos="0 0 0" mass="{g.finger_mass}" diaginertia="1e-6 1e-6 1e-6"/>'
        f'<joint name="{FINGER_JOINTS[finger - 1]}_{i}" type="slide" axis="0 {side} 0" range="0 {FINGER_TRAVEL_M}" '
        'damping="2"/>'
        f'<geom name="pad{finger}_{i}" class="hand" type="box" size="{_vec(g.pad_half)}" '
        f'pos="0 {side * g.pad_half[1]} 0" mass="0"/></body>'
    )


def build_mjcf(
    scene: TwinScene, num_envs: int, *, sim_dt: float, hand_start: np.ndarray, robot_model: str = "hand"
) -> str:
    """The MJCF text of ``num_envs`` worlds.

    Args:
        scene: the twin's task scene (world frame, metres; the robot base is each world's origin).
        num_envs: number of worlds.
        sim_dt: physics time step [s].
        hand_start: grasp-centre start position relative to the robot base [3], metres (resets move it).
        robot_model: ``hand`` (the hand on a Cartesian carriage) or ``arm`` (the 7-joint Panda of
            :mod:`splattwin_tasks.embedded.arm`, based at the robot base, with the same hand at its flange).
    """
    g = HAND
    # The grasp frame's y is the closing axis: turn it so that it points across the object.
    palm_quat = grasp_frame_quat_wxyz(closing_yaw(scene)[0])
    base = scene.robot_base
    obj_pos = scene.object_position - base
    table_z = scene.table_height - base[2]
    moments, axes = np.linalg.eigh(scene.object_inertia)
    if np.linalg.det(axes) < 0:
        axes[:, 2] *= -1
    from splattwin.geometry.transforms import matrix_to_quat_wxyz  # noqa: PLC0415

    iquat = matrix_to_quat_wxyz(axes)
    friction = scene.friction
    arm_assets = ""
    if robot_model == "arm":
        from splattwin_tasks.embedded.arm import (  # noqa: PLC0415
            ARM_CARTESIAN_KP,
            ARM_CARTESIAN_KV,
            arm_assets_mjcf,
            arm_chain_mjcf,
        )

        arm_assets = arm_assets_mjcf()
    # MuJoCo collides a mesh geom as its convex hull: one geom per convex part keeps an L's inner corner open.
    shapes = [p for p, _ in scene.object_parts] or [scene.object_vertices]
    names = [f"object_part{k}" for k in range(len(shapes))] if scene.object_parts else ["object"]
    mesh_assets = "".join(
        f'<mesh name="{name}" vertex="{" ".join(f"{v:.9g}" for v in np.asarray(points).reshape(-1))}"/>'
        for name, points in zip(names, shapes, strict=True)
    )
    parts = [
        '<mujoco model="splattwin_embedded">',
        f'<option timestep="{sim_dt}" integrator="implicitfast" cone="elliptic" impratio="10"/>',
        '<size memory="64M"/>' if num_envs > 256 else "",
        "<default>",
        # Contact bits: table and object (type 1) touch everything; the hand (4) and the arm's links (2) touch
        # them but not each other (see splattwin_tasks.embedded.arm).
        f'<geom friction="{friction} 0.005 0.0001" solref="{CONTACT_TIMECONST_S:g} {CONTACT_DAMPRATIO:g}" condim="4" '
        'contype="1" conaffinity="3"/>',
        f'<default class="hand"><geom contype="{HAND_CONTYPE}" conaffinity="1"/></default>',
        "</default>",
        f"<asset>{mesh_assets}{arm_assets}</asset>",
        "<worldbody>",
    ]
    excludes, actuators = [], []
    for i, origin in enumerate(world_origins(num_envs)):
        table_centre = origin + np.array([obj_pos[0], obj_pos[1], table_z - 0.02])
        parts.append(f'<geom name="table{i}" type="box" size="0.35 0.35 0.02" pos="{_vec(table_centre)}"/>')
        parts.append(
            f'<body name="object{i}" pos="{_vec(origin + obj_pos)}" quat="{_vec(scene.object_quat_wxyz)}">'
            f'<freejoint name="object{i}"/>'
            f'<inertial pos="0 0 0" mass="{scene.mass.mass_kg:.9g}" diaginertia="{_vec(moments)}" '
            f'quat="{_vec(iquat)}"/>'
            + "".join(
                f'<geom name="object{i}{"" if k == 0 else f"_{k}"}" type="mesh" mesh="{name}" mass="0"/>'
                for k, name in enumerate(names)
            )
            + "</body>"
        )
        grasp_content = (
            f'<geom name="palm{i}" class="hand" type="box" size="{_vec(g.palm_half)}" pos="0 0 {g.palm_z}" mass="0"/>'
            f'<site name="ee{i}" pos="0 0 0" size="0.005"/>' + _finger(i, 1, g) + _finger(i, 2, g)
        )
        if robot_model == "arm":
            # The hand's z points down the fingers; the grasp frame's z points back up to the palm (as the hand
            # model's hand body), so it is turned by pi about x; the impedance holds it at the hand model's yaw.
            arm, arm_actuators = arm_chain_mjcf(
                i,
                origin,
                scene.robot_yaw_rad,
                grasp_content,
                np.array(GRASP_IN_HAND_QUAT_WXYZ),
                orientation_wxyz=np.array(palm_quat),
                kp=ARM_CARTESIAN_KP,
                kv=ARM_CARTESIAN_KV,
                force_limit=CARRIAGE_FORCE_N,
            )
            parts.append(arm)
            actuators.extend(arm_actuators)
        else:
            parts.append(
                f'<body name="carriage{i}" pos="{_vec(origin + hand_start)}" gravcomp="1">'
                f'<joint name="x{i}" type="slide" axis="1 0 0" damping="{CARRIAGE_DAMPING}"/>'
                f'<joint name="y{i}" type="slide" axis="0 1 0" damping="{CARRIAGE_DAMPING}"/>'
                f'<joint name="z{i}" type="slide" axis="0 0 1" damping="{CARRIAGE_DAMPING}"/>'
                f'<body name="hand{i}" quat="{_vec(palm_quat)}" gravcomp="1">'
                f'<inertial pos="0 0 {g.palm_z}" mass="{g.hand_mass}" diaginertia="0.003 0.002 0.003"/>'
                + grasp_content
                + "</body></body>"
            )
        excludes.append(f'<exclude body1="finger1_{i}" body2="finger2_{i}"/>')
        for axis in "xyz" if robot_model != "arm" else "":
            actuators.append(
                f'<position name="{axis}{i}" joint="{axis}{i}" kp="{CARRIAGE_KP}" '
                f'forcerange="{-CARRIAGE_FORCE_N} {CARRIAGE_FORCE_N}" forcelimited="true" ctrllimited="false"/>'
            )
        # Finger motors: a positive control is a closing force [N] (the joints open towards +).
        for finger in ("1", "2"):
            actuators.append(f'<motor name="f{finger}_{i}" joint="{FINGER_JOINTS[int(finger) - 1]}_{i}" gear="-1"/>')
    parts.append("</worldbody>")
    parts.append(f"<contact>{''.join(excludes)}</contact>")
    parts.append(f"<actuator>{''.join(actuators)}</actuator>")
    parts.append("</mujoco>")
    return "\n".join(p for p in parts if p)
