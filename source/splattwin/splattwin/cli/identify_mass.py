"""``splattwin identify-mass``: identify an object's mass from robot push logs and write it into the twin."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXIT_NOT_IDENTIFIABLE = 1


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "identify-mass",
        help="identify an object's mass from push logs (differentiable Warp simulation) into the physics layer",
    )
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    p.add_argument("--object", required=True, metavar="PRIM", help="the rigid body prim, e.g. /World/Objects/Block")
    p.add_argument("--log", type=Path, nargs="+", required=True, metavar="DIR", help="push log v1 folder(s)")
    p.add_argument("--report", type=Path, required=True, metavar="OUT.json", help="JSON report (plots beside it)")
    p.add_argument("--fit-friction", action="store_true", help="fit the table friction too")
    p.add_argument("--fixed-contact-stiffness", action="store_true", help="do not fit the fingertip contact stiffness")
    p.add_argument("--device", default="cpu", help="Warp device: cpu (default) or cuda")
    p.add_argument("--dry-run", action="store_true", help="write the report only, leave the stage untouched")
    p.add_argument("--force", action="store_true", help="overwrite an existing report and its plots")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    from splattwin.pipelines.identify import IdentifyConfig, identify_object_mass  # noqa: PLC0415

    config = IdentifyConfig(
        stage=args.stage,
        object=args.object,
        logs=list(args.log),
        report=args.report,
        fit_contact_stiffness=not args.fixed_contact_stiffness,
        fit_friction=args.fit_friction,
        device=args.device,
        write_stage=not args.dry_run,
        overwrite=args.force,
    )
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} simulations"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("identifying mass (forward + backward simulations)", total=None)
        result = identify_object_mass(config, progress=lambda n: progress.update(task, completed=n))
    found = result.identification
    for warning in result.report.get("warnings", []):  # in the report too; said here so none goes unseen
        console.print(f"warning: {warning}", highlight=False)
    if not found.identifiable:
        console.print(f"[bold]{args.object}[/]: {found.reason}; stage left untouched; report {args.report}")
        return EXIT_NOT_IDENTIFIABLE
    sigma = "" if found.uncertainty is None else f" ± {found.uncertainty:.2g}"
    where = "written to the physics layer" if result.written else "stage left untouched (--dry-run)"
    console.print(
        f"[bold]{args.object}[/]: mass {found.mass:.4g}{sigma} kg (prior {found.mass_prior:.4g} kg), "
        f"{found.evaluations} simulations in {found.seconds:.1f} s; {where}; report {args.report}"
    )
    return 0
