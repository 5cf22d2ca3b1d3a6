"""``splattwin reach-image``: a joint motion that brings the robot's rendering onto a target (docs/pose.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    from splattwin.cli.estimate_pose import add_fit_flags  # noqa: PLC0415

    p = verbs.add_parser("reach-image", help="a joint trajectory onto a target image or mask (image gradients)")
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    p.add_argument("--robot", required=True, metavar="PRIM", help="the robot prim, e.g. /World/Robot")
    p.add_argument("--camera", nargs="+", required=True, metavar="CAM", help="camera name(s) or prim path(s)")
    p.add_argument("--target", type=Path, nargs="+", required=True, help="per camera the target image")
    p.add_argument("--out", type=Path, required=True, help="the trajectory .csv (time,<joints>) or .npz")
    p.add_argument("--start", help="current joints as JSON (inline or a file)")
    p.add_argument("--duration", type=float, default=2.0, help="motion time [s]")
    p.add_argument("--rate", type=float, default=50.0, help="output samples per second")
    p.add_argument("--reg", type=float, default=1e-3, help="pull towards the start joints")
    add_fit_flags(p)
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from rich.progress import Progress  # noqa: PLC0415

    from splattwin.cli.estimate_pose import fit_options, print_fits  # noqa: PLC0415
    from splattwin.pipelines.pose import ReachImageConfig, reach_image_twin  # noqa: PLC0415
    from splattwin.pipelines.render import parse_joints  # noqa: PLC0415

    config = ReachImageConfig(
        stage=args.stage,
        robot=args.robot,
        cameras=list(args.camera),
        targets=list(args.target),
        out=args.out,
        start=parse_joints(args.start) if args.start else {},
        masks=args.masks,
        background=args.background,
        duration=args.duration,
        rate_hz=args.rate,
        reg=args.reg,
        options=fit_options(args),
        keep_unconverged=args.keep_unconverged,
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("optimising the goal", total=None)
        report = reach_image_twin(config, progress=lambda d, t: progress.update(task, completed=d, total=t))
    print_fits(report, console)
    console.print(f"wrote {report.out} ({len(report.times)} samples over {report.times[-1]:.2f} s)")
    return 0
