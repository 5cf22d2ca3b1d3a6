"""The full Franka Panda arm for the embedded runtime: MJCF bodies from pybullet's ``franka_panda/panda.urdf``.

The 7 links' joint frames, axes, limits, torque limits, masses and centres of mass are read from the URDF that
pybullet ships (the same Panda the twin's robot layer holds) and written as nested MJCF bodies (MuJoCo's own URDF
import cannot be spliced N times into one model, so the chain is emitted here from the parsed URDF). Each link
collides through the convex hull of its URDF collision mesh; its inertia tensor is that hull's at uniform density
(the URDF's tensors are placeholders, 0.1 kg m^2 on every link). The bodies are gravity-compensated, as Franka's
controller does.

Control is Franka's Cartesian impedance mode, run by MuJoCo at the physics rate: six site actuators with a
reference site (``refsite``) pull the grasp site towards a Cartesian position (the carriage's natural frequency and
damping ratio for the arm's larger apparent mass, the carriage's force limit) and a fixed grasp orientation; their
joint torques are ``J^T F`` (MuJoCo's transmission), clamped to the URDF's joint effort limits. There is no
null-space posture control: joint damping and the rotors' armature damp the redundant elbow motion.
:func:`dls_step` is the damped-least-squares IK that places the arm at resets.
"""

from __future__ import annotations

import functools
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from splattwin_tasks.mdp.actions import dls_joint_step
from splattwin_tasks.robots.franka import BASE_LINK, GRASP_OFFSET_M, HAND_LINK, urdf_path

__all__ = [
    "ARM_CARTESIAN_KP",
    "ARM_CARTESIAN_KV",
    "PandaLink",
    "arm_assets_mjcf",
    "arm_chain_mjcf",
    "dls_step",
    "hull_inertia",
    "read_panda_chain",
]

# The impedance: stiffer than the carriage's 800 N/m because the arm's apparent mass at the hand (~3.5 kg) is far
# above the hand's 0.76 kg; damped near critically for that mass.
ARM_CARTESIAN_KP = 3600.0  # N/m
ARM_CARTESIAN_KV = 270.0  # N s/m
ROTATION_KP = 150.0  # N m/rad: the impedance's rotational stiffness (holds the grasp orientation)
ROTATION_KV = 6.0  # N m s/rad
JOINT_DAMPING = 0.5  # N m s/rad
JOINT_ARMATURE = 0.1  # kg m^2: reflected rotor inertia
# Contact bits: links (2) touch the object and table (affinity 1|2) but not each other or the hand (4).
ARM_CONTYPE, ARM_CONAFFINITY = 2, 1


@dataclass(kw_only=True)
class PandaLink:
    """One URDF joint + child link: frame relative to the parent link [m, wxyz], axis, limits [rad], inertial."""

    joint: str
    child: str
    pos: np.ndarray
    quat_wxyz: np.ndarray
    axis: np.ndarray | None
    limits: tuple[float, float] | None
    mass: float
    com: np.ndarray
    effort: float | None
    collision_mesh: Path | None


def _rpy_quat(rpy: np.ndarray) -> np.ndarray:
    """URDF fixed-axis roll-pitch-yaw [rad] as a wxyz quaternion (R = Rz(y) Ry(p) Rx(r))."""
    r, p, y = rpy / 2
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
    return np.array(
        [
            cr * cp * cy + sr * sp * sy,
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
        ]
    )


