"""The tasks' actions, written once for both runtimes: where a Cartesian action sends the end-effector, and how the
grip action becomes a closing force.

A task describes its actions with the cfgs here (:class:`CartesianActionCfg`, :class:`LogGripForceActionCfg`,
:class:`HeldGripForceActionCfg`: numbers only, no state); each runtime has its action terms that apply them. The
embedded runtime's (:mod:`splattwin_tasks.embedded.managers`) feed :func:`end_effector_target` to its impedance
controller; Isaac Lab's (:mod:`splattwin_tasks.manipulation.isaaclab_actions`) feed it to differential IK. Both
lag the grip with :func:`lag_grip_level` and map it with :func:`grip_force_from_level`. Positions are metres in the
robot-base frame, shape [N, 3].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from splattwin_tasks.robots.franka import REACH_M

__all__ = [
    "dls_joint_step",
    "GRIP_LEVEL_AT_RESET",
    "CartesianActionCfg",
    "HeldGripForceActionCfg",
    "LogGripForceActionCfg",
    "cartesian_heights",
    "end_effector_target",
    "grip_force_from_level",
    "lag_grip_level",
]

GRIP_LEVEL_AT_RESET = -1.0
"""The grip level an episode starts from: the least force."""


@dataclass(kw_only=True)
class CartesianActionCfg:
    """The end-effector action: columns 0-1 move the grasp centre in x, y (and with ``hold_height_above_table_m``
    None, column 2 in z), each by at most ``move_step_m`` per step.

    Attributes:
        action_dim: 2 (planar, the height held) or 3.
        move_step_m: displacement of a full action [m].
        hold_height_above_table_m: a planar action's grasp-centre height over the table [m]; None: the action moves z.
        max_height_above_table_m: highest target over the table [m].
    """

    action_dim: int
    move_step_m: float
    hold_height_above_table_m: float | None = None
    max_height_above_table_m: float = 0.5


@dataclass(kw_only=True)
class LogGripForceActionCfg:
    """One grip action for both fingers: a level that follows the action with a first-order lag
    (:func:`lag_grip_level`), mapped to a closing force log-uniformly over ``force_range_n``
    (:func:`grip_force_from_level`).

    Attributes:
        force_range_n: closing force per finger at levels -1 and +1 [N].
        time_constant_s: the lag's time constant [s].
    """

    force_range_n: tuple[float, float]
    time_constant_s: float
    action_dim: int = 1


@dataclass(kw_only=True)
class HeldGripForceActionCfg:
    """No grip action: the fingers are held shut with ``force_n`` per finger [N] (Push pushes with closed fingers)."""

    force_n: float
    action_dim: int = 0


def cartesian_heights(
    cfg: CartesianActionCfg, *, table_z_m: float, clearance_m: float
) -> tuple[float, float, float | None]:
    """``(min_height_m, max_height_m, hold_height_m)`` of ``cfg`` in the robot-base frame, for
    :func:`end_effector_target`: the lowest target is ``clearance_m`` over the table top at ``table_z_m``, a held
    height never below it."""
    low = table_z_m + clearance_m
    hold = cfg.hold_height_above_table_m
    return low, table_z_m + cfg.max_height_above_table_m, None if hold is None else max(table_z_m + hold, low)


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


def lag_grip_level(
    level: torch.Tensor, action: torch.Tensor, *, step_dt: float, time_constant_s: float
) -> torch.Tensor:
    """The grip level one policy step later: a first-order lag (time constant ``time_constant_s``, discretised at
    ``step_dt`` [s]) from ``level`` towards ``action`` (both in [-1, 1], same shape).

    The lag acts on the level (the log force), so a deterministic policy gets the force its stochastic training runs
    averaged to (a lag on the force itself would average exp(noise) upwards); a force-controlled gripper does not
    jump either, and one noisy action does not crush the object.
    """
    alpha = step_dt / (step_dt + time_constant_s)
    return level + alpha * (action - level)


def grip_force_from_level(level: torch.Tensor, force_range_n: tuple[float, float]) -> torch.Tensor:
    """Closing force per finger [N] of grip levels in [-1, 1]: ``exp(lerp(log F_lo, log F_hi, (level + 1) / 2))``."""
    low, high = force_range_n
    return torch.exp(math.log(low) + (level + 1.0) / 2.0 * (math.log(high) - math.log(low)))


def dls_joint_step(jacobians: torch.Tensor, errors: torch.Tensor, damping: float = 0.05) -> torch.Tensor:
    """Damped-least-squares joint step ``J^T (J J^T + damping^2 I)^-1 e`` per env: the IK both runtimes place the arm
    by at resets.

    Args:
        jacobians: the end-effector's Jacobians [N, 6, J] (linear rows over angular rows, one frame).
        errors: pose errors [N, 6]: position [m] and rotation vector [rad], the same frame.
        damping: the damping [m].

    Returns:
        Joint displacements [N, J] [rad].
    """
    eye = torch.eye(jacobians.shape[1], dtype=jacobians.dtype, device=jacobians.device)
    jjt = jacobians @ jacobians.transpose(1, 2) + damping**2 * eye
    return (jacobians.transpose(1, 2) @ torch.linalg.solve(jjt, errors[..., None]))[..., 0]
