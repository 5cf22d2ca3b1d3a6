"""``splattwin import-splat``: a 3DGS .ply, .spz or .splat file as a Gaussian prim."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import add_import_frame_flags, import_frame_options

SPZ_FRAMES = ("rub", "rdf")  # splattwin.io.spz.SPZ_FRAMES, repeated so that --help loads no codec


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "import-splat", help="import Gaussians (.ply, .spz, .splat, or a USD ParticleField) as a Gaussian prim"
    )
    p.add_argument("source", type=Path, help="the Gaussian file (.ply, .spz, .splat, .usd, .usda, .usdc)")
    p.add_argument("--stage", type=Path, required=True, help="twin root layer (created when missing)")
    p.add_argument("--prim", required=True, help="new prim path below /World, e.g. /World/Scene/Splat")
    add_import_frame_flags(p)
    p.add_argument(
        "--spz-frame",
        choices=SPZ_FRAMES,
        default=None,
        help="the axes an .spz source stores: rub (the SPZ spec's; Niantic's spz, splat-transform 2.x; the default) "
        "or rdf (a PLY's, unconverted; splat-transform 3.x, gsply)",
    )
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.cli._report import print_notes, print_warnings  # noqa: PLC0415
    from splattwin.pipelines.importing import ImportSplatConfig, import_splat  # noqa: PLC0415

    existed = args.stage.exists()
    result = import_splat(
        ImportSplatConfig(
            source=args.source,
            stage=args.stage,
            prim=args.prim,
            spz_frame=args.spz_frame,
            **import_frame_options(args),
        )
    )
    print_warnings(result.warnings)
    console.print(
        f"imported {result.count} Gaussians (SH degree {result.sh_degree}) into {result.prim} "
        f"({result.layer} layer) of {args.stage} ({'existing twin, extended' if existed else 'new twin'})",
        highlight=False,
    )
    print_notes(result.notes, console)
    return 0
