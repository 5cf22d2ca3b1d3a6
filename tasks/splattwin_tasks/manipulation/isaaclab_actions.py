"""Isaac Lab action term of the Lift gripper: a grip action in [-1, 1] as a log-scaled closing force.

Imported only under Isaac Lab (by :mod:`~splattwin_tasks.manipulation.isaaclab_env`); the embedded runtime maps
the same action the same way (``EmbeddedManipulationEnv.grip_force_n``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from isaaclab.envs.mdp.actions import JointEffortActionCfg  # noqa: TID251
from isaaclab.envs.mdp.actions.joint_actions import JointEffortAction  # noqa: TID251
from isaaclab.utils import configclass  # noqa: TID251

__all__ = ["LogGripForceAction", "LogGripForceActionCfg"]


class LogGripForceAction(JointEffortAction):
    """One action for both fingers: ``F = exp(lerp(log F_lo, log F_hi, (a + 1) / 2))``, applied as a closing
    (negative) effort on each finger joint."""

    cfg: LogGripForceActionCfg

    @property
    def action_dim(self) -> int:
        return 1

    def process_actions(self, actions: torch.Tensor) -> None:
        self._raw_actions[:] = actions.expand_as(self._raw_actions) if actions.shape[1] == 1 else actions
        low, high = self.cfg.force_range_n
        grip = actions[:, :1].clamp(-1.0, 1.0)
        if not hasattr(self, "_grip_level"):
            self._grip_level = torch.full_like(grip, -1.0)
        step_dt = self._env.step_dt
        alpha = step_dt / (step_dt + self.cfg.time_constant_s)
        self._grip_level += alpha * (grip - self._grip_level)  # the lag acts on the log-force level
        force = torch.exp(math.log(low) + (self._grip_level + 1.0) / 2.0 * (math.log(high) - math.log(low)))
        self._processed_actions[:] = -force.expand(-1, self._num_joints)

    def reset(self, env_ids: Sequence[int] | None = None) -> None:
        self._raw_actions[env_ids] = 0.0
        if hasattr(self, "_grip_level"):
            self._grip_level[env_ids] = -1.0


@configclass
class LogGripForceActionCfg(JointEffortActionCfg):
    """Cfg of :class:`LogGripForceAction`: ``force_range_n`` is the closing force at -1 and +1 [N]."""

    class_type: type = LogGripForceAction
    force_range_n: tuple = (0.1, 40.0)
    time_constant_s: float = 0.1
