"""The ``splattwin`` command line (also ``python -m splattwin``): one module per verb, kebab-case flags.

Each verb lives in its own module here with two functions: ``add_parser(verbs)`` declares its flags and
``run(args, console) -> int`` calls its pipeline. Verb modules import only ``argparse`` at module level, so
``splattwin --help`` and a verb's own start-up pay only for what that verb uses. A new verb is a new module
plus one entry in :data:`VERB_MODULES`.

Every error a user can cause is a :class:`~splattwin.errors.SplatTwinError`; it is printed as one
``error: <file>: <problem>`` line on stderr with exit code 2, and nothing half-written is left behind. So is a
missing optional dependency (OpenUSD without the ``usd`` extra, pybullet without ``robots``): the line names the
extra to install.

Ctrl-C (SIGINT) is one ``interrupted: ...`` line on stderr saying what was kept (``nothing written``, the files
completed before it, or what the verb says it kept), exit code 130, and no traceback. Every write is atomic and
refuses to rename after an interrupt (:mod:`splattwin.io._atomic`), so the interrupted edit leaves the old files.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from splattwin.errors import Interrupted, SplatTwinError
from splattwin.io._atomic import interrupted, note_interrupt, reset_interrupt_state, written_files

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "OPTIONAL_EXTRAS", "VERB_MODULES", "build_parser", "main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
"""Ctrl-C: 128 + SIGINT, what shells report for a command killed by it."""
_LISTED_FILES = 3
_DEFER_S = 0.02  # how often a Ctrl-C that came during an import or a finalizer checks whether it is done

VERB_MODULES = (
    "import_splat",
    "import_mesh",
    "import_robot",
    "import_cameras",
    "export_splat",
    "inspect",
    "align",
    "claim",
    "extract_mesh",
    "remove",
    "identify_mass",
    "render",
    "trajectory",
    "demo",
    "train",
    "play",
    "estimate_pose",
    "reach_image",
    "fit_appearance",
    "track_object",
    "view",
    "grasp_train",
    "grasp_eval",
    "grasp_export",
    "grasp_study",
)
"""Modules of :mod:`splattwin.cli`, one per verb, in the order ``--help`` lists them."""

OPTIONAL_EXTRAS = {
    "pxr": "usd",
    "urdf_usd_converter": "usd",
    "pybullet": "robots",
    "pybullet_data": "robots",
    "skimage": "surfaces",
    "coacd": "decompose",
    "viser": "view",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "onnxscript": "onnx",
}
"""Top-level modules of the optional extras (``source/splattwin/pyproject.toml``) -> the extra providing them: a
verb that needs a missing one says which extra to install instead of ending in a traceback."""


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
        _add_verbose(sub)
        sub.set_defaults(run=module.run)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """``-v`` after the verb, and after a sub-verb (``trajectory export -v``), as well as before the verb.

    SUPPRESS keeps a ``-v`` given earlier when it is not repeated later (a sub-parser only sets what it saw).
    """
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress details")
    for action in parser._actions:  # noqa: SLF001 - argparse exposes sub-verbs only through this list
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                _add_verbose(sub)


@contextlib.contextmanager
def _sigint_noted() -> Iterator[None]:
    """While the command runs, Ctrl-C is noted (so a swallowed ``KeyboardInterrupt`` still stops every later
    write) before it raises as usual; the previous handlers come back afterwards (main() may run in-process)."""
    reset_interrupt_state()
    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread
        yield
        return
    can_defer = hasattr(signal, "setitimer")

    def raise_unless_swallowed(frame: Any) -> None:
        if can_defer and _swallowing(frame):
            # Raised inside an import, the KeyboardInterrupt can reach OpenUSD's module set-up, which prints it as
            # a warning with a traceback and swallows it; raised in a __del__, Python prints and ignores it (seen
            # in GitPython's, which rsl-rl uses): raise it as soon as that code is done instead.
            signal.setitimer(signal.ITIMER_REAL, _DEFER_S)
            return
        raise KeyboardInterrupt

    def on_sigint(signum: int, frame: Any) -> None:
        note_interrupt()
        raise_unless_swallowed(frame)

    def on_alarm(signum: int, frame: Any) -> None:
        if interrupted():
            raise_unless_swallowed(frame)

    previous = signal.signal(signal.SIGINT, on_sigint)
    previous_alarm = signal.signal(signal.SIGALRM, on_alarm) if can_defer else None
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if can_defer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_alarm)


def _swallowing(frame: Any) -> bool:
    """Whether the interrupted Python code runs where a ``KeyboardInterrupt`` would be printed and swallowed: inside
    an import (importlib's frames are on its stack) or a finalizer (``__del__``)."""
    while frame is not None:
        if frame.f_code.co_name == "__del__" or frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _interrupted_line(exc: BaseException | None) -> str:
    """The one ``interrupted: ...`` line: what the verb says it kept, else the files completed before Ctrl-C.

    ``exc`` None: the interrupt was swallowed and the command ran to its end (everything it wrote is whole).
    """
    if isinstance(exc, Interrupted):
        return f"interrupted: {exc.kept}"
    files, count = written_files()
    shown = ", ".join(str(p) for p in files[:_LISTED_FILES])
    if count > _LISTED_FILES:
        shown += f" and {count - _LISTED_FILES} more"
    if exc is None:
        return f"interrupted: the command had finished; it wrote {shown or 'nothing'}"
    if not count:
        return "interrupted: nothing written"
    return f"interrupted: kept {shown} (written whole before the interrupt); nothing else written"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 validation errors found, 2 bad input, 130 Ctrl-C)."""
    with _sigint_noted():
        try:
            code = _run(argv)
        except KeyboardInterrupt as exc:
            print(_interrupted_line(exc), file=sys.stderr)
            return EXIT_INTERRUPTED
        if interrupted():  # Ctrl-C swallowed by a native library after the last write: say so, do not exit 0
            print(_interrupted_line(None), file=sys.stderr)
            return EXIT_INTERRUPTED
        return code


def _run(argv: Sequence[str] | None) -> int:
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
    except ModuleNotFoundError as exc:
        extra = OPTIONAL_EXTRAS.get(str(exc.name).partition(".")[0])
        if extra is None:
            raise
        print(f"error: {exc.name}: not installed; the verb needs it: pip install 'splattwin[{extra}]'", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
