"""A private virtual environment holding NVIDIA's ``usd-convert-gsplat`` CLI, the baseline of the PLY -> USD bench.

Not run directly: ``bench/bench_ply_to_usd.py`` calls :func:`ensure_baseline_env`. The baseline pins
``numpy==2.3.1`` and needs ``usd-core``, whose ``pxr`` clashes with the ``usd-exchange`` one in the project's
environment, so it lives in its own venv under ``bench/.cache/`` (git-ignored), made once and reused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BASELINE_REQUIREMENT", "BaselineEnv", "ensure_baseline_env"]

BASELINE_REQUIREMENT = "usd-convert-gsplat[usd]"
"""What ``pip install`` gets into the baseline venv (the ``usd`` extra brings ``usd-core``)."""

_CLI_NAME = "usd-convert-gsplat"
_READY_MARKER = "baseline-ready.json"


@dataclass(frozen=True)
class BaselineEnv:
    """The baseline's venv.

    Attributes:
        venv: the venv folder.
        cli: the ``usd-convert-gsplat`` executable inside it.
        versions: installed distribution name -> version (from ``pip``), for the report.
        how: one line saying whether it was created now or reused, and with which commands.
    """

    venv: Path
    cli: Path
    versions: dict[str, str]
    how: str


def _pip_versions(python: Path) -> dict[str, str]:
    listing = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    )
    return {item["name"]: item["version"] for item in json.loads(listing.stdout)}


def ensure_baseline_env(cache: Path, *, log: Callable[[str], None] = print) -> BaselineEnv:
    """Create (or reuse) ``cache/baseline-venv`` with the baseline CLI installed.

    Args:
        cache: the bench's cache folder.
        log: where to report the setup commands (they take a minute the first time).

    Raises:
        RuntimeError: ``venv`` or ``pip install`` failed (for instance without access to PyPI); the message
            holds pip's last output lines.
    """
    venv = cache / "baseline-venv"
    python = venv / "bin" / "python"
    cli = venv / "bin" / _CLI_NAME
    marker = venv / _READY_MARKER
    if marker.is_file() and cli.is_file():
        versions = json.loads(marker.read_text())
        return BaselineEnv(venv, cli, versions, f"reused {venv} (made earlier by this script)")

    commands = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", BASELINE_REQUIREMENT],
    ]
    for command in commands:
        log("$ " + " ".join(command))
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"baseline setup failed ({' '.join(command)}):\n{tail}")
    if not cli.is_file():
        raise RuntimeError(f"baseline setup: {cli} missing after pip install {BASELINE_REQUIREMENT}")
    versions = _pip_versions(python)
    marker.write_text(json.dumps(versions, indent=2))
    how = f"created {venv}: python -m venv, then pip install '{BASELINE_REQUIREMENT}'"
    return BaselineEnv(venv, cli, versions, how)
