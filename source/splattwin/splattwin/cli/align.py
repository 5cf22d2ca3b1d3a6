"""``splattwin align``: unify the frame (up axis, metric scale, gravity from the table, origin)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import number, point, scale_from
from splattwin.geometry.alignment import DEFAULT_MIN_INLIER_FRACTION


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
    p.add_argument("--table", default=None, help="'auto' (fit the table plane to all content) or a mesh/splat prim")
    p.add_argument("--table-height", type=number, default=None, help="table-top z before the origin shift, metres")
    p.add_argument("--origin", type=point, default=None, metavar="X,Y,Z", help="point that becomes the origin")
    p.add_argument("--robot", default=None, metavar="PRIM", help="origin at this robot's base, x along its base x")
    p.add_argument("--invert", action="store_true", help="undo the recorded alignment (every prim back)")
    p.add_argument("--compose", action="store_true", help="on an aligned twin: apply on top (aligned-frame points)")
    p.add_argument("--redo", action="store_true", help="on an aligned twin: replace the alignment (recon-frame points)")
    p.add_argument(
        "--table-min-inliers",
        type=number,
        default=DEFAULT_MIN_INLIER_FRACTION,
        metavar="FRACTION",
        help=f"least share of the points a table plane holds (default {DEFAULT_MIN_INLIER_FRACTION:g}), else refused",
    )
    p.add_argument("--force", action="store_true", help="align even if a dynamic body ends beyond the size/mass limits")
    return p


def table_fit_line(fit: dict[str, Any], scaled: bool) -> str:
    """One line on the fitted table plane: tilt corrected, RMSE, inliers."""
    rmse = f"{1000 * fit['rmse']:.2f} mm" if scaled else f"{fit['rmse']:.4g} reconstruction units"
    sides = [float(v) for v in fit.get("sides", [])]
    size = ""
    if len(sides) == 2:
        size = f", spanning {sides[0]:.3g} x {sides[1]:.3g} {'m' if scaled else 'units'}"
    return (
        f"table plane: {fit['tiltDeg']:.3f} deg of tilt corrected, fit RMSE {rmse}, "
        f"{fit['inliers']:,} inliers ({100 * fit['inlierFraction']:.1f}%){size}"
    )


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.cli._report import print_warnings  # noqa: PLC0415
    from splattwin.pipelines.align import AlignConfig, align_twin, table_fit_summary  # noqa: PLC0415

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
            compose=args.compose,
            redo=args.redo,
            force=args.force,
            table_min_inliers=args.table_min_inliers,
        )
    )
    print_warnings(result.warnings)
    steps = ", ".join(step["name"] for step in result.record["steps"])
    if args.invert:
        console.print(
            f"inverted the alignment: {len(result.prims)} prims back in the reconstruction frame "
            f"(scale x{result.applied.scale:.6g})",
            highlight=False,
        )
    else:
        how = " on top of the recorded one (--compose)" if args.compose else " in place of the recorded one (--redo)"
        console.print(
            f"aligned {len(result.prims)} prims ({steps}){how if args.compose or args.redo else ''}; "
            f"scale {result.applied.scale:.6g}, composed scale {result.total.scale:.6g}",
            highlight=False,
        )
    fit = table_fit_summary(result.record)
    if fit is not None:
        console.print(table_fit_line(fit, args.scale_from is not None), highlight=False)
    return 0