@functools.cache
def read_panda_chain(urdf: Path | None = None) -> tuple[PandaLink, ...]:
    """The chain panda_link0 -> panda_hand from the URDF: joints 1-7, then the fixed joint8 and hand joint
    (parsed once per process)."""
    urdf = urdf or urdf_path()
    root = ET.parse(urdf).getroot()
    links = {link.get("name"): link for link in root.findall("link")}
    joints = {
        joint.find("parent").get("link"): joint
        for joint in root.findall("joint")
        if joint.find("parent").get("link") != HAND_LINK
    }

    def floats(element: ET.Element | None, attr: str, default: str) -> np.ndarray:
        return np.array([float(v) for v in (element.get(attr, default) if element is not None else default).split()])

    chain, parent = [], BASE_LINK
    while parent != HAND_LINK:
        joint = joints[parent]
        child = joint.find("child").get("link")
        origin = joint.find("origin")
        inertial = links[child].find("inertial")
        limit = joint.find("limit")
        revolute = joint.get("type") == "revolute"
        mesh = links[child].find("collision/geometry/mesh")
        chain.append(
            PandaLink(
                joint=joint.get("name"),
                child=child,
                pos=floats(origin, "xyz", "0 0 0"),
                quat_wxyz=_rpy_quat(floats(origin, "rpy", "0 0 0")),
                axis=floats(joint.find("axis"), "xyz", "0 0 1") if revolute else None,
                limits=(float(limit.get("lower")), float(limit.get("upper"))) if revolute else None,
                mass=float(inertial.find("mass").get("value")) if inertial is not None else 0.0,
                com=floats(inertial.find("origin") if inertial is not None else None, "xyz", "0 0 0"),
                effort=float(limit.get("effort")) if revolute else None,
                collision_mesh=None if mesh is None else _package_path(urdf, mesh.get("filename")),
            )
        )
        parent = child
    return tuple(chain)


def _package_path(urdf: Path, filename: str) -> Path:
    """A URDF mesh reference (``package://meshes/...`` in pybullet's Panda, or relative) as a file path."""
    relative = filename.split("://", 1)[1] if "://" in filename else filename
    return urdf.parent / relative


def hull_inertia(mesh_path: Path, mass: float, com: np.ndarray) -> np.ndarray:
    """Inertia tensor [3, 3] [kg m^2] about ``com`` [m] of ``mesh_path``'s convex hull at uniform density with
    total ``mass`` [kg] (the hull is what MuJoCo collides with; shifted by the parallel-axis theorem)."""
    import trimesh  # noqa: PLC0415

    hull = trimesh.load(mesh_path, force="mesh").convex_hull
    about_centroid = hull.moment_inertia * (mass / hull.volume)
    offset = np.asarray(com, dtype=np.float64) - hull.center_mass
    return about_centroid + mass * (offset @ offset * np.eye(3) - np.outer(offset, offset))


def _vec(values: np.ndarray | tuple | list) -> str:
    return " ".join(f"{float(v):.12g}" for v in values)


def arm_assets_mjcf() -> str:
    """The ``<mesh>`` assets of the links' collision meshes (shared by every world)."""
    return "".join(
        f'<mesh name="{link.child}" file="{link.collision_mesh}"/>'
        for link in read_panda_chain()
        if link.collision_mesh is not None and link.axis is not None
    )


