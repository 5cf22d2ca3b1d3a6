"""Errors raised on bad input.

Every error a user can cause names the file (or argument) and the problem, so the command line can print it and
exit non-zero without a traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["InputError", "Interrupted", "SplatTwinError", "StageError"]


class SplatTwinError(Exception):
    """Base class of the errors the command line reports as ``error: <message>`` with exit code 2."""


class InputError(SplatTwinError, ValueError):
    """Bad input data: a malformed or truncated file, NaN values, impossible parameters.

    Args:
        source: the file (or argument name) the problem is in.
        problem: what is wrong, with the offending value where that helps.
    """

    def __init__(self, source: str | Path | None, problem: str) -> None:
        self.source = None if source is None else str(source)
        self.problem = problem
        super().__init__(problem if source is None else f"{source}: {problem}")


class StageError(SplatTwinError):
    """A twin stage that cannot be opened or edited as asked (not USD, a clashing prim path, ...)."""

    def __init__(self, stage: str | Path, problem: str) -> None:
        self.stage = str(stage)
        self.problem = problem
        super().__init__(f"{stage}: {problem}")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying what the interrupted work kept, for the command line's one ``interrupted: ...`` line.

    A verb that keeps something useful when interrupted (training's checkpoints, the demo's marked folder)
    re-raises the ``KeyboardInterrupt`` as this; any other verb's interrupt is reported from the files written.

    Args:
        kept: what is left and how to go on, e.g. ``"checkpoints up to model_4.pt in runs/a; resume=true continues"``.
    """

    def __init__(self, kept: str) -> None:
        self.kept = kept
        super().__init__(kept)
