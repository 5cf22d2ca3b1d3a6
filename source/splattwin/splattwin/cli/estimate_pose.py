"""``splattwin estimate-pose``: the robot's joint angles from images by render-and-compare (docs/pose.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_fit_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared with ``reach-image``: the fit's settings."""
    p.add_argument("--iterations", type=int, default=120, help="Adam steps per start (default 120)")
    p.add_argument("--restarts", type=int, default=0, help="extra random starts within --restart-spread")
    p.add_argument("--restart-spread", type=float, default=0.3, help="half-width of the restarts' noise [rad]")
    p.add_argument("--photometric", type=float, default=0.0, help="weight of the L1 colour term (0: silhouette)")
    p.add_argument("--min-iou", type=float, default=0.8, help="silhouette IoU a converged fit reaches (0.8)")
    p.add_argument("--masks", type=Path, nargs="+", help="per camera a folder of robot masks")
    p.add_argument("--background", type=Path, nargs="+", help="per camera an image of the scene without the robot")
    p.add_argument("--keep-unconverged", action="store_true", help="write the trajectory even if a fit failed")
    p.add_argument("--backend", choices=("auto", "cpu", "gsplat"), default="cpu")
    p.add_argument("--seed", type=int, default=0)


def fit_options(args: argparse.Namespace, **extra: Any) -> Any:
    from splattwin.errors import InputError  # noqa: PLC0415
    from splattwin.vision.pose import FitOptions  # noqa: PLC0415

    if args.iterations < 1:
        raise InputError("--iterations", f"must be >= 1, got {args.iterations}")
    if args.restarts < 0:
        raise InputError("--restarts", f"must be >= 0, got {args.restarts}")
    if not 0 < args.min_iou <= 1:
        raise InputError("--min-iou", f"must be in (0, 1], got {args.min_iou}")
    return FitOptions(
        iterations=args.iterations,
        restarts=args.restarts,
        restart_spread=args.restart_spread,
        photometric=args.photometric,
        min_iou=args.min_iou,
        backend=args.backend,
        seed=args.seed,
        **extra,
    )


def print_fits(report: Any, console: Any) -> None:
    for name, fit in zip([f"{t:.3f} s" for t in report.times], report.fits, strict=False):
        state = "converged" if fit.converged else "NOT CONVERGED"
        iou = ", ".join(f"{v:.3f}" for v in fit.iou)
        console.print(f"{name}: IoU {iou}, residual {fit.residual:.4g}, {state}")
    if len(report.fits) > 1:
        console.print(f"frame {0}..{len(report.fits) - 1}: {len(report.unconverged)} not converged")


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("estimate-pose", help="the robot's joint angles from images (render-and-compare)")
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    p.add_argument("--robot", required=True, metavar="PRIM", help="the robot prim, e.g. /World/Robot")
    p.add_argument("--camera", nargs="+", required=True, metavar="CAM", help="camera name(s) or prim path(s)")
    p.add_argument("--images", type=Path, nargs="+", required=True, help="per camera an image, folder or video")
    p.add_argument("--out", type=Path, required=True, help="the trajectory .csv (time,<joints>) or .npz")
    p.add_argument("--init", help='start joints as JSON (inline or a file), e.g. {"panda_joint1": 0.3}')
    p.add_argument("--fit-camera", action="store_true", help="also fit the cameras' extrinsics")
    p.add_argument("--fps", type=float, help="frame rate of a folder without timestamps.csv")
    p.add_argument("--smooth", type=float, default=1e-3, help="weight tying a frame to the previous one")
    add_fit_flags(p)
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from rich.progress import Progress  # noqa: PLC0415

    from splattwin.pipelines.pose import EstimatePoseConfig, estimate_pose_twin  # noqa: PLC0415
    from splattwin.pipelines.render import parse_joints  # noqa: PLC0415

    config = EstimatePoseConfig(
        stage=args.stage,
        robot=args.robot,
        cameras=list(args.camera),
        images=list(args.images),
        out=args.out,
        init=parse_joints(args.init) if args.init else {},
        masks=args.masks,
        background=args.background,
        fps=args.fps,
        options=fit_options(args, fit_camera=args.fit_camera, smooth=args.smooth),
        keep_unconverged=args.keep_unconverged,
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("fitting frames", total=None)
        report = estimate_pose_twin(config, progress=lambda d, t: progress.update(task, completed=d, total=t))
    print_fits(report, console)
    console.print(f"wrote {report.out}")
    return 0
