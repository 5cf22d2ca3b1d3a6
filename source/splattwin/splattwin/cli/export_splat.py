"""``splattwin export-splat``: a Gaussian prim of a twin to .ply, .spz or .splat."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("export-splat", help="write a Gaussian prim of a twin to .ply, .spz or .splat")
    p.add_argument("stage", type=Path)
    p.add_argument("prim")
    p.add_argument("out", type=Path)
    p.add_argument("--frame", choices=("world", "local"), default="world", help="apply the prim's transform or not")
    p.add_argument("--force", "--overwrite", dest="force", action="store_true", help="overwrite an existing OUT")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.pipelines.exporting import ExportSplatConfig, export_splat  # noqa: PLC0415

    existed = args.out.exists()
    count = export_splat(
        ExportSplatConfig(stage=args.stage, prim=args.prim, out=args.out, frame=args.frame, overwrite=args.force)
    )
    console.print(f"{'overwrote' if existed else 'wrote'} {args.out} with {count} Gaussians", highlight=False)
    return 0
