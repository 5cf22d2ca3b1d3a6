"""``splattwin import-splat``: a 3DGS .ply, .spz or .splat file as a Gaussian prim."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import number


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("import-splat", help="import a 3DGS .ply, .spz or .splat file as a Gaussian prim")
    p.add_argument("source", type=Path, help="the Gaussian file")
    p.add_argument("--stage", type=Path, required=True, help="twin root layer (created when missing)")
    p.add_argument("--prim", required=True, help="new prim path below /World, e.g. /World/Scene/Splat")
    p.add_argument("--up-axis", default="z", help="the source's up axis: x, y, z, -x, -y, -z (default z: as is)")
    p.add_argument("--scale", type=number, default=1.0, help="metres per source unit (default 1)")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.pipelines.importing import ImportSplatConfig, import_splat  # noqa: PLC0415

    result = import_splat(
        ImportSplatConfig(source=args.source, stage=args.stage, prim=args.prim, up_axis=args.up_axis, scale=args.scale)
    )
    console.print(
        f"imported {result.count} Gaussians (SH degree {result.sh_degree}) into {result.prim} "
        f"[{result.layer} layer] of {args.stage}"
    )
    return 0
