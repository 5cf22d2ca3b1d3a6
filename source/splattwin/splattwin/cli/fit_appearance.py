"""``splattwin fit-appearance``: refine a prim's Gaussians from posed images (docs/appearance.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("fit-appearance", help="refine a prim's Gaussians from posed images (L1 + D-SSIM)")
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--prim", help="the Gaussians prim, e.g. /World/Scene/Splat")
    target.add_argument("--robot", help="a robot prim: fit its link Gaussians over every frame (needs --joints)")
    p.add_argument("--joints", type=Path, help="with --robot: the joint log (CSV/NPZ) on the frames' clock")
    p.add_argument("--fps", type=float, help="with --robot: frame rate of folders without timestamps.csv")
    p.add_argument("--held-out-every", type=int, default=0, metavar="K", help="with --robot: hold out every K-th frame")
    p.add_argument("--camera", nargs="+", required=True, metavar="CAM", help="camera name(s) or prim path(s)")
    p.add_argument(
        "--images", type=Path, nargs="+", required=True,
        help="per camera an image (or folder: its 1st frame; with --robot every frame)",
    )  # fmt: skip
    p.add_argument("--masks", type=Path, nargs="+", help="per camera a mask image/folder (loss inside only)")
    p.add_argument("--held-out", nargs="*", default=[], metavar="CAM", help="cameras never trained on (evaluated)")
    p.add_argument("--report", type=Path, required=True, help="the JSON report (PSNR/SSIM before and after)")
    p.add_argument("--comparison", type=Path, help="PNG: per held-out view target | before | after")
    p.add_argument("--iterations", type=int, default=300, help="Adam steps (default 300)")
    p.add_argument("--colors-only", action="store_true", help="fit colours and opacities, not the geometry")
    p.add_argument("--prune-opacity", type=float, default=0.005, help="remove Gaussians below this opacity (0: off)")
    p.add_argument("--max-residual", type=float, default=0.05, help="final loss a converged fit reaches (0.05)")
    p.add_argument("--keep-unconverged", action="store_true", help="write back even when the fit did not converge")
    p.add_argument("--backend", choices=("auto", "cpu", "gsplat"), default="cpu")
    p.add_argument("--seed", type=int, default=0)
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from rich.progress import Progress  # noqa: PLC0415

    from splattwin.errors import InputError  # noqa: PLC0415
    from splattwin.pipelines.appearance import FitAppearanceConfig, fit_appearance_twin  # noqa: PLC0415
    from splattwin.vision.appearance import AppearanceConfig  # noqa: PLC0415

    if args.iterations < 1:
        raise InputError("--iterations", f"must be >= 1, got {args.iterations}")
    options = AppearanceConfig(
        iterations=args.iterations,
        fit_geometry=not args.colors_only,
        prune_opacity=args.prune_opacity,
        max_residual=args.max_residual,
        backend=args.backend,
        seed=args.seed,
    )
    config = FitAppearanceConfig(
        stage=args.stage,
        prim=args.prim,
        cameras=list(args.camera),
        images=list(args.images),
        held_out=list(args.held_out),
        report=args.report,
        comparison=args.comparison,
        masks=args.masks,
        options=options,
        keep_unconverged=args.keep_unconverged,
        robot=args.robot,
        joints=args.joints,
        fps=args.fps,
        held_out_every=args.held_out_every,
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("fitting appearance", total=args.iterations)
        report = fit_appearance_twin(config, progress=lambda d, t: progress.update(task, completed=d, total=t))
    before = ", ".join(f"{v:.2f}" for v in report["psnr_before"])
    after = ", ".join(f"{v:.2f}" for v in report["psnr_after"])
    console.print(f"residual {report['residual']:.4g}; held-out PSNR {before} -> {after} dB; pruned {report['pruned']}")
    what = args.prim or f"the link Gaussians of {args.robot} ({report['views']} views)"
    console.print(f"wrote {what} in {args.stage}, report {args.report}")
    return 0
