"""``splattwin import-cameras``: calibrated cameras (transforms.json, COLMAP, cameras.json) as USD cameras."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import number


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "import-cameras",
        help="import calibrated cameras (nerfstudio transforms.json, COLMAP text model, 3DGS cameras.json)",
    )
    p.add_argument(
        "source", type=Path, help="transforms.json, cameras.json, COLMAP cameras.txt / images.txt or their folder"
    )
    p.add_argument("--stage", type=Path, required=True, help="twin root layer (created when missing)")
    frame = p.add_mutually_exclusive_group()
    frame.add_argument(
        "--frame",
        default=None,
        metavar="SPLAT_PRIM",
        help="the cameras were reconstructed with this splat: follow its recorded frame (import and align)",
    )
    frame.add_argument("--metric", action="store_true", help="the cameras are already z-up metres in the twin's frame")
    p.add_argument("--up-axis", default="z", help="without --frame: the file's up axis (x, y, z, -x, -y, -z)")
    p.add_argument("--scale", type=number, default=1.0, help="without --frame: metres per file unit (default 1)")
    p.add_argument(
        "--original-frame",
        action="store_true",
        help="undo a transforms.json's applied_transform (for a splat trained on the COLMAP model itself)",
    )
    p.add_argument("--root", default="/World/Cameras", help="the prim the cameras go under (/World/Cameras)")
    p.add_argument("--replace", action="store_true", help="replace cameras of the same names")
    p.add_argument("--force", action="store_true", help="with --replace, also remove a person's root-layer edits")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.cli._report import print_notes, print_warnings  # noqa: PLC0415
    from splattwin.pipelines.cameras import ImportCamerasConfig, import_cameras  # noqa: PLC0415

    result = import_cameras(
        ImportCamerasConfig(
            source=args.source,
            stage=args.stage,
            frame_splat=args.frame,
            metric=args.metric,
            up_axis=args.up_axis,
            scale=args.scale,
            original_frame=args.original_frame,
            root=args.root,
            replace=args.replace,
            force=args.force,
        )
    )
    print_warnings(result.warnings)
    first = result.prims[0] if result.prims else "-"
    console.print(
        f"imported {len(result.prims)} cameras ({result.format}) into {args.stage} ({result.layer} layer): {first}"
        f"{' ...' if len(result.prims) > 1 else ''}",
        highlight=False,
    )
    print_notes(result.notes, console)
    return 0
