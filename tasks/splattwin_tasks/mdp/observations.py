"""Observation terms: positions in the robot base frame (the env origin), object mass, gripper state.

All positions are metres in the env's frame (world minus ``env.scene.env_origins``, the robot base on a twin
aligned with ``splattwin align --origin``), shape [N, 3]; quaternions (w, x, y, z), shape [N, 4].
"""

from __future__ import annotations

from typing import Any

import torch

from splattwin_tasks.mdp._scene import SceneEntityCfg, get_object_masses, quat_wxyz_from_env, to_torch
from splattwin_tasks.robots.franka import HAND_LINK

__all__ = [
    "ee_linear_velocity",
    "ee_position",
    "grip_force",
    "gripper_opening",
    "last_action",
    "object_linear_velocity",
    "object_mass",
    "object_mass_observation",
    "object_position",
    "object_quat_wxyz",
    "push_target_offset",
    "push_target_position",
]

_OBJECT = SceneEntityCfg("object")
_EE = SceneEntityCfg("ee_frame")
_FINGERS = SceneEntityCfg("robot")
_HAND = SceneEntityCfg("robot", body_names=[HAND_LINK])


def object_position(env: Any, asset_cfg: Any = _OBJECT) -> torch.Tensor:
    """Object centre of mass in the env frame [m], shape [N, 3]."""
    return to_torch(env.scene[asset_cfg.name].data.root_pos_w) - env.scene.env_origins


def object_quat_wxyz(env: Any, asset_cfg: Any = _OBJECT) -> torch.Tensor:
    """Object orientation (w, x, y, z) with w >= 0 (q and -q are one rotation), shape [N, 4]."""
    quats = quat_wxyz_from_env(env, to_torch(env.scene[asset_cfg.name].data.root_quat_w))
    return torch.where(quats[:, :1] < 0, -quats, quats)


def object_linear_velocity(env: Any, asset_cfg: Any = _OBJECT) -> torch.Tensor:
    """Object centre-of-mass velocity, world axes [m/s], shape [N, 3]."""
    return to_torch(env.scene[asset_cfg.name].data.root_lin_vel_w)


def ee_position(env: Any, ee_cfg: Any = _EE) -> torch.Tensor:
    """End-effector (grasp centre between the fingertips) in the env frame [m], shape [N, 3]."""
    return to_torch(env.scene[ee_cfg.name].data.target_pos_w)[:, 0, :] - env.scene.env_origins


def ee_linear_velocity(env: Any, asset_cfg: Any = _HAND) -> torch.Tensor:
    """The hand's linear velocity, world axes [m/s], shape [N, 3] (the first body of ``asset_cfg``: ``panda_hand``).

    An arm carries momentum from one step to the next; without it in the observations the policy cannot tell a hand
    at rest from one still coasting."""
    return to_torch(env.scene[asset_cfg.name].data.body_lin_vel_w)[:, asset_cfg.body_ids, :][:, 0, :]


def gripper_opening(env: Any, asset_cfg: Any = _FINGERS) -> torch.Tensor:
    """Finger joint positions (each finger's travel from closed) [m], shape [N, fingers]."""
    return to_torch(env.scene[asset_cfg.name].data.joint_pos)[:, asset_cfg.joint_ids]


def grip_force(env: Any, asset_cfg: Any = _FINGERS) -> torch.Tensor:
    """Closing force the gripper applies, mean over the fingers [N], shape [N].

    Finger joints open towards +; a closing effort is negative, so the closing force is minus the mean effort.
    """
    return -to_torch(env.scene[asset_cfg.name].data.applied_torque)[:, asset_cfg.joint_ids].mean(dim=1)


def object_mass(env: Any, asset_cfg: Any = _OBJECT) -> torch.Tensor:
    """The object's simulated mass per env [kg], shape [N] (read from the physics engine, on the env's device)."""
    return get_object_masses(env.scene[asset_cfg.name]).reshape(env.num_envs).to(env.device)


def object_mass_observation(
    env: Any, asset_cfg: Any = _OBJECT, nominal_mass_kg: float = 1.0, relative_uncertainty: float = 0.0
) -> torch.Tensor:
    """What the policy knows of the mass: ``[log(m / nominal), relative uncertainty]``, shape [N, 2].

    The log ratio keeps light and heavy objects on one scale (a 4x heavier block is +1.39, a 4x lighter -1.39);
    the uncertainty is the identified value's relative standard deviation, constant for one twin.
    """
    mass = object_mass(env, asset_cfg)
    log_ratio = torch.log(mass / nominal_mass_kg)
    return torch.stack([log_ratio, torch.full_like(log_ratio, float(relative_uncertainty))], dim=1)


def push_target_position(env: Any, command_name: str = "push_target") -> torch.Tensor:
    """The push target in the env frame [m], shape [N, 3]: the command ``command_name``
    (:class:`~.commands.PushTargetCommand`)."""
    return env.command_manager.get_command(command_name)


def push_target_offset(env: Any, asset_cfg: Any = _OBJECT, command_name: str = "push_target") -> torch.Tensor:
    """Target minus object position in the table plane [m], shape [N, 2]."""
    return (push_target_position(env, command_name) - object_position(env, asset_cfg))[:, :2]


def last_action(env: Any) -> torch.Tensor:
    """The action applied last step, shape [N, action_dim]."""
    return env.action_manager.action
