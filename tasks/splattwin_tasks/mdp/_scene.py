"""Names shared by the terms: entity configs and the env's quaternion order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from splattwin_tasks.quaternions import convert_quat_order

__all__ = ["GRAVITY_M_S2", "SceneEntityCfg", "quat_wxyz_from_env"]

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
