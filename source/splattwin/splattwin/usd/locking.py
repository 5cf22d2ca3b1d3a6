"""The twin's edit lock: one writer at a time per twin, across processes, on Linux and Windows.

Every edit of a twin (``edit_twin``, ``TwinStage.save``) holds an inter-process lock on ``<root>.lock`` next to
the twin's root layer while it reads, changes and writes the layers, so concurrent writers serialise instead of
the last one silently winning. The lock is `filelock <https://py-filelock.readthedocs.io>`_'s OS lock (``flock``
on POSIX, ``LockFileEx`` on Windows): the kernel releases it when the holding process dies, even by SIGKILL, so a
crashed writer never leaves a stuck lock behind and there is no stale-lock timeout to tune.

The lock file exists only while an edit is in progress. Who holds the lock is written to a small sidecar
``<root>.lock.info`` (JSON: pid, host, command, since) right after acquiring and removed right before releasing.
A process killed while holding leaves that sidecar behind; waiters therefore report it as *stale* when its pid is
no longer running on this host, and the next holder overwrites it. The sidecar is informational only: the OS
lock alone decides who may write.

Within one process the lock is re-entrant per thread (``TwinStage.save`` inside ``edit_twin`` takes it again);
different threads serialise like different processes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from splattwin.errors import StageError

__all__ = [
    "DEFAULT_LOCK_TIMEOUT_S",
    "LOCK_TIMEOUT_ENV",
    "LockHolder",
    "lock_path",
    "lock_timeout_s",
    "is_held",
    "read_holder",
    "twin_lock",
]

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_ENV = "SPLATTWIN_LOCK_TIMEOUT"
"""Environment variable: seconds to wait for another process's edit of the same twin (default
:data:`DEFAULT_LOCK_TIMEOUT_S`; 0 gives up at once when the twin is busy)."""

DEFAULT_LOCK_TIMEOUT_S = 300.0
"""Long enough for another import of a few million Gaussians to finish on a laptop."""

_POLL_INTERVAL_S = 0.01
"""How often a waiter retries the OS lock; small, because edits of small twins take tens of milliseconds."""

_COMMAND_CHARS = 200

_held = threading.local()  # per thread: lock file -> (FileLock, depth)


@dataclass(frozen=True)
class LockHolder:
    """What a lock's sidecar says about its holder."""

    pid: int
    host: str
    command: str
    since: str

    def running(self) -> bool | None:
        """Whether the holder process still runs: None when that cannot be told (another host, Windows)."""
        if self.host != socket.gethostname() or sys.platform == "win32":
            # os.kill(pid, 0) on Windows would terminate the process, not probe it.
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, owned by someone else
            return True
        return True

    def describe(self) -> str:
        """``pid 123 on host h ('splattwin import-splat ...', since 2026-...)`` plus a staleness note."""
        text = f"pid {self.pid} on host {self.host} ({self.command!r}, since {self.since})"
        if self.running() is False:
            text += " - that process is gone, so this record is stale; the current holder has not identified itself"
        return text


def lock_path(root: str | Path) -> Path:
    """The lock file of the twin whose root layer is ``root``: ``twin.usda`` -> ``twin.usda.lock``."""
    root = Path(root)
    return root.with_name(f"{root.name}.lock")


def _info_path(lock: Path) -> Path:
    return lock.with_name(f"{lock.name}.info")


def lock_timeout_s(timeout_s: float | None = None) -> float:
    """The timeout in force [s]: ``timeout_s`` if given, else ``$SPLATTWIN_LOCK_TIMEOUT``, else the default.

    Raises:
        StageError: the value is not a finite number of seconds >= 0.
    """
    if timeout_s is not None:
        source, text = "lock_timeout", str(timeout_s)
    else:
        source, text = f"${LOCK_TIMEOUT_ENV}", os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
        if not text:
            return DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise StageError(source, f"must be a finite number of seconds >= 0, got {text!r}")
    return value


