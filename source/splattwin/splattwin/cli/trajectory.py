"""``splattwin trajectory import|export|check``: joint trajectories as time samples on the twin's robot."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

_MAX_LISTED = 20


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("trajectory", help="joint trajectories as USD time samples: import, export, check")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    common.add_argument("--robot", required=True, metavar="PRIM", help="the robot prim, e.g. /World/Robot")
    rate = argparse.ArgumentParser(add_help=False)
    rate.add_argument("--rate", type=float, metavar="HZ", help="resample linearly to this control rate")
    imp = actions.add_parser("import", parents=[common, rate], help="a .csv/.npz file -> time samples")
    imp.add_argument("file", type=Path, help="a .csv (time,<joints>) or .npz (t, q, joint_names) trajectory")
    exp = actions.add_parser("export", parents=[common, rate], help="time samples -> a .csv/.npz file")
    exp.add_argument("out", type=Path, help="the .csv or .npz to write")
    exp.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    actions.add_parser("check", parents=[common], help="joint limits, velocity limits and gaps (exit 1 if any)")
    return p


def _print_issues(console: Any, issues: list[Any]) -> None:
    for issue in issues[:_MAX_LISTED]:
        console.print(f"{issue.kind}: {issue.message}", highlight=False)
    if len(issues) > _MAX_LISTED:
        console.print(f"... and {len(issues) - _MAX_LISTED} more", highlight=False)


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.pipelines import trajectory as pipeline  # noqa: PLC0415

    if args.action == "import":
        report = pipeline.import_trajectory(args.file, stage=args.stage, robot=args.robot, rate_hz=args.rate)
        t = report.trajectory
        console.print(
            f"keyed {len(t.times)} samples x {len(t.joint_names)} joints on {args.robot} "
            f"(t = {t.times[0]:g} .. {t.times[-1]:g} s) in the trajectories layer of {args.stage}",
            highlight=False,
        )
        if report.unkeyed:
            console.print(
                f"not in the file, so no longer keyed (the import replaces the robot's whole trajectory; "
                f"renders hold them at 0): {', '.join(report.unkeyed)}",
                highlight=False,
            )
        _print_issues(console, report.issues)
        return 0
    if args.action == "export":
        report = pipeline.export_trajectory(args.stage, args.robot, args.out, rate_hz=args.rate, overwrite=args.force)
        console.print(f"wrote {args.out} ({len(report.trajectory.times)} samples)", highlight=False)
        _print_issues(console, report.issues)
        return 0
    report = pipeline.check_stage_trajectory(args.stage, args.robot)
    _print_issues(console, report.issues)
    if not report.issues:
        console.print(f"{len(report.trajectory.times)} samples: within joint and velocity limits, no gaps")
    return 1 if report.issues else 0
