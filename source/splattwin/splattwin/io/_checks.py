"""Validation at the file boundary, shared by every reader: valid values, and sizes checked before allocating.

Readers call :func:`check_declared_size` with what a header declares (counts x record sizes) against the bytes the
file really holds, and :func:`check_memory` with what they are about to allocate against :func:`memory_limit`,
*before* reserving any memory, so a corrupt count (``element vertex 1000000000`` in a 4 kB file) is one clear
:class:`~splattwin.errors.InputError` naming the file, the size needed and the limit, never a 100 GiB
allocation failure or an out-of-memory kill.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians

__all__ = [
    "MEMORY_LIMIT_ENV",
    "check_declared_size",
    "check_memory",
    "format_bytes",
    "memory_limit",
    "validate_for_writing",
    "validated_after_reading",
]

MEMORY_LIMIT_ENV = "SPLATTWIN_MEMORY_LIMIT"
"""Environment variable: the most bytes one reader may allocate (``8G``, ``512M``, ``1000000``); by default the
machine's physical memory (or the cgroup's limit, when lower)."""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNIT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def format_bytes(count: float) -> str:
    """``1.5 GiB``-style text for a byte count."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{int(count)} bytes"


def memory_limit() -> int | None:
    """The most bytes a reader may allocate: ``$SPLATTWIN_MEMORY_LIMIT``, else physical memory (cgroup-capped).

    Returns None where the platform does not tell (then only the checks against the file's size apply).

    Raises:
        InputError: the environment variable is set but is not a size such as ``8G`` or ``1000000``.
    """
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if text:
        match = _SIZE.match(text)
        if not match:
            raise InputError(f"${MEMORY_LIMIT_ENV}", f"must be a byte count such as 8G, 512M or 1000000, got {text!r}")
        return int(float(match.group(1)) * _UNIT[match.group(2).lower()])
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # not POSIX (Windows): no portable query without extra packages
        pass
    try:
        cgroup = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cgroup.isdigit():
            limits.append(int(cgroup))
    except OSError:
        pass
    return min(limits) if limits else None


def check_memory(path: Path, needed_bytes: int, what: str) -> None:
    """Refuse before allocating ``needed_bytes`` for ``what`` when that exceeds :func:`memory_limit`."""
    limit = memory_limit()
    if limit is not None and needed_bytes > limit:
        raise InputError(
            path,
            f"{what} would need {format_bytes(needed_bytes)} of memory, more than the limit of "
            f"{format_bytes(limit)} (this machine's memory, or ${MEMORY_LIMIT_ENV}); refused before allocating",
        )


def check_declared_size(path: Path, declared_bytes: int, available_bytes: int, what: str) -> None:
    """Refuse when a header declares more data (``what``, ``declared_bytes``) than the file holds."""
    if declared_bytes > available_bytes:
        raise InputError(
            path,
            f"truncated or corrupt: {what} need at least {declared_bytes} bytes ({format_bytes(declared_bytes)}) "
            f"but the file holds only {max(available_bytes, 0)} there",
        )


def validate_for_writing(gaussians: Gaussians, path: Path) -> None:
    """Refuse to write invalid Gaussians, naming the destination; nothing is created."""
    try:
        gaussians.validate()
    except InputError as exc:
        raise InputError(path, f"not written: the Gaussians are invalid: {exc.problem}") from None


LARGEST_PLAUSIBLE_M = 1e15
"""Largest |coordinate| or scale a file may hold [file units]: 1e15 (about a light-year in metres). Beyond it the
data are corrupt (a flipped exponent bit, a NaN-like pattern), and squares in float32 (extents, covariances)
would overflow to Inf downstream."""


def validated_after_reading(gaussians: Gaussians, path: Path) -> Gaussians:
    """Validate data read from ``path``, then normalise its quaternions in place (no copy of the big arrays).

    Besides :meth:`Gaussians.validate`, refuses coordinates or scales beyond :data:`LARGEST_PLAUSIBLE_M`.
    """
    with np.errstate(invalid="ignore", over="ignore"):  # signalling NaNs and huge sums: validate reports them
        gaussians.validate(path)
    for name in ("means", "scales"):
        values = getattr(gaussians, name)
        if np.abs(values).max() > LARGEST_PLAUSIBLE_M:
            bad = (np.abs(values) > LARGEST_PLAUSIBLE_M).any(axis=1)
            raise InputError(
                path,
                f"{int(bad.sum())} Gaussian(s) have {name} beyond +-{LARGEST_PLAUSIBLE_M:g} (first at index "
                f"{int(np.flatnonzero(bad)[0])}: {values[np.flatnonzero(bad)[0]].tolist()}); the file is corrupt",
            )
    quats = gaussians.quats_wxyz
    # Dividing by the largest component first keeps the norm finite for components near float32's maximum (their
    # squares would overflow to Inf and the quaternion come out as zero); the direction is unchanged.
    quats /= np.abs(quats).max(axis=1, keepdims=True)
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    return gaussians
