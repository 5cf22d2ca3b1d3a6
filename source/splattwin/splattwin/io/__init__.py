"""Gaussian-splat files: 3DGS PLY, Niantic SPZ and antimatter15 ``.splat``.

:func:`read_gaussians` and :func:`write_gaussians` pick the format from the file suffix (case-insensitive).
Every reader returns validated :class:`~splattwin.gaussians.Gaussians` (linear scales and opacities, unit
quaternions (w, x, y, z)); every writer validates first and writes atomically (:func:`atomic_output`), so a
failed write leaves no file behind and never damages an existing one. Bad input raises
:class:`~splattwin.errors.InputError` naming the file and the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.io._atomic import atomic_output, check_new_outputs, json_text, write_json
from splattwin.io.ply import read_ply, write_ply
from splattwin.io.splat import read_splat, write_splat
from splattwin.io.spz import read_spz, write_spz

__all__ = [
    "GAUSSIAN_SUFFIXES",
    "atomic_output",
    "check_new_outputs",
    "json_text",
    "read_gaussians",
    "read_ply",
    "read_splat",
    "read_spz",
    "write_gaussians",
    "write_json",
    "write_ply",
    "write_splat",
    "write_spz",
]

_READERS: dict[str, Callable[[Path], Gaussians]] = {".ply": read_ply, ".spz": read_spz, ".splat": read_splat}
_WRITERS: dict[str, Callable[[Path, Gaussians], None]] = {
    ".ply": write_ply,
    ".spz": write_spz,
    ".splat": write_splat,
}

_Handler = TypeVar("_Handler")

GAUSSIAN_SUFFIXES: tuple[str, ...] = tuple(_READERS)
"""File suffixes :func:`read_gaussians` and :func:`write_gaussians` understand."""


def read_gaussians(path: str | Path) -> Gaussians:
    """Read Gaussians from a ``.ply``, ``.spz`` or ``.splat`` file, by suffix.

    Args:
        path: the file to read.

    Returns:
        Validated Gaussians (linear scales [m], opacities in [0, 1], unit quaternions (w, x, y, z), SH [N, K, 3])
        in the frame and units of the file.

    Raises:
        InputError: an unsupported suffix, or any problem the format's reader reports.
    """
    path = Path(path)
    return _pick(_READERS, path, "read")(path)


def write_gaussians(path: str | Path, gaussians: Gaussians) -> None:
    """Write Gaussians to a ``.ply``, ``.spz`` or ``.splat`` file, by suffix, atomically.

    ``.spz`` and ``.splat`` are lossy (``.splat`` keeps only the DC colour); ``.ply`` keeps float32 values.

    Args:
        path: the destination file.
        gaussians: the Gaussians to write.

    Raises:
        InputError: an unsupported suffix, invalid Gaussians, or a destination that cannot be written.
    """
    path = Path(path)
    _pick(_WRITERS, path, "write")(path, gaussians)


def _pick(handlers: dict[str, _Handler], path: Path, verb: str) -> _Handler:
    handler = handlers.get(path.suffix.lower())
    if handler is None:
        suffix = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise InputError(path, f"cannot {verb} Gaussians: {suffix}; supported: {', '.join(GAUSSIAN_SUFFIXES)}")
    return handler
