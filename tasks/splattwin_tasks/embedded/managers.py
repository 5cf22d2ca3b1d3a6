"""The embedded runtime's managers: Isaac Lab's action, command and termination managers in the small, composed
from a task description (:class:`~splattwin_tasks.manipulation.task_cfg.TaskTerms`).

The action terms apply the runtime-agnostic action cfgs of :mod:`splattwin_tasks.mdp.actions` with the shared
functions there (the end-effector target, the grip lag, the log-force map), as Isaac Lab's action terms
(:mod:`splattwin_tasks.manipulation.isaaclab_actions`) do; they write MuJoCo controls through the env's robot
model. The command manager runs the command terms of :mod:`splattwin_tasks.mdp.commands`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from splattwin.errors import InputError
from splattwin_tasks.mdp.actions import (
    GRIP_LEVEL_AT_RESET,
    CartesianActionCfg,
    HeldGripForceActionCfg,
    LogGripForceActionCfg,
    cartesian_heights,
    end_effector_target,
    grip_force_from_level,
    lag_grip_level,
)

if TYPE_CHECKING:
    from splattwin_tasks.embedded.env import EmbeddedManipulationEnv

__all__ = ["ActionManager", "CommandManager", "TerminationManager"]


class _CartesianAction:
    """:class:`~splattwin_tasks.mdp.actions.CartesianActionCfg`: the grasp-centre target from
    :func:`~splattwin_tasks.mdp.actions.end_effector_target`, sent to the robot model's controller."""

    def __init__(self, cfg: CartesianActionCfg, env: EmbeddedManipulationEnv) -> None:
        self.cfg, self._env = cfg, env
        self.action_dim = cfg.action_dim
        self.min_height_m, self.max_height_m, self.hold_height_m = cartesian_heights(
            cfg, table_z_m=env.table_z, clearance_m=env.robot_model.clearance_m
        )

    def apply(self, actions: np.ndarray) -> None:
        env = self._env
        ee = env.gather(lambda shard: shard.data.site_xpos[shard.ee_site]) - env.origins_np
        target = end_effector_target(
            torch.from_numpy(ee),
            torch.from_numpy(actions),
            self.cfg.move_step_m,
            min_height_m=self.min_height_m,
            max_height_m=self.max_height_m,
            hold_height_m=self.hold_height_m,
        ).numpy()
        for shard in env.shards:
            env.robot_model.command_grasp_centre(shard, target[shard.rows])

    def reset(self, env_ids: np.ndarray) -> None:
        pass


class _LogGripForceAction:
    """:class:`~splattwin_tasks.mdp.actions.LogGripForceActionCfg`: the lagged grip level mapped to a closing force
    on both finger motors."""

    def __init__(self, cfg: LogGripForceActionCfg, env: EmbeddedManipulationEnv) -> None:
        self.cfg, self._env = cfg, env
        self.action_dim = cfg.action_dim
        self.level = torch.full((env.num_envs, 1), GRIP_LEVEL_AT_RESET, dtype=torch.float64)

    def apply(self, actions: np.ndarray) -> None:
        self.level = lag_grip_level(
            self.level, torch.from_numpy(actions), step_dt=self._env.step_dt, time_constant_s=self.cfg.time_constant_s
        )
        self._env.set_finger_force(grip_force_from_level(self.level, self.cfg.force_range_n).numpy())

    def reset(self, env_ids: np.ndarray) -> None:
        self.level[env_ids] = GRIP_LEVEL_AT_RESET


class _HeldGripForceAction:
    """:class:`~splattwin_tasks.mdp.actions.HeldGripForceActionCfg`: the fingers held shut, no action columns."""

    def __init__(self, cfg: HeldGripForceActionCfg, env: EmbeddedManipulationEnv) -> None:
        self.cfg, self._env = cfg, env
        self.action_dim = cfg.action_dim
        self._force = np.full((env.num_envs, 1), cfg.force_n)

    def apply(self, actions: np.ndarray) -> None:
        self._env.set_finger_force(self._force)

    def reset(self, env_ids: np.ndarray) -> None:
        pass


_ACTION_TERMS = {
    CartesianActionCfg: _CartesianAction,
    LogGripForceActionCfg: _LogGripForceAction,
    HeldGripForceActionCfg: _HeldGripForceAction,
}


class ActionManager:
    """``env.action_manager``: the action terms in the action vector's order, ``action`` and ``prev_action``
    [N, total_action_dim] (what the observation and reward terms read)."""

    def __init__(self, cfgs: dict[str, Any], env: EmbeddedManipulationEnv) -> None:
        self.terms = {}
        for name, cfg in cfgs.items():
            if type(cfg) not in _ACTION_TERMS:
                raise InputError(f"actions.{name}", f"the embedded runtime has no action term for {type(cfg).__name__}")
            self.terms[name] = _ACTION_TERMS[type(cfg)](cfg, env)
        self.total_action_dim = sum(term.action_dim for term in self.terms.values())
        self.action = torch.zeros(env.num_envs, self.total_action_dim, device=env.device)
        self.prev_action = torch.zeros_like(self.action)

    def process_action(self, actions: torch.Tensor) -> None:
        """Record ``actions`` [N, total_action_dim] (clipped, finite) and hand each term its columns."""
        self.prev_action = self.action
        self.action = actions
        columns = actions.cpu().numpy().astype(np.float64)
        start = 0
        for term in self.terms.values():
            term.apply(columns[:, start : start + term.action_dim])
            start += term.action_dim

    def reset(self, env_ids: torch.Tensor) -> None:
        ids = env_ids.cpu().numpy()
        for term in self.terms.values():
            term.reset(ids)
        self.action[env_ids] = 0.0
        self.prev_action[env_ids] = 0.0


class CommandManager:
    """``env.command_manager``: the task's command terms, resampled when an episode starts and held through it."""

    def __init__(self, cfgs: dict[str, Any], env: EmbeddedManipulationEnv) -> None:
        self.terms = {name: cfg.class_type(cfg, env) for name, cfg in cfgs.items()}

    def get_command(self, name: str) -> torch.Tensor:
        """The command ``name`` (Isaac Lab's ``CommandManager.get_command``)."""
        try:
            return self.terms[name].command
        except KeyError:
            raise KeyError(f"no command {name!r}; the task has {sorted(self.terms)}") from None

    def reset(self, env_ids: torch.Tensor) -> None:
        """Resample the commands of ``env_ids`` (after the reset events, as Isaac Lab does)."""
        for term in self.terms.values():
            term.resample(env_ids)


class TerminationManager:
    """``env.termination_manager``: evaluates the termination terms and keeps their last values."""

    def __init__(self, num_envs: int, device: torch.device) -> None:
        self._values: dict[str, torch.Tensor] = {}
        self._num_envs, self._device = num_envs, device

    def compute(self, env: Any, terms: dict) -> tuple[torch.Tensor, torch.Tensor]:
        terminated = torch.zeros(self._num_envs, dtype=torch.bool, device=self._device)
        truncated = torch.zeros_like(terminated)
        for name, term in terms.items():
            value = term.func(env, **term.params).to(self._device).bool()
            self._values[name] = value
            if term.time_out:
                truncated |= value
            else:
                terminated |= value
        # A world that both timed out and finished the task counts as terminated (success), not truncated.
        return terminated, truncated & ~terminated

    def get_term(self, name: str) -> torch.Tensor:
        """The term's value at the last step (kept through the reset that followed, as Isaac Lab does)."""
        return self._values.get(name, torch.zeros(self._num_envs, dtype=torch.bool, device=self._device))
