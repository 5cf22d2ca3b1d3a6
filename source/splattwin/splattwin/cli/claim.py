"""``splattwin claim``: hand a rigid body the Gaussians of a scene splat inside its collision mesh, or the object's
connected component picked by ``--point`` / ``--box`` (docs/surfaces.md, "Segmentation")."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import number, table_option


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("claim", help="move the scene Gaussians on a rigid body into the body, so they move with it")
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    p.add_argument("--splat", required=True, help="the scene splat prim to take Gaussians from")
    p.add_argument("--body", required=True, help="the rigid body prim (with a collision mesh child)")
    p.add_argument("--margin", type=number, default=0.005, help="metres outside the mesh still counted (0.005)")
    p.add_argument(
        "--point",
        type=number,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="claim the connected component of Gaussians above the table nearest this point (metres; no mesh needed)",
    )
    p.add_argument(
        "--box",
        type=number,
        nargs=6,
        metavar=("XMIN", "YMIN", "ZMIN", "XMAX", "YMAX", "ZMAX"),
        help="claim the largest component inside this box (metres; with --point: the point's component in it)",
    )
    p.add_argument("--table", default="auto", help="with --point/--box: auto (find the table), none, or a height")
    p.add_argument("--link", type=number, default=None, help="with --point/--box: link radius in metres (auto)")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.pipelines.claim import ClaimConfig, claim_gaussians  # noqa: PLC0415

    count = claim_gaussians(
        ClaimConfig(
            stage=args.stage,
            splat=args.splat,
            body=args.body,
            margin=args.margin,
            point=None if args.point is None else tuple(args.point),
            box=None if args.box is None else (tuple(args.box[:3]), tuple(args.box[3:])),
            table=table_option(args.table),
            link=args.link,
        )
    )
    console.print(f"moved {count} Gaussians from {args.splat} into {args.body}/Gaussians", highlight=False)
    return 0
