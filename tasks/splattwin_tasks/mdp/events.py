"""Reset events: the object's mass around its identified value, its pose, the robot's start.

Mass sampling follows the identified value and its uncertainty: log-normal with median m0 and log-standard
deviation ``sigma = sqrt(log(1 + u^2))`` for a relative standard deviation u (so the sample's relative spread is
u), or, for training across masses, log-uniform over ``[m0 / r, m0 * r]``. The inertia is rescaled with the
mass (same shape, uniform density: I is proportional to m).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from splattwin_tasks.mdp._scene import (
    SceneEntityCfg,
    env_id_tensor,
    get_object_inertias,
    get_object_masses,
    set_object_masses_and_inertias,
    to_torch,
)
from splattwin_tasks.robots.franka import FINGER_TRAVEL_M

__all__ = [
    "lognormal_mass",
    "place_grasp_centre",
    "loguniform_mass",
    "randomize_object_mass",
    "reset_hand_behind_object",
    "reset_hand_pregrasp",
    "reset_object_pose",
    "scale_inertia_with_mass",
]

_OBJECT = SceneEntityCfg("object")
_ROBOT = SceneEntityCfg("robot")


def lognormal_mass(
    count: int, nominal_mass_kg: float, relative_uncertainty: float, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``count`` masses [kg], log-normal with median ``nominal_mass_kg`` and relative std ``relative_uncertainty``."""
    if nominal_mass_kg <= 0 or relative_uncertainty < 0:
        raise ValueError(f"need nominal mass > 0 and uncertainty >= 0, got {nominal_mass_kg}, {relative_uncertainty}")
    sigma = math.sqrt(math.log1p(relative_uncertainty**2))
    normal = torch.randn(count, generator=generator, dtype=torch.float64)
    return (math.log(nominal_mass_kg) + sigma * normal).exp().float()


