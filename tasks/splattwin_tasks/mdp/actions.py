"""The Cartesian action both runtimes apply: where a task's action sends the end-effector, and how it is held.

The embedded runtime feeds :func:`end_effector_target` to its impedance controller, the Isaac Lab cfgs to a
differential-IK action term (:mod:`splattwin_tasks.manipulation.isaaclab_actions`); the numbers are the same.
Positions are metres in the robot-base frame, shape [N, 3].
"""

from __future__ import annotations

import math

import torch

__all__ = ["REACH_M", "end_effector_target", "hand_down_quat_wxyz"]

REACH_M = 0.85
"""The Panda's reach from its base [m]: targets beyond it are pulled back onto the sphere."""


def end_effector_target(
    ee_pos: torch.Tensor,
    actions: torch.Tensor,
    move_step_m: float,
    *,
    min_height_m: float,
    max_height_m: float,
    hold_height_m: float | None = None,
    reach_m: float = REACH_M,
) -> torch.Tensor:
    """The grasp-centre target a Cartesian action asks for.

    Args:
        ee_pos: current grasp centre [N, 3] m.
        actions: [N, k] in [-1, 1]; columns 0-1 move in x, y and (without ``hold_height_m``) column 2 in z, each by
            at most ``move_step_m``; further columns (the grip) are ignored.
        move_step_m: displacement of a full action [m].
        min_height_m: lowest target height [m] (the fingertips' clearance over the table).
        max_height_m: highest target height [m].
        hold_height_m: a planar action (Push): the target height, whatever the hand's height now [m].
        reach_m: targets are kept within this distance of the base [m].

    Returns:
        [N, 3] target positions, dtype of ``ee_pos``.
    """
    moved = 2 if hold_height_m is not None else 3
    target = ee_pos.clone()
    target[:, :moved] += move_step_m * actions[:, :moved].to(ee_pos.dtype)
    if hold_height_m is not None:
        target[:, 2] = hold_height_m
    radius = target.norm(dim=1, keepdim=True)
    target = torch.where(radius > reach_m, target * (reach_m / radius.clamp_min(1e-9)), target)
    target[:, 2] = target[:, 2].clamp(min_height_m, max_height_m)
    return target


def hand_down_quat_wxyz(closing_yaw_rad: float) -> tuple[float, float, float, float]:
    """``panda_hand``'s orientation (w, x, y, z) in the base frame for a top-down grasp: its z (the fingers' direction)
    pointing down and its y (the fingers' closing axis) along the horizontal line at ``closing_yaw_rad``.

    That is ``Rz(closing_yaw - pi/2) Rx(pi)``: the hand turned upside down, then about the vertical.
    """
    half = (closing_yaw_rad - math.pi / 2) / 2
    return (0.0, math.cos(half), math.sin(half), 0.0)
