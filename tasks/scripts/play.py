"""Roll a trained SplatTwin policy out, Isaac Lab style.

Isaac Lab 3.0 kitless, Newton on the CPU (``make isaaclab``)::

    .venv-isaaclab/bin/python tasks/scripts/play.py --task SplatTwin-Lift-Franka-v0 --num_envs 16 --checkpoint RUN_DIR

``--kit`` starts Isaac Sim's ``AppLauncher`` first. Embedded runtime (``--record`` writes env 0 into the twin)::

    python tasks/scripts/play.py --task SplatTwin-Push-Franka-v0 --runtime embedded --checkpoint RUN_DIR --record
"""

# ruff: noqa: PLC0415  (with Kit, nothing of Isaac Lab may be imported before AppLauncher has started the app)

from __future__ import annotations

import argparse
import json
import sys

parser = argparse.ArgumentParser(description="Play a SplatTwin policy.")
parser.add_argument("--task", type=str, default="SplatTwin-Push-Franka-v0")
parser.add_argument("--num_envs", type=int, default=None, help="default: play's (16), or a num_envs=N override")
parser.add_argument("--checkpoint", type=str, required=True)
parser.add_argument("--runtime", choices=("isaaclab", "embedded"), default="isaaclab")
parser.add_argument("--twin", type=str, default="")
parser.add_argument("--record", action="store_true", help="embedded: write the rollout into the twin")
parser.add_argument("--kit", action="store_true", help="start Isaac Sim's AppLauncher first (needs Isaac Sim)")
simulation_app = None
if "--kit" in sys.argv:
    from isaaclab.app import AppLauncher  # noqa: TID251

    AppLauncher.add_app_launcher_args(parser)
    args, overrides = parser.parse_known_args()
    simulation_app = AppLauncher(args).app
else:
    args, overrides = parser.parse_known_args()


def main() -> None:
    from splattwin_tasks.training import PlayConfig, parse_overrides, play

    items = [f"task={args.task}", f"runtime={args.runtime}", f"checkpoint={args.checkpoint}", *overrides]
    items += [f"num_envs={args.num_envs}"] if args.num_envs else []  # unset: a num_envs=N override is kept
    items += [f"twin={args.twin}"] if args.twin else []
    items += ["record=true"] if args.record else []
    print(json.dumps(play(parse_overrides(PlayConfig, items)), indent=2))


if __name__ == "__main__":
    main()
    if simulation_app is not None:
        simulation_app.close()
