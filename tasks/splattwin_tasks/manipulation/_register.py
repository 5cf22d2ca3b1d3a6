"""``gym.register`` of a manipulation task and its ``-NoMass`` variant with Isaac Lab's string entry points."""

from __future__ import annotations

import gymnasium as gym

__all__ = ["register_task"]


def register_task(name: str, package: str) -> None:
    """Register ``SplatTwin-<name>-Franka-v0`` and ``SplatTwin-<name>-Franka-NoMass-v0``.

    Args:
        name: ``Push`` or ``Lift``; the cfg classes are ``<name>[NoMass]EnvCfg`` in ``<package>.<name lower>_env_cfg``,
            ``<name>[NoMass]PPORunnerCfg`` in ``<package>.agents.rsl_rl_ppo_cfg`` and ``<name>[NoMass]TaskCfg`` in
            :mod:`splattwin_tasks.manipulation.task_cfg`.
        package: the task's package (``__name__`` of its ``__init__``).
    """
    for suffix, variant in (("", ""), ("-NoMass", "NoMass")):
        gym.register(
            id=f"SplatTwin-{name}-Franka{suffix}-v0",
            entry_point="splattwin_tasks.manipulation.isaaclab_rl_env:TaskRLEnv",
            disable_env_checker=True,
            kwargs={
                "env_cfg_entry_point": f"{package}.{name.lower()}_env_cfg:{name}{variant}EnvCfg",
                "rsl_rl_cfg_entry_point": f"{package}.agents.rsl_rl_ppo_cfg:{name}{variant}PPORunnerCfg",
                "embedded_cfg_entry_point": f"splattwin_tasks.manipulation.task_cfg:{name}{variant}TaskCfg",
            },
        )
