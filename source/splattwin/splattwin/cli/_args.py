"""Argument types shared by the verbs: points, numbers, the ``--scale-from`` triple."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from splattwin.errors import InputError

__all__ = [
    "add_collider_flags",
    "add_import_frame_flags",
    "import_frame_options",
    "number",
    "point",
    "scale_from",
    "table_option",
]


def point(text: str) -> tuple[float, float, float]:
    """A point given as ``X,Y,Z``."""
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,Z numbers, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected 3 comma-separated numbers X,Y,Z, got {text!r}")
    return values  # type: ignore[return-value]


def number(text: str) -> float:
    """A float (finiteness is the pipelines' check, so the error can name the flag's meaning)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return value


def table_option(value: str) -> str | float:
    """``--table``: ``auto``, ``none`` or a height in metres."""
    if value in ("auto", "none"):
        return value
    try:
        return float(value)
    except ValueError:
        raise InputError("--table", f"must be auto, none or a height in metres, got {value!r}") from None


def scale_from(
    values: Sequence[str] | None,
) -> tuple[tuple[float, float, float], tuple[float, float, float], float] | None:
    """``--scale-from P1 P2 METRES`` as two points and a distance."""
    if values is None:
        return None
    try:
        metres = float(values[2])
        return (point(values[0]), point(values[1]), metres)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise InputError("--scale-from", f"expected P1 P2 METRES as X,Y,Z X,Y,Z number: {exc}") from None


def add_import_frame_flags(parser: argparse.ArgumentParser, *, force_help: str | None = None) -> None:
    """The flags every import verb shares: the source's frame (docs/frames.md), --replace and --force."""
    parser.add_argument("--up-axis", default="z", help="the source's up axis: x, y, z, -x, -y, -z (default z: as is)")
    parser.add_argument("--scale", type=number, default=1.0, help="metres per source unit (default 1)")
    parser.add_argument(
        "--metric",
        action="store_true",
        help="the source is already z-up metres: into an aligned twin, do not apply the recorded alignment",
    )
    parser.add_argument("--replace", action="store_true", help="replace the prim at --prim if it exists")
    parser.add_argument("--from-prim", default=None, help="USD source: the prim to import (default: the only one)")
    parser.add_argument(
        "--force", action="store_true", help=force_help or "with --replace, also remove a person's root-layer edits"
    )


def import_frame_options(args: argparse.Namespace) -> dict[str, object]:
    """The import configs' keyword arguments for the flags of :func:`add_import_frame_flags`."""
    return {
        "up_axis": args.up_axis,
        "scale": args.scale,
        "metric": args.metric,
        "replace": args.replace,
        "force": args.force,
        "from_prim": args.from_prim,
    }


def add_collider_flags(parser: argparse.ArgumentParser) -> None:
    """``--collider hull|decompose [--max-parts N] [--threshold T]``: a dynamic body's colliders (docs/surfaces.md)."""
    parser.add_argument(
        "--collider",
        choices=("hull", "decompose"),
        default="hull",
        help="a --dynamic body's colliders: its convex hull, or convex parts by CoACD (an L, a T, a mug)",
    )
    parser.add_argument(
        "--max-parts", type=int, default=32, help="with --collider decompose: the part budget (more: refused)"
    )
    parser.add_argument(
        "--threshold",
        type=number,
        default=0.05,
        help="with --collider decompose: CoACD's concavity threshold in (0, 1] (smaller: closer fit, more parts)",
    )
