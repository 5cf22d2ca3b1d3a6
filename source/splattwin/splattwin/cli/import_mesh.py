"""``splattwin import-mesh``: a mesh (obj, ply, glb, stl) as static scenery or a rigid body."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import add_collider_flags, add_import_frame_flags, import_frame_options, number


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "import-mesh", help="import a mesh (obj, ply, glb, stl, or a USD mesh) as static scenery or a rigid body"
    )
    p.add_argument("source", type=Path, help="the mesh file")
    p.add_argument("--stage", type=Path, required=True, help="twin root layer (created when missing)")
    p.add_argument("--prim", required=True, help="new prim path below /World")
    p.add_argument("--dynamic", action="store_true", help="a rigid body with mass instead of static scenery")
    p.add_argument("--material", default="wood", help="physics material (friction, density); see docs/formats.md")
    p.add_argument("--mass", type=number, default=None, help="mass in kg (default: volume x material density prior)")
    p.add_argument("--approximation", default=None, help="collision approximation (none, convexHull, ...)")
    add_collider_flags(p)
    add_import_frame_flags(
        p, force_help="also import a body beyond the size/mass limits; with --replace, drop root-layer edits"
    )
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.cli._report import print_notes, print_warnings  # noqa: PLC0415
    from splattwin.pipelines.importing import ImportMeshConfig, import_mesh  # noqa: PLC0415

    existed = args.stage.exists()
    result = import_mesh(
        ImportMeshConfig(
            source=args.source,
            stage=args.stage,
            prim=args.prim,
            dynamic=args.dynamic,
            material=args.material,
            mass=args.mass,
            approximation=args.approximation,
            collider=args.collider,
            max_parts=args.max_parts,
            threshold=args.threshold,
            **import_frame_options(args),
        )
    )
    print_warnings(result.warnings)
    what = f"rigid body, {result.mass_kg:.4g} kg ({result.mass_kind})" if result.dynamic else "static collider"
    report = result.report
    console.print(
        f"imported {args.source} as {what} at {result.prim} ({result.layer} layer): "
        f"{report['faces_after']} faces, watertight={report['watertight']}, volume={report['volume_m3']}; "
        f"{args.stage} ({'existing twin, extended' if existed else 'new twin'})",
        highlight=False,
    )
    print_notes(result.notes, console)
    return 0
