"""``splattwin export-splat``: a Gaussian prim of a twin to .ply, .spz or .splat."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli.import_splat import SPZ_FRAMES


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("export-splat", help="write a Gaussian prim of a twin to .ply, .spz or .splat")
    p.add_argument("stage", type=Path)
    p.add_argument("prim")
    p.add_argument("out", type=Path)
    p.add_argument("--frame", choices=("world", "local"), default="world", help="apply the prim's transform or not")
    p.add_argument("--force", "--overwrite", dest="force", action="store_true", help="overwrite an existing OUT")
    p.add_argument(
        "--spz-frame",
        choices=SPZ_FRAMES,
        default=None,
        help="the axes an .spz OUT stores: rub (the SPZ spec's, what Niantic's spz reads; the default) or rdf "
        "(a PLY's, unconverted, as splat-transform 3.x writes)",
    )
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.pipelines.exporting import ExportSplatConfig, export_splat  # noqa: PLC0415

    existed = args.out.exists()
    count = export_splat(
        ExportSplatConfig(
            stage=args.stage,
            prim=args.prim,
            out=args.out,
            frame=args.frame,
            overwrite=args.force,
            spz_frame=args.spz_frame,
        )
    )
    axes = ""
    if args.out.suffix.lower() == ".spz":
        frame = args.spz_frame or "rub"
        axes = f" (SPZ axes {frame.upper()}{'' if args.spz_frame else ', the default'}: " + (
            "the SPZ spec's, y and z negated from a PLY's)" if frame == "rub" else "a PLY's, as stored)"
        )
    console.print(f"{'overwrote' if existed else 'wrote'} {args.out} with {count} Gaussians{axes}", highlight=False)
    return 0
