"""The robot and the twin's frame: the heading step of ``align --robot`` and moving robot bases with an alignment.

A robot is metric (its URDF says so), so an alignment moves its base rigidly: the base position follows the
similarity, its axes turn with it, and its links and their link-frame Gaussians are never scaled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import StageError
from splattwin.geometry.transforms import Similarity
from splattwin.usd.prims import world_matrix

if TYPE_CHECKING:
    from pxr import Usd

    from splattwin.usd.stage import TwinStage

__all__ = ["base_pose_world", "move_robot_bases", "robot_origin_step"]


def base_pose_world(stage: Usd.Stage, prim_path: str) -> np.ndarray:
    """World pose [4, 4] of a robot prim written by ``import-robot`` (StageError if there is none)."""

    from splattwin.robot.usd_robot import ROBOT_KEY  # noqa: PLC0415

    prim = stage.GetPrimAtPath(prim_path)
    if not prim or prim.GetCustomDataByKey(ROBOT_KEY) is None:
        raise StageError(stage.GetRootLayer().identifier, f"--robot {prim_path}: no robot prim there (import-robot)")
    return world_matrix(prim)


def robot_origin_step(base_world: np.ndarray, before: Similarity) -> tuple[Similarity, dict[str, Any]]:
    """The rigid step putting the origin at the robot base and the x axis along the base's x axis.

    The turn is about world z only (after ``before``, the alignment steps that come first, gravity among them),
    so the table stays level: the base's x axis projected on the ground plane becomes +x.

    Args:
        base_world: robot base pose [4, 4] in the current frame (before any of this alignment).
        before: the alignment steps applied before this one (identity if none).

    Returns:
        (the step, a JSON-friendly record: name, heading in degrees, base position).
    """
    position = before.apply_points(base_world[:3, 3])
    x_axis = before.rotation @ base_world[:3, 0]
    if np.hypot(x_axis[0], x_axis[1]) < 1e-6:
        raise ValueError("the robot base's x axis points straight up or down; its heading is undefined")
    heading = float(np.arctan2(x_axis[1], x_axis[0]))
    c, s = np.cos(-heading), np.sin(-heading)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    step = Similarity(rotation=turn, translation=-(turn @ position))
    record = {"name": "robot", "heading_deg": float(np.degrees(heading)), "base": position.tolist()}
    return step, record


def move_robot_bases(twin: TwinStage, applied: Similarity) -> list[str]:
    """Move every robot's base with an alignment (rigidly: robots are metric); returns the robot prims moved."""
    from pxr import Gf, UsdGeom  # noqa: PLC0415

    from splattwin.robot.usd_robot import find_robots  # noqa: PLC0415

    moved = []
    for path in find_robots(twin.stage):
        prim = twin.stage.GetPrimAtPath(path)
        pose = base_pose_world(twin.stage, path)
        new_pose = np.eye(4)
        new_pose[:3, :3] = applied.rotation @ pose[:3, :3]
        new_pose[:3, 3] = applied.apply_points(pose[:3, 3])
        parent = world_matrix(prim.GetParent())
        local = np.linalg.inv(parent) @ new_pose
        with twin.edit_layer(twin.layer_of(path) or "robot"):
            ops = UsdGeom.Xformable(prim).GetOrderedXformOps()
            if len(ops) != 1 or ops[0].GetOpType() != UsdGeom.XformOp.TypeTransform:
                raise StageError(twin.root_path, f"robot {path}: expected one xformOp:transform on the robot prim")
            ops[0].Set(Gf.Matrix4d(local.T.tolist()))
        moved.append(path)
    return moved
