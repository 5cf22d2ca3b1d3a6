"""The ``splattwin`` command line (also ``python -m splattwin``): one module per verb, kebab-case flags.

Each verb lives in its own module here with two functions: ``add_parser(verbs)`` declares its flags and
``run(args, console) -> int`` calls its pipeline. Verb modules import only ``argparse`` at module level, so
``splattwin --help`` and a verb's own start-up pay only for what that verb uses. A new verb is a new module
plus one entry in :data:`VERB_MODULES`.

Every error a user can cause is a :class:`~splattwin.errors.SplatTwinError`; it is printed as one
``error: <file>: <problem>`` line on stderr with exit code 2, and nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from splattwin.errors import SplatTwinError

__all__ = ["EXIT_USAGE", "VERB_MODULES", "build_parser", "main"]

EXIT_USAGE = 2

VERB_MODULES = (
    "import_splat",
    "import_mesh",
    "export_splat",
    "inspect",
    "align",
    "demo",
    "train",
    "play",
)
"""Modules of :mod:`splattwin.cli`, one per verb, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every verb; each sub-parser's ``run`` default is its verb's runner."""
    parser = argparse.ArgumentParser(
        prog="splattwin",
        description="Build Gaussian-splat digital twins of robot workcells as USD stages (z-up, metres).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for name in VERB_MODULES:
        module = importlib.import_module(f"splattwin.cli.{name}")
        sub = module.add_parser(verbs)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 validation errors found, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from rich.console import Console  # noqa: PLC0415
    from rich.logging import RichHandler  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(show_path=False, console=None)],
    )
    try:
        return args.run(args, Console())
    except SplatTwinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
