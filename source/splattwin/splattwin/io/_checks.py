"""Validation at the file boundary, shared by every Gaussian format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians

__all__ = ["validate_for_writing", "validated_after_reading"]


def validate_for_writing(gaussians: Gaussians, path: Path) -> None:
    """Refuse to write invalid Gaussians, naming the destination; nothing is created."""
    try:
        gaussians.validate()
    except InputError as exc:
        raise InputError(path, f"not written: the Gaussians are invalid: {exc.problem}") from None


def validated_after_reading(gaussians: Gaussians, path: Path) -> Gaussians:
    """Validate data read from ``path``, then normalise its quaternions in place (no copy of the big arrays)."""
    gaussians.validate(path)
    gaussians.quats_wxyz /= np.linalg.norm(gaussians.quats_wxyz, axis=1, keepdims=True)
    return gaussians
