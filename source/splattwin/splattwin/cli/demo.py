"""``splattwin demo``: build the sample twin from ``usd_assets/`` and write a report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("demo", help="build the sample twin from usd_assets/ and write a report")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a twin in --out the demo did not build, or its own twin edited since (a folder the demo "
        "built is rebuilt without it)",
    )
    p.add_argument("overrides", nargs="*", help="hydra overrides of config/demo.yaml, e.g. table=auto")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.pipelines.demo import run_demo_from_cli  # noqa: PLC0415

    report = run_demo_from_cli(args.out, args.overrides, console=console, force=args.force)
    console.print(f"report: {report}", highlight=False)
    return 0
