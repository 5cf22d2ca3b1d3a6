"""``splattwin play``: roll a trained checkpoint out; optionally record it into the twin's ``trajectories`` layer."""

from __future__ import annotations

import argparse
from typing import Any

from splattwin.cli._tasks import tasks_training


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "play",
        help="roll a task checkpoint out (success rate); record=true writes it into the twin's trajectories layer",
        description="Overrides are key=value: task=SplatTwin-Push-Franka-v0 checkpoint=RUN_DIR_OR_MODEL.pt "
        "num_envs=16 episodes=64 twin=out/demo/twin.usda record=true env.mass_distribution=fixed ...",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.io import json_text  # noqa: PLC0415

    training = tasks_training()  # its parse_overrides is splattwin.overrides' (splattwin_tasks)
    result = training.play(training.parse_overrides(training.PlayConfig, args.overrides))
    console.print(json_text(result), highlight=False, markup=False)
    return 0
