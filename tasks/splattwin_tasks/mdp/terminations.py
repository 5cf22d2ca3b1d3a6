"""Termination terms, each a bool tensor [N]."""

from __future__ import annotations

from typing import Any

import torch

from splattwin_tasks.mdp._scene import SceneEntityCfg
from splattwin_tasks.mdp.observations import grip_force, object_mass, object_position, push_target_position
from splattwin_tasks.mdp.rewards import grip_force_ceiling

__all__ = ["lift_success", "object_crushed", "object_off_table", "push_success", "time_out"]

_OBJECT = SceneEntityCfg("object")
_FINGERS = SceneEntityCfg("robot")


def time_out(env: Any) -> torch.Tensor:
    """The episode reached its length (a truncation, not a failure)."""
    return env.episode_length_buf >= env.max_episode_length


def push_success(env: Any, tolerance_m: float, object_cfg: Any = _OBJECT) -> torch.Tensor:
    """The object's centre is within ``tolerance_m`` of the target in the table plane."""
    offset = (push_target_position(env) - object_position(env, object_cfg))[:, :2]
    return torch.linalg.vector_norm(offset, dim=1) < tolerance_m


def lift_success(
    env: Any,
    rest_height_m: float,
    goal_lift_m: float,
    friction: float,
    ceiling_ratio: float,
    object_cfg: Any = _OBJECT,
    finger_cfg: Any = _FINGERS,
) -> torch.Tensor:
    """Lifted ``goal_lift_m`` above its resting height without ever exceeding the grip ceiling this step."""
    lifted = object_position(env, object_cfg)[:, 2] - rest_height_m >= goal_lift_m
    gentle = grip_force(env, finger_cfg) <= grip_force_ceiling(object_mass(env, object_cfg), friction, ceiling_ratio)
    return lifted & gentle


def object_crushed(
    env: Any, friction: float, ceiling_ratio: float, object_cfg: Any = _OBJECT, finger_cfg: Any = _FINGERS
) -> torch.Tensor:
    """The closing force went over the object's fragility ceiling (see :func:`~.rewards.grip_force_ceiling`)."""
    ceiling = grip_force_ceiling(object_mass(env, object_cfg), friction, ceiling_ratio)
    return grip_force(env, finger_cfg) > ceiling


def object_off_table(env: Any, table_height_m: float, margin_m: float, object_cfg: Any = _OBJECT) -> torch.Tensor:
    """The object fell below the table top by more than ``margin_m`` (pushed off the edge)."""
    return object_position(env, object_cfg)[:, 2] < table_height_m - margin_m
