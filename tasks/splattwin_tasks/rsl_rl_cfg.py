"""PPO runner cfgs for rsl-rl-lib 5.x, as configclasses whose ``to_dict()`` is the runner's ``train_cfg``.

The field names follow Isaac Lab's ``RslRlOnPolicyRunnerCfg`` (``seed``, ``num_steps_per_env``, ``max_iterations``,
``save_interval``, ``experiment_name``, ``obs_groups``, ``actor``/``critic``/``algorithm``), so the same cfg drives
``tasks/scripts/train.py`` under Isaac Lab and ``splattwin train`` in the embedded runtime.
"""

from __future__ import annotations

from typing import Any

from splattwin_tasks._compat import configclass

__all__ = ["SplatTwinPPORunnerCfg"]


@configclass
class SplatTwinPPORunnerCfg:
    """rsl-rl-lib ``OnPolicyRunner`` settings (see its ``train_cfg`` dict).

    Attributes:
        seed: seed of the run (env and policy).
        device: torch device of the policy.
        num_steps_per_env: rollout length per env and iteration.
        max_iterations: PPO iterations.
        save_interval: iterations between checkpoints.
        experiment_name: folder under ``logs/rsl_rl/``.
        run_name: suffix of the run folder.
        clip_actions: clip actions to [-c, c] before the env.
        obs_groups: observation groups feeding actor and critic.
        actor: the actor model (``MLPModel`` with a Gaussian distribution).
        critic: the critic model.
        algorithm: PPO hyper-parameters.
        logger: ``tensorboard``.
        check_for_nan: let the runner check env outputs for NaN.
    """

    seed: int = 42
    device: str = "cpu"
    num_steps_per_env: int = 24
    max_iterations: int = 300
    save_interval: int = 25
    experiment_name: str = "splattwin"
    run_name: str = ""
    clip_actions: float = 1.0
    obs_groups: dict = {"actor": ["policy"], "critic": ["policy"]}  # noqa: RUF012
    actor: dict = {  # noqa: RUF012
        "class_name": "MLPModel",
        "hidden_dims": [128, 128],
        "activation": "elu",
        "obs_normalization": True,
        "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 0.8, "std_type": "scalar"},
    }
    critic: dict = {  # noqa: RUF012
        "class_name": "MLPModel",
        "hidden_dims": [128, 128],
        "activation": "elu",
        "obs_normalization": True,
    }
    algorithm: dict = {  # noqa: RUF012
        "class_name": "PPO",
        "num_learning_epochs": 5,
        "num_mini_batches": 4,
        "clip_param": 0.2,
        "gamma": 0.98,
        "lam": 0.95,
        "value_loss_coef": 1.0,
        "entropy_coef": 0.005,
        "learning_rate": 1e-3,
        "max_grad_norm": 1.0,
        "schedule": "adaptive",
        "desired_kl": 0.01,
    }
    logger: str = "tensorboard"
    check_for_nan: bool = True

    def train_cfg(self) -> dict[str, Any]:
        """The ``train_cfg`` dict ``rsl_rl.runners.OnPolicyRunner`` takes."""
        cfg = self.to_dict()  # type: ignore[attr-defined]
        cfg.pop("device", None)
        return cfg
