"""``SplatTwin-Push-Franka-v0`` and ``SplatTwin-Push-Franka-NoMass-v0``: gym ids with Isaac Lab's string entry points.

``env_cfg_entry_point`` is the Isaac Lab env cfg (imported only by Isaac Lab's tooling), ``rsl_rl_cfg_entry_point``
the PPO runner cfg, ``embedded_cfg_entry_point`` the task cfg the embedded MuJoCo runtime builds from.
"""

import gymnasium as gym

from splattwin_tasks.manipulation.push import agents

__all__: list[str] = []

for _suffix, _variant in (("", ""), ("-NoMass", "NoMass")):
    gym.register(
        id=f"SplatTwin-Push-Franka{_suffix}-v0",
        entry_point="isaaclab.envs:ManagerBasedRLEnv",
        disable_env_checker=True,
        kwargs={
            "env_cfg_entry_point": f"{__name__}.push_env_cfg:Push{_variant}EnvCfg",
            "rsl_rl_cfg_entry_point": f"{agents.__name__}.rsl_rl_ppo_cfg:Push{_variant}PPORunnerCfg",
            "embedded_cfg_entry_point": f"splattwin_tasks.manipulation.task_cfg:Push{_variant}TaskCfg",
        },
    )
