"""The ``splattwin`` command line (also ``python -m splattwin``): one verb per pipeline, kebab-case flags.

Every error a user can cause is a :class:`~splattwin.errors.SplatTwinError`; it is printed as one
``error: <file>: <problem>`` line on stderr with exit code 2, and nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from splattwin.errors import InputError, SplatTwinError

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2


def _point(text: str) -> tuple[float, float, float]:
    """A point given as ``X,Y,Z``."""
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,Z numbers, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected 3 comma-separated numbers X,Y,Z, got {text!r}")
    return values  # type: ignore[return-value]


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every verb."""
    parser = argparse.ArgumentParser(
        prog="splattwin",
        description="Build Gaussian-splat digital twins of robot workcells as USD stages (z-up, metres).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("import-splat", help="import a 3DGS .ply, .spz or .splat file as a Gaussian prim")
    p.add_argument("source", type=Path, help="the Gaussian file")
    p.add_argument("--stage", type=Path, required=True, help="twin root layer (created when missing)")
    p.add_argument("--prim", required=True, help="new prim path below /World, e.g. /World/Scene/Splat")
    p.add_argument("--up-axis", default="z", help="the source's up axis: x, y, z, -x, -y, -z (default z: as is)")
    p.add_argument("--scale", type=_number, default=1.0, help="metres per source unit (default 1)")

    p = verbs.add_parser("import-mesh", help="import a mesh (obj, ply, glb, stl) as static scenery or a rigid body")
    p.add_argument("source", type=Path, help="the mesh file")
    p.add_argument("--stage", type=Path, required=True, help="twin root layer (created when missing)")
    p.add_argument("--prim", required=True, help="new prim path below /World")
    p.add_argument("--dynamic", action="store_true", help="a rigid body with mass instead of static scenery")
    p.add_argument("--material", default="wood", help="physics material (friction, density); see docs/formats.md")
    p.add_argument("--mass", type=_number, default=None, help="mass in kg (default: volume x material density prior)")
    p.add_argument("--up-axis", default="z", help="the source's up axis (default z: as is)")
    p.add_argument("--scale", type=_number, default=1.0, help="metres per source unit (default 1)")
    p.add_argument("--approximation", default=None, help="collision approximation (none, convexHull, ...)")

    p = verbs.add_parser("export-splat", help="write a Gaussian prim of a twin to .ply, .spz or .splat")
    p.add_argument("stage", type=Path)
    p.add_argument("prim")
    p.add_argument("out", type=Path)
    p.add_argument("--frame", choices=("world", "local"), default="world", help="apply the prim's transform or not")

    p = verbs.add_parser("inspect", help="describe a twin: layers, splats, meshes, bodies, masses, frame transform")
    p.add_argument("stage", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--validate", action="store_true", help="also run OpenUSD's validators")

    p = verbs.add_parser("align", help="unify the frame: up axis, metric scale, gravity from the table, origin")
    p.add_argument("--stage", type=Path, required=True)
    p.add_argument("--up-axis", default="z", help="the twin content's current up axis (default z: no change)")
    p.add_argument(
        "--scale-from",
        nargs=3,
        metavar=("P1", "P2", "METRES"),
        help="two points X,Y,Z (current frame) and their real distance in metres",
    )
    p.add_argument("--table", default=None, help="'auto' (fit the table plane to all content) or a prim path")
    p.add_argument("--table-height", type=_number, default=0.0, help="table-top z before the origin shift, metres")
    p.add_argument("--origin", type=_point, default=None, metavar="X,Y,Z", help="point that becomes the origin")
    p.add_argument("--invert", action="store_true", help="undo the recorded alignment")

    p = verbs.add_parser("demo", help="build the sample twin from usd_assets/ and write a report")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("overrides", nargs="*", help="hydra overrides of config/demo.yaml, e.g. table=auto")
    return parser


def _scale_from(values: Sequence[str] | None) -> Any:
    if values is None:
        return None
    try:
        metres = float(values[2])
        return (_point(values[0]), _point(values[1]), metres)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise InputError("--scale-from", f"expected P1 P2 METRES as X,Y,Z X,Y,Z number: {exc}") from None


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console  # noqa: PLC0415

    from splattwin import pipelines  # noqa: PLC0415

    console = Console()
    if args.verb == "import-splat":
        result = pipelines.import_splat(
            pipelines.ImportSplatConfig(
                source=args.source, stage=args.stage, prim=args.prim, up_axis=args.up_axis, scale=args.scale
            )
        )
        console.print(
            f"imported {result.count} Gaussians (SH degree {result.sh_degree}) into {result.prim} "
            f"[{result.layer} layer] of {args.stage}"
        )
    elif args.verb == "import-mesh":
        result = pipelines.import_mesh(
            pipelines.ImportMeshConfig(
                source=args.source,
                stage=args.stage,
                prim=args.prim,
                dynamic=args.dynamic,
                material=args.material,
                mass=args.mass,
                up_axis=args.up_axis,
                scale=args.scale,
                approximation=args.approximation,
            )
        )
        what = f"rigid body, {result.mass_kg:.4g} kg ({result.mass_kind})" if result.dynamic else "static collider"
        report = result.report
        console.print(
            f"imported {args.source} as {what} at {result.prim} [{result.layer} layer]: "
            f"{report['faces_after']} faces, watertight={report['watertight']}, volume={report['volume_m3']}"
        )
    elif args.verb == "export-splat":
        count = pipelines.export_splat(
            pipelines.ExportSplatConfig(stage=args.stage, prim=args.prim, out=args.out, frame=args.frame)
        )
        console.print(f"wrote {count} Gaussians to {args.out}")
    elif args.verb == "inspect":
        from splattwin.reporting import print_description  # noqa: PLC0415
        from splattwin.usd import describe_twin, open_twin, validate_stage  # noqa: PLC0415

        twin = open_twin(args.stage)
        description = describe_twin(twin)
        issues = validate_stage(twin.stage) if args.validate else None
        if args.json:
            if issues is not None:
                description["validation"] = [issue.__dict__ for issue in issues]
            print(json.dumps(description, indent=2, default=str))
        else:
            print_description(description, issues, console=console)
        if issues and any(issue.severity == "Error" for issue in issues):
            return 1
    elif args.verb == "align":
        result = pipelines.align_twin(
            pipelines.AlignConfig(
                stage=args.stage,
                up_axis=args.up_axis,
                scale_from=_scale_from(args.scale_from),
                table=args.table,
                table_height=args.table_height,
                origin=args.origin,
                invert=args.invert,
            )
        )
        steps = ", ".join(step["name"] for step in result.record["steps"])
        console.print(
            f"aligned {len(result.prims)} prims ({steps}); scale {result.applied.scale:.6g}, "
            f"composed scale {result.total.scale:.6g}"
        )
    elif args.verb == "demo":
        from splattwin.pipelines.demo import run_demo_from_cli  # noqa: PLC0415

        report = run_demo_from_cli(args.out, args.overrides, console=console)
        console.print(f"report: {report}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 validation errors found, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from rich.logging import RichHandler  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(show_path=False, console=None)],
    )
    try:
        return _run(args)
    except SplatTwinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