@functools.cache
def _link_inertial(child: str) -> str:
    link = next(link for link in read_panda_chain() if link.child == child)
    if link.collision_mesh is None:
        # panda_link8 (a flange frame) has no mass; the hand's box stands in for its own mesh.
        return f'<inertial pos="{_vec(link.com)}" mass="{link.mass}" diaginertia="0.001 0.001 0.001"/>'
    inertia = hull_inertia(link.collision_mesh, link.mass, link.com)
    full = inertia[[0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]
    return f'<inertial pos="{_vec(link.com)}" mass="{link.mass}" fullinertia="{_vec(full)}"/>'


def arm_chain_mjcf(
    i: int,
    base_pos: np.ndarray,
    base_yaw_rad: float,
    grasp_content: str,
    grasp_quat_wxyz: np.ndarray,
    *,
    orientation_wxyz: np.ndarray,
    kp: float,
    kv: float,
    force_limit: float,
) -> tuple[str, list[str]]:
    """MJCF of world ``i``'s arm rooted at ``base_pos`` [3] (world frame, m), turned by ``base_yaw_rad`` about z
    (the twin's robot heading), and its Cartesian impedance actuators.

    ``grasp_content`` (palm, ee site, fingers) goes into a ``grasp{i}`` body on ``panda_hand`` at the grasp
    centre, turned by ``grasp_quat_wxyz`` relative to the hand. The six actuators (``cart{x,y,z}_{i}``,
    ``cartr{x,y,z}_{i}``) act on the ``ee{i}`` site: the translational ones are position servos along the base's
    axes (control: the grasp centre's target relative to the base [m]; stiffness ``kp`` [N/m], damping ``kv``
    [N s/m], force limit ``force_limit`` [N]); the rotational ones hold the site at ``orientation_wxyz`` (world
    frame; control 0).
    """
    chain = read_panda_chain()
    opened = [
        f'<site name="arm_base{i}" pos="{_vec(base_pos)}" size="0.001"/>'
        f'<site name="arm_grasp_ref{i}" pos="{_vec(base_pos)}" quat="{_vec(orientation_wxyz)}" size="0.001"/>'
        f'<body name="{BASE_LINK}_{i}" pos="{_vec(base_pos)}" '
        f'quat="{math.cos(base_yaw_rad / 2):.12g} 0 0 {math.sin(base_yaw_rad / 2):.12g}">'
    ]
    closed = ["</body>"]
    for link in chain:
        body = f'<body name="{link.child}_{i}" pos="{_vec(link.pos)}" quat="{_vec(link.quat_wxyz)}" gravcomp="1">'
        if link.mass > 0:
            body += _link_inertial(link.child)
        if link.axis is not None:
            low, high = np.rad2deg(link.limits)  # MJCF's default angle unit is degrees
            body += (
                f'<joint name="{link.joint}_{i}" type="hinge" axis="{_vec(link.axis)}" range="{low:.9g} {high:.9g}" '
                f'damping="{JOINT_DAMPING}" armature="{JOINT_ARMATURE}" '
                f'actuatorfrcrange="{-link.effort} {link.effort}" actuatorfrclimited="true"/>'
            )
            if link.collision_mesh is not None:
                body += (
                    f'<geom name="{link.child}_{i}" type="mesh" mesh="{link.child}" mass="0" '
                    f'contype="{ARM_CONTYPE}" conaffinity="{ARM_CONAFFINITY}"/>'
                )
        opened.append(body)
        closed.append("</body>")
    opened.append(f'<body name="grasp{i}" pos="0 0 {GRASP_OFFSET_M}" quat="{_vec(grasp_quat_wxyz)}" gravcomp="1">')
    opened.append(grasp_content)
    closed.append("</body>")
    actuators = []
    for k, axis in enumerate("xyz"):
        gear = ["0"] * 6
        gear[k] = "1"
        actuators.append(
            f'<position name="cart{axis}_{i}" site="ee{i}" refsite="arm_base{i}" gear="{" ".join(gear)}" kp="{kp}" '
            f'kv="{kv}" forcerange="{-force_limit} {force_limit}" forcelimited="true" ctrllimited="false"/>'
        )
    for k, axis in enumerate("xyz"):
        gear = ["0"] * 6
        gear[3 + k] = "1"
        actuators.append(
            f'<position name="cartr{axis}_{i}" site="ee{i}" refsite="arm_grasp_ref{i}" gear="{" ".join(gear)}" '
            f'kp="{ROTATION_KP}" kv="{ROTATION_KV}" ctrllimited="false"/>'
        )
    return "".join(opened) + "".join(closed), actuators


def dls_step(jacobians: np.ndarray, errors: np.ndarray, damping: float = 0.05) -> np.ndarray:
    """:func:`splattwin_tasks.mdp.dls_joint_step` on numpy arrays (float64): jacobians [N, 6, 7], errors [N, 6]
    (world frame), damping [m]; returns the joint displacements [N, 7] [rad]."""
    step = dls_joint_step(torch.from_numpy(np.ascontiguousarray(jacobians)), torch.from_numpy(errors), damping)
    return step.numpy()
