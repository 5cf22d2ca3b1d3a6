"""Names shared by the terms: entity configs, the env's quaternion order, and the runtime adapters (warp arrays to
torch, reset env ids, the object's mass and inertia through Newton's or PhysX's API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from splattwin_tasks.quaternions import convert_quat_order

__all__ = [
    "GRAVITY_M_S2",
    "SceneEntityCfg",
    "env_id_tensor",
    "get_object_inertias",
    "get_object_masses",
    "quat_wxyz_from_env",
    "set_object_masses_and_inertias",
    "to_torch",
]

GRAVITY_M_S2 = 9.81


@dataclass
class SceneEntityCfg:
    """The embedded runtime's stand-in for Isaac Lab's ``SceneEntityCfg``: an entity name, joint and body ids.

    Under Isaac Lab the env cfgs pass ``isaaclab.managers.SceneEntityCfg`` instead; terms only read ``name``,
    ``joint_ids`` and ``body_ids``, which both have (each env resolves the ids from the names).
    """

    name: str
    joint_names: list[str] = field(default_factory=list)
    joint_ids: Any = field(default_factory=lambda: slice(None))
    body_names: list[str] = field(default_factory=list)
    body_ids: Any = field(default_factory=lambda: slice(None))


def quat_wxyz_from_env(env: Any, quats: torch.Tensor) -> torch.Tensor:
    """Quaternions read from ``env``'s scene, shape [N, 4], in (w, x, y, z) order.

    The runtime says its order in ``env.quat_order`` (the embedded runtime: ``"wxyz"``); an Isaac Lab env has no
    such attribute, so the installed Isaac Lab's version decides (2.x wxyz, 3.0 xyzw).
    """
    order = getattr(env, "quat_order", None)
    if order is None:
        from splattwin_tasks._compat import isaaclab_quat_order  # noqa: PLC0415

        order = isaaclab_quat_order()
        env.quat_order = order
    return convert_quat_order(quats, order, "wxyz")


def to_torch(value: Any) -> torch.Tensor:
    """A runtime's array as a torch tensor: Isaac Lab 3.0's asset data are ``ProxyArray`` (``.torch``, a zero-copy
    view) or raw warp arrays; the embedded runtime and Isaac Lab 2.x hand out tensors already."""
    if isinstance(value, torch.Tensor):
        return value
    view = getattr(value, "torch", None)
    if isinstance(view, torch.Tensor):
        return view
    if type(value).__module__.startswith("warp"):
        import warp as wp  # noqa: PLC0415

        return wp.to_torch(value)
    return torch.as_tensor(value)


def env_id_tensor(env: Any, env_ids: Any) -> torch.Tensor:
    """Reset-event env ids as a long tensor [K]: Isaac Lab passes ``slice(None)`` (or None) for all envs."""
    if env_ids is None or isinstance(env_ids, slice):
        return torch.arange(env.num_envs, device=env.device)[env_ids if isinstance(env_ids, slice) else slice(None)]
    return to_torch(env_ids).long()


def _newton_style(asset: Any) -> bool:
    """Isaac Lab 3.0's assets set masses with ``set_masses_index`` and hold them in ``data.body_mass``."""
    return hasattr(asset, "set_masses_index") and hasattr(asset.data, "body_mass")


def get_object_masses(asset: Any) -> torch.Tensor:
    """The rigid object's mass per env [kg], shape [N] (Isaac Lab 3.0's ``data.body_mass``, else PhysX's view)."""
    if _newton_style(asset):
        masses = to_torch(asset.data.body_mass)
    else:
        masses = to_torch(asset.root_physx_view.get_masses())
    return masses.reshape(masses.shape[0], -1)[:, 0]


def get_object_inertias(asset: Any) -> torch.Tensor:
    """The rigid object's inertia tensor per env, flattened [N, 9] [kg m^2]."""
    if _newton_style(asset):
        inertias = to_torch(asset.data.body_inertia)
    else:
        inertias = to_torch(asset.root_physx_view.get_inertias())
    return inertias.reshape(inertias.shape[0], -1)[:, :9]


def set_object_masses_and_inertias(
    asset: Any, env_ids: torch.Tensor, masses: torch.Tensor, inertias: torch.Tensor
) -> None:
    """Set the object's mass [K] and inertia [K, 9] in envs ``env_ids`` [K]: Newton's body-mass API under Isaac Lab
    3.0 (``set_masses_index`` / ``set_inertias_index``, which also update the inverse mass and inertia), PhysX's
    views (full-size buffers, CPU indices) otherwise."""
    if _newton_style(asset):
        device = to_torch(asset.data.body_mass).device
        ids = env_ids.to(device=device, dtype=torch.int32)
        asset.set_masses_index(masses=masses.reshape(-1, 1).to(device, torch.float32).contiguous(), env_ids=ids)
        asset.set_inertias_index(
            inertias=inertias.reshape(-1, 1, 9).to(device, torch.float32).contiguous(), env_ids=ids
        )
        return
    view = asset.root_physx_view
    ids_cpu = env_ids.cpu()
    all_masses = to_torch(view.get_masses()).clone()
    all_inertias = to_torch(view.get_inertias()).clone()
    all_masses.reshape(all_masses.shape[0], -1)[ids_cpu, 0] = masses.cpu().to(all_masses.dtype)
    all_inertias.reshape(all_inertias.shape[0], -1)[ids_cpu, :9] = inertias.cpu().to(all_inertias.dtype)
    view.set_masses(all_masses, ids_cpu)
    view.set_inertias(all_inertias, ids_cpu)
