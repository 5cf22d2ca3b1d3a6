"""The full Franka Panda arm for the embedded runtime: MJCF bodies from pybullet's ``franka_panda/panda.urdf``.

The 7 links' joint frames, axes, limits and inertials are read from the URDF that pybullet ships (the same Panda
the twin's robot layer holds), written as nested MJCF bodies (MuJoCo's own URDF import cannot be spliced N times
into one model, so the chain is emitted here from the parsed URDF). The arm links carry no collision geoms (only
the hand's palm and finger pads collide, as in the hand model); the bodies are gravity-compensated, as Franka's
controller does. :func:`dls_step` is the damped-least-squares differential IK the env runs each control step.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "ARM_JOINTS",
    "ARM_HOME_Q",
    "GRASP_OFFSET_M",
    "PandaLink",
    "arm_chain_mjcf",
    "dls_step",
    "panda_urdf_path",
    "read_panda_chain",
]

ARM_JOINTS = tuple(f"panda_joint{k}" for k in range(1, 8))
# A ready pose (Franka's own, hand pointing down over the table in front of the base).
ARM_HOME_Q = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, math.pi / 4])
GRASP_OFFSET_M = 0.1034  # grasp centre along panda_hand's z (finger joints at 0.0584 + the pads' half height)
ARM_KP = 4000.0  # N m/rad: joint position servos (stiff: the IK sets where the hand goes)
ARM_KV = 200.0  # N m s/rad


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


def panda_urdf_path() -> Path:
    """pybullet_data's ``franka_panda/panda.urdf``."""
    import pybullet_data  # noqa: PLC0415

    return Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"


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


def read_panda_chain(urdf: Path | None = None) -> list[PandaLink]:
    """The chain panda_link0 -> panda_hand from the URDF: joints 1-7, then the fixed joint8 and hand joint."""
    root = ET.parse(urdf or panda_urdf_path()).getroot()
    links = {link.get("name"): link for link in root.findall("link")}
    joints = {
        joint.find("parent").get("link"): joint
        for joint in root.findall("joint")
        if joint.find("parent").get("link") != "panda_hand"
    }

    def floats(element: ET.Element | None, attr: str, default: str) -> np.ndarray:
        return np.array([float(v) for v in (element.get(attr, default) if element is not None else default).split()])

    chain, parent = [], "panda_link0"
    while parent != "panda_hand":
        joint = joints[parent]
        child = joint.find("child").get("link")
        origin = joint.find("origin")
        inertial = links[child].find("inertial")
        limit = joint.find("limit")
        revolute = joint.get("type") == "revolute"
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
            )
        )
        parent = child
    return chain


def _vec(values: np.ndarray | tuple | list) -> str:
    return " ".join(f"{float(v):.12g}" for v in values)


def arm_chain_mjcf(
    i: int, base_pos: np.ndarray, grasp_content: str, grasp_quat_wxyz: np.ndarray
) -> tuple[str, list[str]]:
    """MJCF of world ``i``'s arm rooted at ``base_pos`` [3] (world frame, m) and its 7 joint servos.

    ``grasp_content`` (palm, ee site, fingers) goes into a ``grasp{i}`` body on ``panda_hand`` at the grasp
    centre, turned by ``grasp_quat_wxyz`` relative to the hand.
    """
    chain = read_panda_chain()
    opened, closed = [f'<body name="panda_link0_{i}" pos="{_vec(base_pos)}">'], ["</body>"]
    for link in chain:
        body = f'<body name="{link.child}_{i}" pos="{_vec(link.pos)}" quat="{_vec(link.quat_wxyz)}" gravcomp="1">'
        if link.mass > 0:
            # The URDF's inertia tensors are placeholders (0.1 kg m^2 on every link); keep its masses and centres
            # with a small diagonal inertia so the links are not far heavier in rotation than the real arm.
            body += f'<inertial pos="{_vec(link.com)}" mass="{link.mass}" diaginertia="0.01 0.01 0.01"/>'
        if link.axis is not None:
            low, high = np.rad2deg(link.limits)  # MJCF's default angle unit is degrees
            body += (
                f'<joint name="{link.joint}_{i}" type="hinge" axis="{_vec(link.axis)}" range="{low:.9g} {high:.9g}" '
                'damping="1" armature="0.1"/>'
            )
        opened.append(body)
        closed.append("</body>")
    opened.append(f'<body name="grasp{i}" pos="0 0 {GRASP_OFFSET_M}" quat="{_vec(grasp_quat_wxyz)}" gravcomp="1">')
    opened.append(grasp_content)
    closed.append("</body>")
    actuators = [
        f'<position name="{joint}_{i}" joint="{joint}_{i}" kp="{ARM_KP}" kv="{ARM_KV}"/>' for joint in ARM_JOINTS
    ]
    return "".join(opened) + "".join(closed), actuators


def dls_step(jacobians: np.ndarray, errors: np.ndarray, damping: float = 0.05) -> np.ndarray:
    """Damped-least-squares joint step ``J^T (J J^T + λ² I)^-1 e`` per world.

    Args:
        jacobians: site Jacobians [N, 6, 7] (linear rows over angular rows, world frame).
        errors: pose errors [N, 6]: position [m] and rotation vector [rad], world frame.
        damping: λ [m].

    Returns:
        Joint displacements [N, 7] [rad].
    """
    jjt = jacobians @ jacobians.transpose(0, 2, 1) + damping**2 * np.eye(6)
    return np.einsum("nji,nj->ni", jacobians, np.linalg.solve(jjt, errors[..., None])[..., 0])