def read_holder(root: str | Path) -> LockHolder | None:
    """The holder recorded in the twin's lock sidecar, or None when there is none or it is unreadable."""
    try:
        data = json.loads(_info_path(lock_path(root)).read_text(encoding="utf-8"))
        return LockHolder(
            pid=int(data["pid"]), host=str(data["host"]), command=str(data["command"]), since=data["since"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_holder(lock: Path) -> None:
    command = " ".join([Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]])
    data = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command[:_COMMAND_CHARS],
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    info = _info_path(lock)
    temporary = info.with_name(f"{info.name}.{os.getpid()}.tmp")
    # Best effort: the sidecar only helps waiters explain the wait; failing to write it must not fail the edit.
    with contextlib.suppress(OSError):
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, info)
    with contextlib.suppress(OSError):
        temporary.unlink(missing_ok=True)


def _holding() -> dict[str, list]:
    if not hasattr(_held, "locks"):
        _held.locks = {}
    return _held.locks


def is_held(root: str | Path) -> bool:
    """Whether the calling thread holds the edit lock of this twin."""
    return str(lock_path(Path(root).resolve())) in _holding()


@contextlib.contextmanager
def twin_lock(root: str | Path, *, timeout_s: float | None = None) -> Iterator[Path]:
    """Hold the edit lock of the twin at ``root`` for the ``with`` block.

    Waits up to ``timeout_s`` (see :func:`lock_timeout_s`) for another holder, logging once (warning level) who
    that is. Re-entrant in the same thread.

    Args:
        root: the twin's root layer file (need not exist yet; its folder must).
        timeout_s: seconds to wait; None reads ``$SPLATTWIN_LOCK_TIMEOUT`` (default 300 s).

    Yields:
        The lock file.

    Raises:
        StageError: the lock was not free within the timeout (naming the holder), or the lock file cannot be
            created (read-only file system, no permission).
    """
    from filelock import FileLock, Timeout  # noqa: PLC0415 - only edits need it

    lock = lock_path(Path(root).resolve())
    key = str(lock)
    holding = _holding()
    if key in holding:  # re-entry from the same thread (save() inside edit_twin)
        holding[key][1] += 1
        try:
            yield lock
        finally:
            holding[key][1] -= 1
        return

    wait = lock_timeout_s(timeout_s)
    file_lock = FileLock(lock, thread_local=False)  # one object per acquisition; threads get their own
    try:
        try:
            file_lock.acquire(timeout=0)
        except Timeout:
            holder = read_holder(root)
            who = holder.describe() if holder else "a process that has not identified itself"
            logger.warning("waiting up to %.0f s for the edit lock of %s, held by %s", wait, root, who)
            started = time.monotonic()
            try:
                file_lock.acquire(timeout=wait, poll_interval=_POLL_INTERVAL_S)
            except Timeout:
                holder = read_holder(root) or holder
                who = holder.describe() if holder else "a process that has not identified itself"
                raise StageError(
                    root,
                    f"another edit of this twin is in progress (lock {lock} held by {who}); gave up after "
                    f"{time.monotonic() - started:.1f} s (set ${LOCK_TIMEOUT_ENV} or lock_timeout to wait longer)",
                ) from None
    except OSError as exc:
        raise StageError(
            root, f"cannot take the edit lock {lock}: {exc.strerror or exc} (is the folder writable?)"
        ) from exc
    holding[key] = [file_lock, 1]
    try:
        _write_holder(lock)
        yield lock
    finally:
        del holding[key]
        with contextlib.suppress(OSError):
            _info_path(lock).unlink(missing_ok=True)
        # No lock file outlives the edit (Windows' filelock deletes it anyway). Safe while holding: a waiter that
        # opened this inode finds it nameless once it gets the lock (filelock checks st_nlink) and starts over.
        with contextlib.suppress(OSError):
            lock.unlink(missing_ok=True)
        file_lock.release()
