"""Atomic file output: a file is either written whole or not at all.

Every writer in SplatTwin (Gaussian files here, USD layers elsewhere) writes into a temporary file in the
destination's folder and renames it over the destination only once the content is complete and on disk, so a
crash, a full disk or a bad input never leaves a half-written or truncated file where a good one used to be.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from splattwin.errors import InputError

__all__ = ["atomic_output"]

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
        _fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


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
