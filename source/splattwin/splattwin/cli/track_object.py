"""``splattwin track-object``: an object's 6-DoF pose through a video by render-and-compare (docs/tracking.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("track-object", help="an object's pose through a video (render-and-compare)")
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    p.add_argument("--object", required=True, metavar="PRIM", help="the object prim, e.g. /World/Objects/Block")
    p.add_argument("--images", type=Path, nargs="+", required=True, help="per camera a folder of frames or a video")
    p.add_argument("--cameras", required=True, metavar="CAM1,CAM2", help="camera names or prim paths, comma-separated")
    p.add_argument("--out", type=Path, required=True, help="the pose file: .csv (time,x,y,z,qw,qx,qy,qz,...) or .npz")
    p.add_argument("--joints", type=Path, help="the robot's joint log (trajectory .csv/.npz): it occludes the object")
    p.add_argument("--robot", metavar="PRIM", help="the robot prim the log drives (default: the twin's only robot)")
    p.add_argument("--masks", type=Path, nargs="+", help="per camera a folder of object masks (else the alpha)")
    p.add_argument("--fps", type=float, help="frame rate of a folder without timestamps.csv")
    p.add_argument("--iterations", type=int, default=30, help="most Adam steps per frame (default 30)")
    p.add_argument("--first-iterations", type=int, default=80, help="most steps of the first frame (default 80)")
    p.add_argument("--photometric", type=float, default=0.5, help="weight of the L1 colour term (default 0.5)")
    p.add_argument("--scale", type=float, default=1.0, help="factor on the Gaussians' sizes while fitting (1)")
    p.add_argument("--erode", type=int, default=0, help="erode the rendered silhouette by N px (0; see docs)")
    p.add_argument("--min-iou", type=float, default=0.8, help="silhouette IoU a converged frame reaches (0.8)")
    p.add_argument("--keep-unconverged", action="store_true", help="write the poses even if a frame's fit failed")
    p.add_argument("--key", action="store_true", help="also key the poses on the object in the trajectories layer")
    p.add_argument("--backend", choices=("auto", "cpu", "gsplat"), default="cpu")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from rich.progress import Progress  # noqa: PLC0415

    from splattwin.errors import InputError  # noqa: PLC0415
    from splattwin.pipelines.tracking import TrackObjectConfig, track_object_twin  # noqa: PLC0415
    from splattwin.vision.tracking import TrackOptions  # noqa: PLC0415

    for flag, value in (("--iterations", args.iterations), ("--first-iterations", args.first_iterations)):
        if value < 1:
            raise InputError(flag, f"must be >= 1, got {value}")
    if not 0 < args.min_iou <= 1:
        raise InputError("--min-iou", f"must be in (0, 1], got {args.min_iou}")
    if not args.scale > 0 or args.erode < 0:
        raise InputError("--scale", f"--scale must be > 0 and --erode >= 0, got {args.scale} and {args.erode}")
    if args.photometric < 0:
        raise InputError("--photometric", f"must be >= 0, got {args.photometric}")
    cameras = [c.strip() for c in args.cameras.split(",") if c.strip()]
    config = TrackObjectConfig(
        stage=args.stage,
        object=args.object,
        cameras=cameras,
        images=list(args.images),
        out=args.out,
        joints=args.joints,
        robot=args.robot,
        masks=args.masks,
        fps=args.fps,
        options=TrackOptions(
            iterations=args.iterations,
            first_iterations=args.first_iterations,
            photometric=args.photometric,
            min_iou=args.min_iou,
            scale=args.scale,
            erode_px=args.erode,
            backend=args.backend,
        ),
        keep_unconverged=args.keep_unconverged,
        key=args.key,
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("tracking frames", total=None)
        report = track_object_twin(config, progress=lambda d, t: progress.update(task, completed=d, total=t))
    for name, frame in zip(report.names, report.frames, strict=True):
        state = "converged" if frame.converged else "NOT CONVERGED"
        iou = ", ".join(f"{v:.3f}" for v in frame.iou)
        console.print(
            f"{name}: IoU {iou}, residual {frame.residual:.4g}, {frame.iterations} steps, {state}", highlight=False
        )
    console.print(f"wrote {report.out}" + (f"; keyed {args.object} in the trajectories layer" if args.key else ""))
    return 0
