"""Atomic file output: a file is either written whole or not at all, and only with consent over an old one.

Every writer in SplatTwin (Gaussian files here, USD layers elsewhere) writes into a temporary file in the
destination's folder and renames it over the destination only once the content is complete and on disk, so a
crash, a full disk or a bad input never leaves a half-written or truncated file where a good one used to be.

Consent: a verb that writes a file the user named refuses an existing one unless told (``--force``):
:func:`check_new_outputs`, one rule and one message for every verb.

Interrupts (Ctrl-C): the command line calls :func:`note_interrupt` from its SIGINT handler. A rename of
:func:`atomic_output` never happens after an interrupt, even when the ``KeyboardInterrupt`` itself was swallowed
by a native library on the way (OpenUSD's C++ catches Python errors raised inside its callbacks and goes on), so
an interrupted edit ends with the old files; :func:`written_files` tells what was completed before it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from splattwin.errors import InputError

__all__ = [
    "atomic_output",
    "check_new_outputs",
    "interrupted",
    "json_text",
    "note_interrupt",
    "raise_if_interrupted",
    "reset_interrupt_state",
    "write_json",
    "written_files",
]

# Process-wide, set by the command line's SIGINT handler: whether Ctrl-C was pressed, and the files renamed into
# place since the command started (what an interrupted command kept: the first few, and how many in all, so a
# long-lived process such as Kit does not collect every path it ever wrote).
_interrupt = {"noted": False, "written": 0}
_written: list[Path] = []
_WRITTEN_KEPT = 16


def note_interrupt() -> None:
    """Record that the user interrupted the process (the SIGINT handler calls this before raising)."""
    _interrupt["noted"] = True


def interrupted() -> bool:
    """Whether an interrupt was noted since :func:`reset_interrupt_state`."""
    return _interrupt["noted"]


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if an interrupt was noted (it may have been swallowed on its way up)."""
    if _interrupt["noted"]:
        raise KeyboardInterrupt


def reset_interrupt_state() -> None:
    """Forget earlier interrupts and written files (the command line calls it as a command starts)."""
    _interrupt["noted"] = False
    _interrupt["written"] = 0
    _written.clear()


def written_files() -> tuple[list[Path], int]:
    """Files :func:`atomic_output` renamed into place since :func:`reset_interrupt_state`: the first ones (at most
    16, in order) and how many in all."""
    return list(_written), _interrupt["written"]


def check_new_outputs(*paths: str | Path, force: bool, flag: str = "--force") -> None:
    """Refuse to replace existing files or folders the user named as outputs, unless ``force``.

    Called before any work, so a refusal costs nothing and writes nothing.

    Raises:
        InputError: the first of ``paths`` that exists, with how to give consent.
    """
    if force:
        return
    for path in paths:
        if Path(path).exists():
            raise InputError(path, f"exists; give {flag} to overwrite it")


# Same default permissions a plain open(path, "w") would give (the process umask still applies).
_NEW_FILE_MODE = 0o666


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Write ``path`` atomically: yield a temporary path to write to, then rename it over ``path``.

    The temporary file is created (empty) in the destination's folder, so the final ``os.replace`` is an
    atomic rename on the same file system, and its suffix equals the destination's (``scene.usdc`` gets
    ``.scene.usdc.<random>.usdc``) so libraries that pick a format from the extension still work. When the
    ``with`` block finishes, the file is flushed to disk (``fsync``) and renamed over ``path``; an existing
    destination keeps its permission bits. If the block raises (anything, including ``KeyboardInterrupt``),
    the temporary file is removed, the destination is left untouched and the exception propagates.

    Args:
        path: the destination file.

    Yields:
        The temporary path to write the content to.

    Raises:
        InputError: the destination's folder does not exist, the destination is a folder, or the
            temporary file cannot be created there (e.g. no write permission).
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise InputError(path, f"cannot write: folder {folder} does not exist")
    if path.is_dir():
        raise InputError(path, "cannot write: it is an existing folder")
    temporary = folder / f".{path.name}.{secrets.token_hex(4)}{path.suffix}"
    try:
        # O_EXCL: never reuse (or follow a link at) a name someone else created.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _NEW_FILE_MODE)
    except OSError as exc:
        raise InputError(path, f"cannot write: cannot create a file in {folder}: {exc.strerror}") from exc
    os.close(descriptor)
    try:
        if path.is_file():
            os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
        yield temporary
        raise_if_interrupted()  # an interrupt swallowed while the content was made: keep the old file
        _fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _interrupt["written"] += 1
    if len(_written) < _WRITTEN_KEPT:
        _written.append(path)
    _fsync_folder(folder)


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented, strictly valid JSON, atomically.

    NaN and infinities (e.g. a mean return before any episode ended) become ``null``, which every JSON parser
    reads; Python's ``json`` would write ``NaN``, which is not JSON. NumPy scalars and arrays become numbers and
    lists, paths and other objects their ``str``.
    """
    with atomic_output(path) as temporary:
        temporary.write_text(json_text(data) + "\n")


def json_text(data: Any) -> str:
    """``data`` as indented, strictly valid JSON text (what :func:`write_json` writes): non-finite floats -> null."""
    return json.dumps(_json_safe(data), indent=2, allow_nan=False)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    tolist = getattr(value, "tolist", None)  # NumPy scalars and arrays (without importing NumPy here)
    if callable(tolist):
        return _json_safe(tolist())
    return str(value)


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable. Best effort: some platforms and file systems cannot open or sync folders.
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
