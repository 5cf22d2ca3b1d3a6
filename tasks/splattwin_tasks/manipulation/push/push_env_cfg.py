"""Isaac Lab env cfgs of Push and Push-NoMass (the ``env_cfg_entry_point`` of the gym specs; need Isaac Lab)."""

from isaaclab.envs import ManagerBasedRLEnvCfg  # noqa: TID251
from isaaclab.utils import configclass  # noqa: TID251

from splattwin_tasks.manipulation.isaaclab_env import build_isaaclab_env_cfg
from splattwin_tasks.manipulation.task_cfg import PushNoMassTaskCfg, PushTaskCfg

__all__ = ["PushEnvCfg", "PushNoMassEnvCfg"]


@configclass
class PushEnvCfg(ManagerBasedRLEnvCfg):
    """SplatTwin-Push-Franka-v0 in Isaac Lab; ``twin`` is the twin's root layer (empty: the demo twin)."""

    twin: str = ""

    def __post_init__(self) -> None:
        task = PushTaskCfg(twin=self.twin)
        build_isaaclab_env_cfg(self, task)


@configclass
class PushNoMassEnvCfg(ManagerBasedRLEnvCfg):
    """SplatTwin-Push-Franka-NoMass-v0 in Isaac Lab."""

    twin: str = ""

    def __post_init__(self) -> None:
        build_isaaclab_env_cfg(self, PushNoMassTaskCfg(twin=self.twin))
