"""PPO (rsl-rl-lib) runner cfgs of Lift and Lift-NoMass."""

from splattwin_tasks._compat import configclass
from splattwin_tasks.rsl_rl_cfg import SplatTwinPPORunnerCfg

__all__ = ["LiftNoMassPPORunnerCfg", "LiftPPORunnerCfg"]


@configclass
class LiftPPORunnerCfg(SplatTwinPPORunnerCfg):
    """PPO for SplatTwin-Lift-Franka-v0."""

    max_iterations: int = 200
    experiment_name: str = "splattwin_lift"

    def __post_init__(self) -> None:
        self.actor["distribution_cfg"]["init_std"] = 0.5


@configclass
class LiftNoMassPPORunnerCfg(LiftPPORunnerCfg):
    """PPO for SplatTwin-Lift-Franka-NoMass-v0."""

    experiment_name: str = "splattwin_lift_nomass"
