"""``SplatTwin-Push-Franka-v0`` and ``SplatTwin-Push-Franka-NoMass-v0``: gym ids with Isaac Lab's string entry points.

``env_cfg_entry_point`` is the Isaac Lab env cfg (``push_env_cfg.py``, imported only by Isaac Lab's tooling),
``rsl_rl_cfg_entry_point`` the PPO runner cfg (``agents/rsl_rl_ppo_cfg.py``), ``embedded_cfg_entry_point`` the task cfg
the embedded MuJoCo runtime builds from.
"""

from splattwin_tasks.manipulation._register import register_task

__all__: list[str] = []

register_task("Push", __name__)
