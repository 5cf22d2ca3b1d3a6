"""Roll a trained SplatTwin policy out, Isaac Lab style.

Isaac Lab::

    python tasks/scripts/play.py --task SplatTwin-Lift-Franka-v0 --num_envs 32 \
        --checkpoint logs/rsl_rl/splattwin_lift/SplatTwin-Lift-Franka-v0/model_1499.pt

Embedded runtime (records env 0 into the twin's ``trajectories`` layer with ``--record``)::

    python tasks/scripts/play.py --task SplatTwin-Push-Franka-v0 --runtime embedded --checkpoint RUN_DIR --record
"""

# ruff: noqa: PLC0415  (Isaac Lab's scripts import after AppLauncher has started the app)

from __future__ import annotations

import argparse
import json
import sys

parser = argparse.ArgumentParser(description="Play a SplatTwin policy.")
parser.add_argument("--task", type=str, default="SplatTwin-Push-Franka-v0")
parser.add_argument("--num_envs", type=int, default=16)
parser.add_argument("--checkpoint", type=str, required=True)
parser.add_argument("--runtime", choices=("isaaclab", "embedded"), default="isaaclab")
parser.add_argument("--twin", type=str, default="")
parser.add_argument("--record", action="store_true", help="embedded: write the rollout into the twin")
parser.add_argument("--steps", type=int, default=1000)
if "--runtime" in sys.argv and "embedded" in sys.argv:
    parser.add_argument("--headless", action="store_true")
    args, overrides = parser.parse_known_args()
    simulation_app = None
else:
    from isaaclab.app import AppLauncher  # noqa: TID251

    AppLauncher.add_app_launcher_args(parser)
    args, overrides = parser.parse_known_args()
    simulation_app = AppLauncher(args).app


def _embedded() -> None:
    from splattwin_tasks.training import PlayConfig, parse_overrides, play

    items = [f"task={args.task}", f"checkpoint={args.checkpoint}", f"num_envs={args.num_envs}", *overrides]
    items += [f"twin={args.twin}"] if args.twin else []
    items += ["record=true"] if args.record else []
    print(json.dumps(play(parse_overrides(PlayConfig, items)), indent=2))


def _isaaclab() -> None:
    import gymnasium as gym
    import splattwin_tasks  # noqa: F401
    import torch
    from isaaclab_rl.rsl_rl import RslRlVecEnvWrapper
    from isaaclab_tasks.utils import load_cfg_from_registry
    from rsl_rl.runners import OnPolicyRunner

    env_cfg = load_cfg_from_registry(args.task, "env_cfg_entry_point")
    agent_cfg = load_cfg_from_registry(args.task, "rsl_rl_cfg_entry_point")
    if args.twin:
        env_cfg.twin = args.twin
        env_cfg.__post_init__()
    env_cfg.scene.num_envs = args.num_envs
    env = RslRlVecEnvWrapper(gym.make(args.task, cfg=env_cfg), clip_actions=agent_cfg.clip_actions)
    runner = OnPolicyRunner(env, agent_cfg.train_cfg(), log_dir=None, device=env.device)
    runner.load(args.checkpoint, load_cfg={"actor": True})
    policy = runner.get_inference_policy(device=env.device)
    obs = env.get_observations()
    with torch.inference_mode():
        for _ in range(args.steps):
            obs, _, _, _ = env.step(policy(obs))
    env.close()


if __name__ == "__main__":
    if simulation_app is None:
        _embedded()
    else:
        _isaaclab()
        simulation_app.close()
