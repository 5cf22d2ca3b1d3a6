"""``splattwin inspect``: describe a twin (layers, splats, meshes, bodies, masses, frame transform)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("inspect", help="describe a twin: layers, splats, meshes, bodies, masses, frame transform")
    p.add_argument("stage", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--validate", action="store_true", help="also run OpenUSD's validators")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.reporting import print_description  # noqa: PLC0415
    from splattwin.usd import describe_twin, open_twin, validate_stage  # noqa: PLC0415

    twin = open_twin(args.stage)
    description = describe_twin(twin)
    from splattwin.robot.usd_robot import describe_robots, print_robots  # noqa: PLC0415

    description["robots"] = describe_robots(twin.stage)
    issues = validate_stage(twin.stage) if args.validate else None
    if args.json:
        if issues is not None:
            description["validation"] = [issue.__dict__ for issue in issues]
        print(json.dumps(description, indent=2, default=str))
    else:
        print_description(description, issues, console=console)
        print_robots(description["robots"], console=console)
    if issues and any(issue.severity == "Error" for issue in issues):
        return 1
    return 0
