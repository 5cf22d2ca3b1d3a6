"""``splattwin inspect``: describe a twin (layers, splats, meshes, bodies, masses, frame state) or any USD stage."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("inspect", help="describe a twin or any USD stage: layers, splats, meshes, bodies, frames")
    p.add_argument("stage", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--validate", action="store_true", help="also run OpenUSD's validators")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.errors import StageError  # noqa: PLC0415

    if not args.stage.is_file():  # answered before OpenUSD and the describers load
        raise StageError(args.stage, "no such USD file")
    from splattwin.reporting import print_description  # noqa: PLC0415
    from splattwin.robot.usd_robot import describe_robots, print_robots  # noqa: PLC0415
    from splattwin.usd import describe_stage, describe_twin, open_usd_stage, validate_stage  # noqa: PLC0415
    from splattwin.usd.stage import open_twin  # noqa: PLC0415

    stage = open_usd_stage(args.stage)
    if stage.GetRootLayer().customLayerData.get("splattwin"):
        twin = open_twin(args.stage)
        description, stage = describe_twin(twin), twin.stage
    else:
        description = describe_stage(stage, str(args.stage))
    description["robots"] = describe_robots(stage)
    issues = validate_stage(stage) if args.validate else None
    if args.json:
        if issues is not None:
            description["validation"] = [issue.__dict__ for issue in issues]
        print(json.dumps(description, indent=2, default=str))
    else:
        if not description["twin"]:
            console.print("not a SplatTwin twin: described as a plain USD stage", highlight=False)
        print_description(description, issues, console=console)
        print_robots(description["robots"], console=console)
    broken = [robot for robot in description["robots"] if robot.get("problems")]
    for robot in broken if not args.json else []:
        console.print(
            f"robot {robot['prim']} is broken ({len(robot['problems'])} problem(s) above): render, trajectory and "
            f"the tasks refuse it until it is repaired or removed (splattwin remove --stage {args.stage} "
            f"--prim {robot['prim']})",
            highlight=False,
        )
    if broken or (issues and any(issue.severity == "Error" for issue in issues)):
        return 1
    return 0
