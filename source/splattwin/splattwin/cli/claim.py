"""``splattwin claim``: hand a rigid body the Gaussians of a scene splat that lie inside its collision mesh."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import number


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("claim", help="move the scene Gaussians on a rigid body into the body, so they move with it")
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    p.add_argument("--splat", required=True, help="the scene splat prim to take Gaussians from")
    p.add_argument("--body", required=True, help="the rigid body prim (with a collision mesh child)")
    p.add_argument("--margin", type=number, default=0.005, help="metres outside the mesh still counted (0.005)")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.pipelines.claim import ClaimConfig, claim_gaussians  # noqa: PLC0415

    count = claim_gaussians(ClaimConfig(stage=args.stage, splat=args.splat, body=args.body, margin=args.margin))
    console.print(f"moved {count} Gaussians from {args.splat} into {args.body}/Gaussians", highlight=False)
    return 0
