"""The Franka Emika Panda as the tasks use it: the one place its facts live.

Every consumer reads them from here: the embedded runtime's MJCF builder (:mod:`splattwin_tasks.embedded.mjcf`) and
arm (:mod:`splattwin_tasks.embedded.arm`), the task terms and cfgs (:mod:`splattwin_tasks.manipulation`), the twin
reader's robot check and the tests. Names are the URDF's (pybullet's ``franka_panda/panda.urdf``, the Panda
``import-robot`` authors into the twin); lengths in metres, masses in kilograms, angles in radians, quaternions
(w, x, y, z).

Frames: ``panda_hand``'s z points along the fingers and its y is the fingers' closing axis. The **grasp centre**
(the task's end-effector) lies :data:`GRASP_OFFSET_M` along that z, between the finger pads. The **grasp frame** is
the hand turned by pi about x, so that its z points back up to the palm (the embedded hand model's hand body and
the arm's ``grasp`` body are this frame): for a top-down grasp it is a pure yaw (:func:`grasp_frame_quat_wxyz`),
and the hand itself is :func:`hand_down_quat_wxyz`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from splattwin.errors import StageError

if TYPE_CHECKING:
    from splattwin_tasks.twin_scene import TwinScene

__all__ = [
    "ARM_HOME_Q",
    "ARM_JOINTS",
    "ARM_JOINTS_REGEX",
    "BASE_LINK",
    "FINGER_JOINTS",
    "FINGER_JOINTS_REGEX",
    "FINGER_LINKS",
    "FINGER_TRAVEL_M",
    "GRASP_CLEARANCE_M",
    "GRASP_IN_HAND_QUAT_WXYZ",
    "GRASP_OFFSET_M",
    "HAND",
    "HAND_LINK",
    "HandGeometry",
    "MAX_OPENING_M",
    "REACH_M",
    "REQUIRED_LINKS",
    "closing_yaw",
    "grasp_frame_quat_wxyz",
    "hand_down_quat_wxyz",
    "urdf_path",
]

ARM_JOINTS = tuple(f"panda_joint{k}" for k in range(1, 8))
"""The arm's 7 revolute joints, base to flange."""
ARM_JOINTS_REGEX = "panda_joint.*"
"""The arm's joints as Isaac Lab's name expressions match them."""
FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")
"""The finger joints (prismatic): 0 closed, :data:`FINGER_TRAVEL_M` open, each."""
FINGER_JOINTS_REGEX = "panda_finger_joint.*"
BASE_LINK = "panda_link0"
"""The arm's root link: the robot base, origin of every task frame."""
HAND_LINK = "panda_hand"
"""The hand body: the arm's action moves it, the velocity observation reads it."""
FINGER_LINKS = ("panda_leftfinger", "panda_rightfinger")
REQUIRED_LINKS = (HAND_LINK, *FINGER_LINKS)
"""Links a twin's robot must have to be the Panda the tasks drive."""

FINGER_TRAVEL_M = 0.04
"""Each finger's travel from closed to open (the URDF's joint upper limit)."""
MAX_OPENING_M = 2 * FINGER_TRAVEL_M
"""The widest object the gripper closes around."""
GRASP_OFFSET_M = 0.1034
"""Grasp centre along ``panda_hand``'s z: the finger joints at 0.0584 plus the pads' half height, 0.045."""
GRASP_IN_HAND_QUAT_WXYZ = (0.0, 1.0, 0.0, 0.0)
"""The grasp frame relative to ``panda_hand``: pi about x (its z points back up to the palm)."""
REACH_M = 0.85
"""The Panda's reach from its base: grasp-centre targets beyond it are pulled back onto the sphere."""
ARM_HOME_Q = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, math.pi / 4])
"""A ready pose [rad] (Franka's own: the hand pointing down over the table in front of the base)."""


@dataclass(frozen=True, kw_only=True)
class HandGeometry:
    """The Panda hand's dimensions [m] and masses [kg] (franka_panda URDF / Franka datasheet, rounded), in the grasp
    frame (x along the palm, y the closing axis, z up to the palm; origin at the grasp centre).

    Attributes:
        hand_mass: the hand without fingers.
        finger_mass: one finger.
        pad_half: a finger pad's half-extents: along the palm, across (closing axis), height.
        palm_half: the palm box's half-extents.
        palm_z: the palm centre's height above the grasp centre.
    """

    hand_mass: float = 0.73
    finger_mass: float = 0.015
    pad_half: tuple[float, float, float] = (0.011, 0.005, 0.0225)
    palm_half: tuple[float, float, float] = (0.03, 0.1, 0.0125)
    palm_z: float = 0.0225 + 0.035


HAND = HandGeometry()
GRASP_CLEARANCE_M = HAND.pad_half[2] + 0.001
"""Lowest grasp-centre height over the table for the arm: the pads (their half height below the grasp centre) stay
1 mm clear of it; pressed into the table, the stiff contact throws the arm's inertia up."""


def urdf_path() -> Path:
    """The Panda's URDF: pybullet_data's ``franka_panda/panda.urdf`` (the chain the embedded arm is built from)."""
    import pybullet_data  # noqa: PLC0415

    return Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"


def closing_yaw(scene: TwinScene) -> tuple[float, float]:
    """The fingers' closing direction for a top-down grasp of the twin's object: the yaw [rad] (base frame) of the
    horizontal line across the object's narrowest width, and that width [m].

    Raises:
        StageError: the object does not fit between the fingers (at least :data:`MAX_OPENING_M` wide).
    """
    from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: PLC0415

    rotation = quat_wxyz_to_matrix(np.asarray(scene.object_quat_wxyz, dtype=np.float64))
    xy = (scene.object_vertices @ rotation.T)[:, :2]
    angles = np.deg2rad(np.arange(0.0, 180.0, 1.0))
    directions = np.stack([np.cos(angles), np.sin(angles)], 1)
    projections = xy @ directions.T
    widths = projections.max(0) - projections.min(0)
    best = int(np.argmin(widths))
    if widths[best] >= MAX_OPENING_M:
        raise StageError(
            scene.twin_path,
            f"object {scene.object_prim} is {widths[best]:.3f} m wide at its narrowest: wider than "
            f"the Panda gripper's {MAX_OPENING_M} m opening",
        )
    return float(angles[best]), float(widths[best])


def grasp_frame_quat_wxyz(closing_yaw_rad: float) -> tuple[float, float, float, float]:
    """The grasp frame's orientation (w, x, y, z) in the base frame for a top-down grasp closing along the horizontal
    line at ``closing_yaw_rad``: ``Rz(closing_yaw - pi/2)`` (its y, the closing axis, along that line)."""
    half = (closing_yaw_rad - math.pi / 2) / 2
    return (math.cos(half), 0.0, 0.0, math.sin(half))


def hand_down_quat_wxyz(closing_yaw_rad: float) -> tuple[float, float, float, float]:
    """``panda_hand``'s orientation (w, x, y, z) in the base frame for a top-down grasp: its z (the fingers' direction)
    pointing down and its y (the fingers' closing axis) along the horizontal line at ``closing_yaw_rad``.

    That is ``Rz(closing_yaw - pi/2) Rx(pi)``: the grasp frame (:func:`grasp_frame_quat_wxyz`) turned upside down.
    """
    half = (closing_yaw_rad - math.pi / 2) / 2
    return (0.0, math.cos(half), math.sin(half), 0.0)
