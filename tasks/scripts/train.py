"""Train a SplatTwin task with rsl-rl-lib PPO, Isaac Lab style.

Isaac Lab 3.0 kitless, Newton on the CPU (``make isaaclab``; no Isaac Sim, no Kit)::

    .venv-isaaclab/bin/python tasks/scripts/train.py --task SplatTwin-Lift-Franka-v0 --num_envs 16 \
        --twin out/demo/twin.usda agent.max_iterations=50

With Isaac Sim (Kit) installed, ``--kit`` starts ``AppLauncher`` first (its flags: ``--headless`` ...)::

    ./isaaclab.sh -p tasks/scripts/train.py --kit --headless --task SplatTwin-Lift-Franka-v0 --num_envs 4096

Embedded runtime (MuJoCo on the CPU)::

    python tasks/scripts/train.py --task SplatTwin-Push-Franka-v0 --runtime embedded --num_envs 64

Trailing ``key=value`` arguments are overrides: ``env.<task cfg field>=...`` and ``agent.<runner cfg key>=...``
(``splattwin train``'s, which this script runs).
"""

# ruff: noqa: PLC0415  (with Kit, nothing of Isaac Lab may be imported before AppLauncher has started the app)

from __future__ import annotations

import argparse
import sys

parser = argparse.ArgumentParser(description="Train a SplatTwin task with rsl-rl-lib PPO.")
parser.add_argument("--task", type=str, default="SplatTwin-Push-Franka-v0")
parser.add_argument("--num_envs", type=int, default=None)
parser.add_argument("--seed", type=int, default=None)
parser.add_argument("--max_iterations", type=int, default=None)
parser.add_argument("--runtime", choices=("isaaclab", "embedded"), default="isaaclab")
parser.add_argument("--twin", type=str, default="", help="the twin's root layer (default: out/demo/twin.usda)")
parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint of the run folder")
parser.add_argument("--log_dir", type=str, default="")
parser.add_argument("--kit", action="store_true", help="start Isaac Sim's AppLauncher first (needs Isaac Sim)")
simulation_app = None
if "--kit" in sys.argv:
    from isaaclab.app import AppLauncher  # noqa: TID251  (must run before any omni / isaaclab.* import)

    AppLauncher.add_app_launcher_args(parser)
    args, overrides = parser.parse_known_args()
    simulation_app = AppLauncher(args).app
else:
    args, overrides = parser.parse_known_args()


def main() -> None:
    from splattwin_tasks.training import TrainConfig, parse_overrides, train

    items = [f"task={args.task}", f"runtime={args.runtime}", *overrides]
    items += [f"num_envs={args.num_envs}"] if args.num_envs else []
    items += [f"seed={args.seed}"] if args.seed is not None else []
    items += [f"max_iterations={args.max_iterations}"] if args.max_iterations else []
    items += [f"twin={args.twin}"] if args.twin else []
    items += [f"log_dir={args.log_dir}"] if args.log_dir else []
    items += ["resume=true"] if args.resume else []
    # Kitless, splattwin_tasks.make enters isaaclab.app.launch_simulation (which starts nothing for Newton).
    result = train(parse_overrides(TrainConfig, items))
    print(f"[INFO] checkpoint: {result.checkpoint}")


if __name__ == "__main__":
    main()
    if simulation_app is not None:
        simulation_app.close()
