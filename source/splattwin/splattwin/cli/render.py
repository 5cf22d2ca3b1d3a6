"""``splattwin render``: the twin from a camera prim or a look-at view; frames, depth, segmentation, videos."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splattwin.cli._args import point


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 640x480, got {text!r}") from None
    return width, height


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("render", help="render the twin's Gaussians from a camera (PNG, depth, segmentation, mp4)")
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--camera", metavar="PRIM", help="a UsdGeom.Camera prim path")
    where.add_argument("--view", nargs=2, type=point, metavar=("EX,EY,EZ", "TX,TY,TZ"), help="eye and target [m]")
    p.add_argument("--out", type=Path, required=True, help="the RGB .png, or the .mp4 of a --trajectory")
    pose = p.add_mutually_exclusive_group()
    pose.add_argument("--joints", help='joint values as JSON (inline or a file), e.g. {"panda_joint1": 0.3}')
    pose.add_argument(
        "--trajectory",
        type=Path,
        help="a .csv (time,<joints>) or .npz (t, q, joint_names) file, or 'stage': the robot's time samples",
    )
    p.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="WxH",
        help="image size (default: an imported camera's own, else 640x480)",
    )
    p.add_argument("--fov", type=float, default=50.0, help="vertical field of view of --view [deg]")
    p.add_argument("--fps", type=float, help="video frame rate (default: the trajectory's rate)")
    p.add_argument("--backend", choices=("auto", "cpu", "gsplat"), default="auto")
    p.add_argument("--depth", action="store_true", help="also write <stem>_depth.png (16-bit, millimetres)")
    p.add_argument("--segmentation", action="store_true", help="also write <stem>_seg.png and <stem>_seg.json")
    p.add_argument("--force", action="store_true", help="overwrite outputs that exist already")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from rich.progress import Progress  # noqa: PLC0415

    from splattwin.pipelines.render import RenderConfig, parse_joints, render_twin  # noqa: PLC0415

    config = RenderConfig(
        stage=args.stage,
        out=args.out,
        camera=args.camera,
        view=tuple(args.view) if args.view else None,
        size=args.size,
        vertical_fov_deg=args.fov,
        joints=parse_joints(args.joints) if args.joints else {},
        trajectory=args.trajectory,
        fps=args.fps,
        backend=args.backend,
        depth=args.depth,
        segmentation=args.segmentation,
        overwrite=args.force,
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("rendering", total=None)
        result = render_twin(config, progress=lambda done, total: progress.update(task, completed=done, total=total))
    for path in result.files:
        console.print(f"wrote {path}")
    return 0
