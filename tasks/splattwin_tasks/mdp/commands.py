"""Command terms: a task's goal, sampled when an episode starts and held through it (Isaac Lab's command manager).

A command term here is runtime-agnostic: ``term = cfg.class_type(cfg, env)``, ``term.command`` (the goal, a
tensor with leading dimension ``num_envs``) and ``term.resample(env_ids)``. The embedded runtime's command manager
(:mod:`splattwin_tasks.embedded.managers`) runs it directly, after the reset events; under Isaac Lab an adapter
``CommandTerm`` (:mod:`splattwin_tasks.manipulation.isaaclab_commands`) wraps it, and Isaac Lab resamples it after
its reset events too. Observations, rewards and terminations read the goal as Isaac Lab's do:
``env.command_manager.get_command(name)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from splattwin_tasks.mdp._scene import to_torch

__all__ = ["PushTargetCommand", "PushTargetCommandCfg", "resolve_env_ids"]


def resolve_env_ids(env: Any, env_ids: Any) -> torch.Tensor:
    """``env_ids`` as an index tensor: None or a slice (Isaac Lab passes ``slice(None)`` for all envs) become
    ``arange``."""
    if env_ids is None or isinstance(env_ids, slice):
        return torch.arange(env.num_envs, device=env.device)[env_ids if isinstance(env_ids, slice) else slice(None)]
    return torch.as_tensor(env_ids, device=env.device)


@dataclass(kw_only=True)
class PushTargetCommandCfg:
    """Push's goal: a point on the table at a uniform distance in ``distance_range_m`` [m] and a uniform heading
    from the object's start, at the object's height (``asset_name``: the object entity); ``heading_deg`` fixes the
    heading [deg, env frame] instead."""

    distance_range_m: tuple[float, float]
    heading_deg: float | None = None
    asset_name: str = "object"

    @property
    def class_type(self) -> type[PushTargetCommand]:
        return PushTargetCommand


class PushTargetCommand:
    """The push target: ``command`` [N, 3], env frame [m]; zeros until the first :meth:`resample`."""

    def __init__(self, cfg: PushTargetCommandCfg, env: Any) -> None:
        self.cfg = cfg
        self._env = env
        self._target = torch.zeros(env.num_envs, 3, device=env.device)

    @property
    def command(self) -> torch.Tensor:
        """The target in the env frame [m], shape [N, 3]."""
        return self._target

    def resample(self, env_ids: Any) -> None:
        """Sample new targets for ``env_ids`` around the objects' current positions (run after the reset events
        that place the object)."""
        env = self._env
        ids = resolve_env_ids(env, env_ids)
        start = to_torch(env.scene[self.cfg.asset_name].data.root_pos_w)[ids] - env.scene.env_origins[ids]
        low, high = self.cfg.distance_range_m
        distance = low + (high - low) * torch.rand(len(ids), device=env.device)
        heading = 2.0 * math.pi * torch.rand(len(ids), device=env.device)
        if self.cfg.heading_deg is not None:
            heading = torch.full_like(heading, math.radians(self.cfg.heading_deg))
        self._target[ids, 0] = start[:, 0] + distance * torch.cos(heading)
        self._target[ids, 1] = start[:, 1] + distance * torch.sin(heading)
        self._target[ids, 2] = start[:, 2]
