"""``splattwin extract-mesh``: a collider or rigid body made from the twin's Gaussians alone (docs/surfaces.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import add_collider_flags, number, table_option


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "extract-mesh", help="make a collision mesh from a splat: depth views, TSDF fusion, marching cubes"
    )
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    p.add_argument("--splat", required=True, help="the scene splat prim")
    p.add_argument("--out-prim", required=True, help="the new prim (static collider, or rigid body with --dynamic)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--region",
        type=number,
        nargs=6,
        metavar=("XMIN", "YMIN", "ZMIN", "XMAX", "YMAX", "ZMAX"),
        help="box in the twin's frame, metres (default: the whole splat)",
    )
    where.add_argument("--object", default=None, help="a splat prim or a body with claimed Gaussians to extract")
    where.add_argument(
        "--mask-images",
        type=Path,
        default=None,
        metavar="DIR",
        help="posed object masks: DIR/transforms.json with mask_path, or a COLMAP model and DIR/masks/ (cameras in "
        "the --splat's frame); the object is what every mask holds",
    )
    p.add_argument(
        "--point",
        type=number,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="extract the connected component of Gaussians above the table nearest this point (within --region)",
    )
    p.add_argument("--voxel", type=number, default=0.002, help="TSDF voxel edge in metres (0.002)")
    p.add_argument(
        "--band",
        type=number,
        default=1.0,
        help="TSDF truncation band in voxels (1; a sparse splat whose rays carve its inside may need 2)",
    )
    p.add_argument("--views", type=int, default=40, help="number of virtual views (40)")
    p.add_argument("--depth", default="RD", choices=("RD", "MD", "ED"), help="depth estimate (RD: ray-Gaussian)")
    p.add_argument("--table", default="auto", help="auto (find the region's table), none, or a height in metres")
    p.add_argument("--dynamic", action="store_true", help="a rigid body with a mass prior instead of static scenery")
    p.add_argument("--material", default="wood", help="physics material (friction, density of the mass prior)")
    add_collider_flags(p)
    p.add_argument("--replace", action="store_true", help="replace an existing prim at --out-prim")
    p.add_argument("--force", action="store_true", help="beyond the size/mass limits; with --replace, root edits")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.cli._report import print_notes, print_warnings  # noqa: PLC0415
    from splattwin.pipelines.extract import ExtractMeshConfig, extract_mesh  # noqa: PLC0415

    region = None if args.region is None else (tuple(args.region[:3]), tuple(args.region[3:]))
    result = extract_mesh(
        ExtractMeshConfig(
            stage=args.stage,
            splat=args.splat,
            prim=args.out_prim,
            region=region,
            object=args.object,
            point=None if args.point is None else tuple(args.point),
            mask_images=args.mask_images,
            voxel=args.voxel,
            band_voxels=args.band,
            views=args.views,
            depth=args.depth,
            table=table_option(args.table),
            dynamic=args.dynamic,
            material=args.material,
            replace=args.replace,
            force=args.force,
            collider=args.collider,
            max_parts=args.max_parts,
            threshold=args.threshold,
        )
    )
    print_warnings(result.warnings)
    what = f"rigid body, {result.mass_kg:.4g} kg (prior)" if result.dynamic else "static collider"
    p = result.provenance
    console.print(
        f"extracted {result.prim} ({what}, {result.layer} layer) from {p['extractedFrom']}: "
        f"{result.report['faces_after']} faces, volume {result.volume_m3:.4g} m^3, voxel {p['voxelM']:g} m, "
        f"{p['views']} views, table cut {p['tableCut']}",
        highlight=False,
    )
    print_notes(result.notes, console)
    return 0
