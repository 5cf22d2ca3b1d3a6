"""PPO (rsl-rl-lib) runner cfgs of Push and Push-NoMass."""

from splattwin_tasks._compat import configclass
from splattwin_tasks.rsl_rl_cfg import SplatTwinPPORunnerCfg

__all__ = ["PushNoMassPPORunnerCfg", "PushPPORunnerCfg"]


@configclass
class PushPPORunnerCfg(SplatTwinPPORunnerCfg):
    """PPO for SplatTwin-Push-Franka-v0."""

    max_iterations: int = 300
    experiment_name: str = "splattwin_push"


@configclass
class PushNoMassPPORunnerCfg(PushPPORunnerCfg):
    """PPO for SplatTwin-Push-Franka-NoMass-v0."""

    experiment_name: str = "splattwin_push_nomass"
