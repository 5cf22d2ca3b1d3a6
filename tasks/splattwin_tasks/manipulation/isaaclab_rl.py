"""rsl-rl-lib over Isaac Lab: Isaac Lab's own ``RslRlVecEnvWrapper`` plus the success counting ``training`` reports.

Imported only with Isaac Lab present (``runtime=isaaclab`` in :func:`splattwin_tasks.training.train` / ``play``).
"""

from __future__ import annotations

from typing import Any

from isaaclab_rl.rsl_rl import RslRlVecEnvWrapper  # noqa: TID251

__all__ = ["IsaacLabVecEnv", "task_cfg_of"]


def task_cfg_of(env: Any) -> Any:
    """The SplatTwin task cfg an Isaac Lab env was built from (``env.unwrapped.cfg.task``)."""
    return env.unwrapped.cfg.task


class IsaacLabVecEnv(RslRlVecEnvWrapper):
    """Isaac Lab's rsl-rl wrapper, counting finished episodes and successes (the task's ``success`` termination)."""

    def __init__(self, env: Any, clip_actions: float | None = None) -> None:
        super().__init__(env, clip_actions=clip_actions)
        self.episodes = 0
        self.successes = 0

    def step(self, actions: Any) -> tuple[Any, Any, Any, dict]:
        obs, reward, dones, extras = super().step(actions)
        done = dones.bool()
        if done.any():
            success = self.unwrapped.termination_manager.get_term("success")
            self.episodes += int(done.sum())
            self.successes += int((success & done).sum())
        return obs, reward, dones, extras