def loguniform_mass(
    count: int, nominal_mass_kg: float, range_ratio: float, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``count`` masses [kg], log-uniform over ``[nominal / range_ratio, nominal * range_ratio]``."""
    if nominal_mass_kg <= 0 or range_ratio < 1:
        raise ValueError(f"need nominal mass > 0 and range ratio >= 1, got {nominal_mass_kg}, {range_ratio}")
    uniform = torch.rand(count, generator=generator, dtype=torch.float64)
    log_low, log_high = math.log(nominal_mass_kg / range_ratio), math.log(nominal_mass_kg * range_ratio)
    return (log_low + (log_high - log_low) * uniform).exp().float()


def scale_inertia_with_mass(inertia: torch.Tensor, old_mass: torch.Tensor, new_mass: torch.Tensor) -> torch.Tensor:
    """Inertia tensors of the same shape at a new mass: ``I * new / old`` (uniform density).

    Args:
        inertia: flattened 3x3 inertia about the centre of mass [kg m^2], shape [N, 9].
        old_mass: masses the inertia belongs to [kg], shape [N].
        new_mass: masses to rescale to [kg], shape [N].
    """
    return inertia * (new_mass / old_mass).reshape(-1, 1)


def randomize_object_mass(
    env: Any,
    env_ids: torch.Tensor | None,
    asset_cfg: Any = _OBJECT,
    nominal_mass_kg: float = 1.0,
    relative_uncertainty: float = 0.0,
    distribution: str = "lognormal",
    range_ratio: float = 4.0,
    fixed_mass_kg: float | None = None,
) -> None:
    """Set the object's mass (and inertia) in the reset envs.

    Args:
        env: the env.
        env_ids: indices of the envs to reset, shape [K]; None for all.
        asset_cfg: the object entity.
        nominal_mass_kg: the identified (or prior) mass m0 [kg].
        relative_uncertainty: its relative standard deviation u.
        distribution: ``"lognormal"`` (around m0 by u), ``"loguniform"`` (``[m0 / range_ratio, m0 * range_ratio]``,
            for training across masses) or ``"fixed"`` (``fixed_mass_kg``, for the cross-mass study).
        range_ratio: the log-uniform range's ratio r >= 1.
        fixed_mass_kg: the mass for ``"fixed"``.
    """
    asset = env.scene[asset_cfg.name]
    env_ids = env_id_tensor(env, env_ids)
    count = len(env_ids)
    if distribution == "lognormal":
        new = lognormal_mass(count, nominal_mass_kg, relative_uncertainty)
    elif distribution == "loguniform":
        new = loguniform_mass(count, nominal_mass_kg, range_ratio)
    elif distribution == "fixed":
        if fixed_mass_kg is None or fixed_mass_kg <= 0:
            raise ValueError(f"distribution 'fixed' needs fixed_mass_kg > 0, got {fixed_mass_kg}")
        new = torch.full((count,), float(fixed_mass_kg))
    else:
        raise ValueError(f"mass distribution must be lognormal, loguniform or fixed, got {distribution!r}")
    ids_cpu = env_ids.cpu()
    old = get_object_masses(asset).cpu()[ids_cpu]
    inertia_rows = get_object_inertias(asset).cpu()[ids_cpu]
    set_object_masses_and_inertias(asset, env_ids, new, scale_inertia_with_mass(inertia_rows, old, new))


def reset_object_pose(
    env: Any, env_ids: torch.Tensor, xy_range_m: Sequence[float] = (0.0, 0.0), asset_cfg: Any = _OBJECT
) -> None:
    """Put the object back at its default (twin) pose, shifted uniformly by up to ``xy_range_m`` in x and y, at rest."""
    asset = env.scene[asset_cfg.name]
    env_ids = env_id_tensor(env, env_ids)
    state = to_torch(asset.data.default_root_state)[env_ids].clone()
    shift = (torch.rand(len(env_ids), 2, device=env.device) * 2.0 - 1.0) * torch.tensor(xy_range_m, device=env.device)
    state[:, :2] += shift + env.scene.env_origins[env_ids, :2]
    state[:, 2] += env.scene.env_origins[env_ids, 2]
    asset.write_root_pose_to_sim(state[:, :7], env_ids=env_ids)
    asset.write_root_velocity_to_sim(torch.zeros_like(state[:, 7:]), env_ids=env_ids)


def _object_start(env: Any, env_ids: torch.Tensor, asset_cfg: Any) -> np.ndarray:
    """The objects' positions in the env frame [K, 3] [m] (float64, for the placement arithmetic)."""
    position = to_torch(env.scene[asset_cfg.name].data.root_pos_w)[env_ids] - env.scene.env_origins[env_ids]
    return position.double().cpu().numpy()


def reset_hand_pregrasp(
    env: Any, env_ids: torch.Tensor, jitter_m: float, asset_cfg: Any = _OBJECT, robot_cfg: Any = _ROBOT
) -> None:
    """Lift's start: the grasp centre at the object's centre, shifted uniformly by up to ``jitter_m`` in x and y,
    fingers open (a pre-grasp pose). Draws from ``env.np_random``.

    A start event: the runtime runs it after the commands are resampled (see ``TaskTerms.start_events``); the robot
    entity places itself (``write_grasp_centre_to_sim``).
    """
    start = _object_start(env, env_ids, asset_cfg)
    k = len(start)
    start = start + np.concatenate([env.np_random.uniform(-jitter_m, jitter_m, (k, 2)), np.zeros((k, 1))], 1)
    place_grasp_centre(env, env_ids, start, finger_opening_m=FINGER_TRAVEL_M, robot_cfg=robot_cfg)


def reset_hand_behind_object(
    env: Any,
    env_ids: torch.Tensor,
    distance_range_m: Sequence[float],
    angle_deg: float,
    height_m: float,
    command_name: str = "push_target",
    asset_cfg: Any = _OBJECT,
    robot_cfg: Any = _ROBOT,
) -> None:
    """Push's start (a pre-push pose): the grasp centre at a uniform distance in ``distance_range_m`` [m] from the
    object, on the side away from the target (command ``command_name``) up to ``angle_deg`` off that line, at
    ``height_m`` (env frame), fingers shut. Draws from ``env.np_random``.

    A start event: it reads the target, so the runtime runs it after the commands are resampled.
    """
    obj = _object_start(env, env_ids, asset_cfg)
    target = env.command_manager.get_command(command_name)[env_ids].double().cpu().numpy()
    k = len(obj)
    away = np.arctan2(obj[:, 1] - target[:, 1], obj[:, 0] - target[:, 0])  # from the target through the object
    spread = np.deg2rad(angle_deg)
    low, high = distance_range_m
    distance, heading = env.np_random.uniform(low, high, k), away + env.np_random.uniform(-spread, spread, k)
    start = obj + np.stack([distance * np.cos(heading), distance * np.sin(heading), np.zeros(k)], 1)
    start[:, 2] = height_m
    place_grasp_centre(env, env_ids, start, finger_opening_m=0.0, robot_cfg=robot_cfg)


def place_grasp_centre(
    env: Any, env_ids: torch.Tensor, positions: np.ndarray, *, finger_opening_m: float, robot_cfg: Any = _ROBOT
) -> None:
    """Put the robot of envs ``env_ids`` [K] at rest with its grasp centre at ``positions`` [K, 3] (env frame [m]),
    the hand top-down, the fingers ``finger_opening_m`` open: the start events' one way to place the robot.

    The embedded robot places itself (``write_grasp_centre_to_sim``: IK on MuJoCo's kinematics); under Isaac Lab the
    arm's Cartesian action term does (``CartesianTargetAction.write_grasp_centre_to_sim``: the same damped
    least-squares IK on the articulation's own kinematics, joint state written with ``write_joint_state_to_sim``).
    """
    robot = env.scene[robot_cfg.name]
    placer = getattr(robot, "write_grasp_centre_to_sim", None)
    if placer is None:
        placer = env.action_manager.get_term("arm_action").write_grasp_centre_to_sim
    placer(positions, env_ids=env_id_tensor(env, env_ids), finger_opening_m=finger_opening_m)
