"""``splattwin import-robot``: a URDF robot into the twin's robot layer, its links carrying Gaussians."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import number


def _base(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,Z[,YAW_DEG] numbers, got {text!r}") from None
    if len(values) not in (3, 4):
        raise argparse.ArgumentTypeError(f"expected 3 or 4 comma-separated numbers X,Y,Z[,YAW_DEG], got {text!r}")
    return values


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("import-robot", help="import a URDF robot (articulation, meshes, link-bound Gaussians)")
    p.add_argument(
        "urdf",
        help="the URDF file (package:// meshes resolved relative to it), or pybullet_data:<path> for the robots "
        "shipped with pybullet, e.g. pybullet_data:franka_panda/panda.urdf",
    )
    p.add_argument("--stage", type=Path, required=True, help="twin root layer (created when missing)")
    p.add_argument("--prim", required=True, help="new robot prim path below /World, e.g. /World/Robot")
    p.add_argument("--base", type=_base, default=(0.0, 0.0, 0.0), help="base pose X,Y,Z[,YAW_DEG] in the twin (m, deg)")
    p.add_argument(
        "--splat",
        type=Path,
        default=None,
        help="splat of the robot (.ply/.spz/.splat); into an aligned twin: reconstruction frame, as imports take it",
    )
    p.add_argument("--metric", action="store_true", help="--splat is already in the twin's aligned frame (z-up m)")
    p.add_argument("--splat-joints", type=Path, default=None, help="JSON {joint: value} of the splat's configuration")
    p.add_argument("--fit-base", action="store_true", help="fit the base pose to --splat by ICP, starting at --base")
    p.add_argument("--bind-threshold", type=number, default=None, help="max Gaussian-surface distance, m")
    p.add_argument("--force", action="store_true", help="accept a --base farther than a room from the origin")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.cli._report import print_notes, print_warnings  # noqa: PLC0415
    from splattwin.pipelines.robot import ImportRobotConfig, import_robot, resolve_urdf  # noqa: PLC0415

    result = import_robot(
        ImportRobotConfig(
            urdf=resolve_urdf(args.urdf),
            stage=args.stage,
            prim=args.prim,
            base=args.base,
            splat=args.splat,
            splat_joints=args.splat_joints,
            fit_base=args.fit_base,
            bind_threshold=args.bind_threshold,
            metric=args.metric,
            force=args.force,
        )
    )
    print_warnings(result.warnings)
    bound = sum(result.gaussians_per_link.values())
    console.print(
        f"imported {args.urdf} at {result.prim} (robot layer): {result.links} links, {result.joints} joints, "
        f"{result.dof} dof; {bound} Gaussians bound to {len(result.gaussians_per_link)} links "
        f"(source: {result.source}), {result.unbound} unbound"
    )
    if result.fit_rmse_m is not None:
        base = result.base_world
        console.print(
            f"fitted base: position ({base[0][3]:.4f}, {base[1][3]:.4f}, {base[2][3]:.4f}) m, "
            f"RMSE {result.fit_rmse_m * 1000:.2f} mm over {result.fit_inliers} Gaussians"
        )
    if result.splat_frame is not None and not result.notes:  # an aligned twin's note says which frame
        console.print(f"note: the splat was taken {result.splat_frame}", highlight=False)
    print_notes(result.notes, console)
    return 0
