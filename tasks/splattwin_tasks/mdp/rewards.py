"""Reward terms, each shape [N]; the task cfgs weight them (Isaac Lab's ``RewardTermCfg(func, weight, params)``)."""

from __future__ import annotations

import math
from typing import Any

import torch

from splattwin_tasks.mdp._scene import GRAVITY_M_S2, SceneEntityCfg
from splattwin_tasks.mdp.observations import (
    ee_position,
    grip_force,
    object_mass,
    object_position,
    push_target_position,
)

__all__ = [
    "action_rate_l2",
    "ee_object_proximity",
    "grip_force_ceiling",
    "grip_over_ceiling",
    "grip_within_window",
    "object_lift_progress",
    "object_target_proximity",
    "task_success",
]

_OBJECT = SceneEntityCfg("object")
_EE = SceneEntityCfg("ee_frame")
_FINGERS = SceneEntityCfg("robot")


def ee_object_proximity(env: Any, std_m: float, object_cfg: Any = _OBJECT, ee_cfg: Any = _EE) -> torch.Tensor:
    """``1 - tanh(d / std)`` of the end-effector to object distance d [m]: 1 on contact, -> 0 far away."""
    distance = torch.linalg.vector_norm(object_position(env, object_cfg) - ee_position(env, ee_cfg), dim=1)
    return 1.0 - torch.tanh(distance / std_m)


def object_target_proximity(env: Any, std_m: float, object_cfg: Any = _OBJECT) -> torch.Tensor:
    """``1 - tanh(d / std)`` of the object to push-target distance d in the table plane [m]."""
    offset = (push_target_position(env) - object_position(env, object_cfg))[:, :2]
    return 1.0 - torch.tanh(torch.linalg.vector_norm(offset, dim=1) / std_m)


def object_lift_progress(env: Any, rest_height_m: float, goal_lift_m: float, object_cfg: Any = _OBJECT) -> torch.Tensor:
    """Lift above the object's resting height as a fraction of the goal, clipped to [0, 1]."""
    lift = object_position(env, object_cfg)[:, 2] - rest_height_m
    return torch.clamp(lift / goal_lift_m, 0.0, 1.0)


def grip_force_ceiling(mass_kg: torch.Tensor, friction: float, ceiling_ratio: float) -> torch.Tensor:
    """The fragility ceiling on the closing force [N], shape like ``mass_kg``.

    Holding mass m against gravity between two friction pads takes ``2 mu F >= m g``, i.e. ``F >= m g / (2 mu)``;
    the object breaks (or, as in DREAM's study, bounces out) above ``ceiling_ratio`` times that. The window a policy
    must hit is thus ``[1, ceiling_ratio]`` times a force proportional to the mass.
    """
    return ceiling_ratio * mass_kg * GRAVITY_M_S2 / (2.0 * friction)


def grip_over_ceiling(
    env: Any, friction: float, ceiling_ratio: float, object_cfg: Any = _OBJECT, finger_cfg: Any = _FINGERS
) -> torch.Tensor:
    """1.0 where the closing force exceeds the object's fragility ceiling, else 0.0."""
    ceiling = grip_force_ceiling(object_mass(env, object_cfg), friction, ceiling_ratio)
    return (grip_force(env, finger_cfg) > ceiling).float()


def grip_within_window(
    env: Any, friction: float, ceiling_ratio: float, object_cfg: Any = _OBJECT, finger_cfg: Any = _FINGERS
) -> torch.Tensor:
    """How well the closing force sits in the mass-dependent window ``[h, ceiling_ratio * h]``, ``h = m g / (2 mu)``.

    ``exp(-(log(F / F*) / w)^2)`` with ``F* = sqrt(ceiling_ratio) * h`` the window's centre in log force and
    ``w = log(ceiling_ratio) / 2`` its half-width: 1 at the centre, ``exp(-1)`` at either edge, smooth outside so a
    policy far from the window still gets a gradient. The reward may use the true mass; the policy sees only its
    observations.
    """
    mass = object_mass(env, object_cfg)
    force = grip_force(env, finger_cfg).clamp_min(1e-6)
    holding = mass * GRAVITY_M_S2 / (2.0 * friction)
    half_width = 0.5 * math.log(ceiling_ratio)
    offset = (torch.log(force) - torch.log(holding) - half_width) / half_width
    return torch.exp(-torch.square(offset))


def task_success(env: Any, term: str) -> torch.Tensor:
    """1.0 where the named termination term fired this step as a success, else 0.0."""
    return env.termination_manager.get_term(term).float()


def action_rate_l2(env: Any) -> torch.Tensor:
    """Squared change of the action since the last step (discourages chatter)."""
    return torch.sum(torch.square(env.action_manager.action - env.action_manager.prev_action), dim=1)
