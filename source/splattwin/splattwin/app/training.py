"""A headless training run (``splattwin train task=... runtime=embedded ...``) as a subprocess, with its progress.

The panel starts the run, polls :meth:`TrainingRun.status` from its update loop and shows iteration / total and
the latest mean reward; Stop terminates the process. The command defaults to ``<this python> -m splattwin train``
(the verb comes from the Isaac Lab task package, ``tasks/``); ``command`` replaces the executable part, e.g. for
Isaac Sim's ``python.sh``.

Progress lines it understands (anywhere in a line, case-insensitive; everything else is kept as log text):

- ``iteration 12/1500`` or ``iteration: 12 / 1500`` or ``it 12/1500`` (rsl_rl prints ``Learning iteration 12/1500``)
- ``reward 3.25`` / ``mean reward: 3.25`` / ``Mean reward: 3.25``
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["TrainingProgress", "TrainingRun", "parse_progress_line", "training_command"]

_ITERATION = re.compile(r"\b(?:iteration|it)\s*:?\s*(\d+)\s*/\s*(\d+)", re.IGNORECASE)
_REWARD = re.compile(r"\breward\s*[:=]?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)", re.IGNORECASE)


@dataclass
class TrainingProgress:
    """What the panel shows: iteration / total, latest mean reward, whether it runs, its exit code, last lines."""

    iteration: int = 0
    total: int | None = None
    reward: float | None = None
    running: bool = False
    returncode: int | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        """Progress in [0, 1] for a progress bar (0 while the total is unknown)."""
        return min(1.0, self.iteration / self.total) if self.total else 0.0


def parse_progress_line(line: str, progress: TrainingProgress) -> bool:
    """Update ``progress`` from one output line; True when the line carried progress."""
    found = False
    if match := _ITERATION.search(line):
        progress.iteration, progress.total = int(match.group(1)), int(match.group(2))
        found = True
    if match := _REWARD.search(line):
        progress.reward = float(match.group(1))
        found = True
    return found


def training_command(
    task: str,
    *,
    overrides: Mapping[str, object] | None = None,
    command: Sequence[str] | None = None,
) -> list[str]:
    """``[python, -m, splattwin, train, task=<task>, runtime=embedded, key=value ...]`` (Hydra-style overrides)."""
    base = list(command) if command else [sys.executable, "-m", "splattwin"]
    args = [f"task={task}", "runtime=embedded"]
    args += [f"{key}={value}" for key, value in (overrides or {}).items()]
    return [*base, "train", *args]


class TrainingRun:
    """One training subprocess; its output is read on a thread, so :meth:`status` never blocks."""

    def __init__(self, argv: Sequence[str], *, cwd: str | None = None, keep_lines: int = 200) -> None:
        self.argv = list(argv)
        self._progress = TrainingProgress(running=True)
        self._lines: deque[str] = deque(maxlen=keep_lines)
        self._lock = threading.Lock()
        self._process = subprocess.Popen(  # noqa: S603 (the panel builds argv itself, no shell)
            self.argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self._reader = threading.Thread(target=self._read, name="splattwin-training-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.rstrip("\n")
            with self._lock:
                self._lines.append(line)
                parse_progress_line(line, self._progress)
        code = self._process.wait()
        with self._lock:
            self._progress.running = False
            self._progress.returncode = code

    def status(self) -> TrainingProgress:
        """A snapshot of the progress (safe to call from the UI thread every frame)."""
        with self._lock:
            snapshot = TrainingProgress(**{**self._progress.__dict__, "lines": list(self._lines)})
        return snapshot

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """Terminate the run (kill after ``timeout_s``); returns its exit code."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._reader.join(timeout=timeout_s)
        return self._process.returncode

    def wait(self, timeout_s: float | None = None) -> TrainingProgress:
        """Wait for the process to end and its output to be read; returns the final progress."""
        self._process.wait(timeout=timeout_s)
        self._reader.join(timeout=timeout_s)
        return self.status()
