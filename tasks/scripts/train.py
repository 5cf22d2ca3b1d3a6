"""Train a SplatTwin task with rsl-rl-lib PPO, Isaac Lab style.

Isaac Lab (Isaac Sim running, GPU)::

    python tasks/scripts/train.py --task SplatTwin-Lift-Franka-v0 --num_envs 4096 --headless \
        env.twin=out/demo/twin.usda agent.max_iterations=1500
    python -m torch.distributed.run --nnodes=1 --nproc_per_node=2 tasks/scripts/train.py \
        --task SplatTwin-Lift-Franka-v0 --headless --distributed

Embedded runtime (MuJoCo on the CPU, no Isaac Sim)::

    python tasks/scripts/train.py --task SplatTwin-Push-Franka-v0 --runtime embedded --num_envs 64

The flags are Isaac Lab's (snake_case, since ``AppLauncher`` adds its own to the same parser); trailing
``key=value`` arguments are hydra overrides: ``env.<task cfg field>=...`` and ``agent.<runner cfg key>=...``.
"""

# ruff: noqa: PLC0415  (Isaac Lab's scripts import after AppLauncher has started the app)

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

parser = argparse.ArgumentParser(description="Train a SplatTwin task with rsl-rl-lib PPO.")
parser.add_argument("--task", type=str, default="SplatTwin-Push-Franka-v0")
parser.add_argument("--num_envs", type=int, default=None)
parser.add_argument("--seed", type=int, default=None)
parser.add_argument("--max_iterations", type=int, default=None)
parser.add_argument("--runtime", choices=("isaaclab", "embedded"), default="isaaclab")
parser.add_argument("--twin", type=str, default="", help="the twin's root layer (default: out/demo/twin.usda)")
parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint of the run folder")
parser.add_argument("--log_dir", type=str, default="")
parser.add_argument("--distributed", action="store_true", help="multi-GPU run under torch.distributed.run")
if "--runtime" in sys.argv and "embedded" in sys.argv:
    parser.add_argument("--headless", action="store_true", help="(no effect: the embedded runtime never renders)")
    args, hydra_overrides = parser.parse_known_args()
    simulation_app = None
else:
    from isaaclab.app import AppLauncher  # noqa: TID251  (must run before any omni / isaaclab.* import)

    AppLauncher.add_app_launcher_args(parser)
    args, hydra_overrides = parser.parse_known_args()
    if args.distributed:
        args.device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    simulation_app = AppLauncher(args).app

sys.argv = [sys.argv[0], *hydra_overrides]


def _embedded() -> None:
    from splattwin_tasks.training import TrainConfig, parse_overrides, train

    overrides = [f"task={args.task}", "runtime=embedded", *hydra_overrides]
    overrides += [f"num_envs={args.num_envs}"] if args.num_envs else []
    overrides += [f"seed={args.seed}"] if args.seed is not None else []
    overrides += [f"max_iterations={args.max_iterations}"] if args.max_iterations else []
    overrides += [f"twin={args.twin}"] if args.twin else []
    overrides += [f"log_dir={args.log_dir}"] if args.log_dir else []
    overrides += ["resume=true"] if args.resume else []
    result = train(parse_overrides(TrainConfig, overrides))
    print(f"[INFO] checkpoint: {result.checkpoint}")


def _isaaclab() -> None:
    import gymnasium as gym
    import splattwin_tasks  # noqa: F401  (registers the tasks)
    import torch
    from isaaclab_rl.rsl_rl import RslRlVecEnvWrapper
    from isaaclab_tasks.utils.hydra import hydra_task_config
    from rsl_rl.runners import OnPolicyRunner
    from splattwin_tasks.training import latest_checkpoint

    @hydra_task_config(args.task, "rsl_rl_cfg_entry_point")
    def main(env_cfg, agent_cfg) -> None:
        if args.twin:
            env_cfg.twin = args.twin
            env_cfg.__post_init__()
        if args.num_envs:
            env_cfg.scene.num_envs = args.num_envs
        if args.seed is not None:
            agent_cfg.seed = args.seed
        if args.max_iterations:
            agent_cfg.max_iterations = args.max_iterations
        device = args.device if args.device else "cuda:0"
        if args.distributed:
            rank = int(os.environ.get("LOCAL_RANK", "0"))
            env_cfg.sim.device = device = f"cuda:{rank}"
            agent_cfg.seed += int(os.environ.get("RANK", "0"))
        env_cfg.seed = agent_cfg.seed
        agent_cfg.device = device
        log_dir = Path(args.log_dir or Path("logs/rsl_rl") / agent_cfg.experiment_name / args.task)
        env = RslRlVecEnvWrapper(gym.make(args.task, cfg=env_cfg), clip_actions=agent_cfg.clip_actions)
        runner = OnPolicyRunner(env, agent_cfg.train_cfg(), log_dir=str(log_dir), device=device)
        if args.resume and (checkpoint := latest_checkpoint(log_dir)) is not None:
            runner.load(str(checkpoint))
        torch.manual_seed(agent_cfg.seed)
        runner.learn(num_learning_iterations=agent_cfg.max_iterations, init_at_random_ep_len=True)
        env.close()

    main()


if __name__ == "__main__":
    if simulation_app is None:
        _embedded()
    else:
        _isaaclab()
        simulation_app.close()
