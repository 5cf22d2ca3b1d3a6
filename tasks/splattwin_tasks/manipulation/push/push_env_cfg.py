"""Isaac Lab env cfgs of Push and Push-NoMass (the ``env_cfg_entry_point`` of the gym specs; need Isaac Lab).

They hold numbers only (the task cfg, the scene size, Newton physics); the twin is read, and its robot and object
exported, by :func:`splattwin_tasks.manipulation.isaaclab_env.prepare_isaaclab_env_cfg`, after the overrides.
"""

from isaaclab.envs import ManagerBasedRLEnvCfg  # noqa: TID251
from isaaclab.scene import InteractiveSceneCfg  # noqa: TID251
from isaaclab.utils import configclass  # noqa: TID251

from splattwin_tasks.manipulation.isaaclab_env import finish_env_cfg
from splattwin_tasks.manipulation.task_cfg import PushNoMassTaskCfg, PushTaskCfg

__all__ = ["PushEnvCfg", "PushNoMassEnvCfg"]


@configclass
class PushEnvCfg(ManagerBasedRLEnvCfg):
    """SplatTwin-Push-Franka-v0 in Isaac Lab; ``task`` holds the task's parameters (``task.twin``: the twin)."""

    task: PushTaskCfg = PushTaskCfg()
    scene: InteractiveSceneCfg = InteractiveSceneCfg(num_envs=16, env_spacing=2.0)

    def __post_init__(self) -> None:
        finish_env_cfg(self)


@configclass
class PushNoMassEnvCfg(PushEnvCfg):
    """SplatTwin-Push-Franka-NoMass-v0 in Isaac Lab."""

    task: PushNoMassTaskCfg = PushNoMassTaskCfg()
