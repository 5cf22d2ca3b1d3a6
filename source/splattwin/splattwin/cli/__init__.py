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
from typing import NoReturn

from splattwin.errors import SplatTwinError

__all__ = ["EXIT_USAGE", "VERB_MODULES", "build_parser", "main"]

EXIT_USAGE = 2

VERB_MODULES = (
    "import_splat",
    "import_mesh",
    "import_robot",
    "export_splat",
    "inspect",
    "align",
    "claim",
    "remove",
    "identify_mass",
    "render",
    "trajectory",
    "demo",
    "train",
    "play",
)
"""Modules of :mod:`splattwin.cli`, one per verb, in the order ``--help`` lists them."""


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``<prog>: error: ...`` line (and a pointer to --help), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every verb; each sub-parser's ``run`` default is its verb's runner."""
    import splattwin  # noqa: PLC0415

    parser = _OneLineParser(
        prog="splattwin",
        description="Build Gaussian-splat digital twins of robot workcells as USD stages (z-up, metres).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--version", action="version", version=f"splattwin {splattwin.__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True, parser_class=_OneLineParser)
    for name in VERB_MODULES:
        module = importlib.import_module(f"splattwin.cli.{name}")
        sub = module.add_parser(verbs)
        # -v after the verb too; SUPPRESS keeps a -v given before the verb when it is not repeated after it.
        sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress details")
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 validation errors found, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (one line, exit 2), --help and --version (exit 0)
        return int(exc.code or 0)
    from rich.console import Console  # noqa: PLC0415
    from rich.logging import RichHandler  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(show_path=False, console=None)],
    )
    try:
        return args.run(args, Console(soft_wrap=True))
    except SplatTwinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
