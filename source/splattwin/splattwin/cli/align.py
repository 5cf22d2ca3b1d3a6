"""``splattwin align``: unify the frame (up axis, metric scale, gravity from the table, origin)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import number, point, scale_from


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("align", help="unify the frame: up axis, metric scale, gravity from the table, origin")
    p.add_argument("--stage", type=Path, required=True)
    p.add_argument("--up-axis", default="z", help="the twin content's current up axis (default z: no change)")
    p.add_argument(
        "--scale-from",
        nargs=3,
        metavar=("P1", "P2", "METRES"),
        help="two points X,Y,Z (current frame) and their real distance in metres",
    )
    p.add_argument("--table", default=None, help="'auto' (fit the table plane to all content) or a prim path")
    p.add_argument("--table-height", type=number, default=0.0, help="table-top z before the origin shift, metres")
    p.add_argument("--origin", type=point, default=None, metavar="X,Y,Z", help="point that becomes the origin")
    p.add_argument("--robot", default=None, metavar="PRIM", help="origin at this robot's base, x along its base x")
    p.add_argument("--invert", action="store_true", help="undo the recorded alignment")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.pipelines.align import AlignConfig, align_twin  # noqa: PLC0415

    result = align_twin(
        AlignConfig(
            stage=args.stage,
            up_axis=args.up_axis,
            scale_from=scale_from(args.scale_from),
            table=args.table,
            table_height=args.table_height,
            origin=args.origin,
            robot=args.robot,
            invert=args.invert,
        )
    )
    steps = ", ".join(step["name"] for step in result.record["steps"])
    console.print(
        f"aligned {len(result.prims)} prims ({steps}); scale {result.applied.scale:.6g}, "
        f"composed scale {result.total.scale:.6g}"
    )
    return 0
