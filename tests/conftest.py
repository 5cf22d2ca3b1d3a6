"""Shared fixtures: small Gaussian sets and meshes made in the test, never read from the code under test."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from splattwin.gaussians import Gaussians

# Property-based tests replay the same examples on every run (CI must not fail on a new random draw); the long,
# randomised search is bench/fuzz_readers.py. HYPOTHESIS_PROFILE=explore draws new examples locally.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def random_gaussians(n: int = 200, degree: int = 3, seed: int = 0) -> Gaussians:
    """Valid random Gaussians (unit quaternions, positive scales, opacities in (0, 1))."""
    rng = np.random.default_rng(seed)
    quats = rng.standard_normal((n, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    return Gaussians(
        means=rng.uniform(-1, 1, (n, 3)),
        quats_wxyz=quats,
        scales=rng.uniform(0.005, 0.05, (n, 3)),
        opacities=rng.uniform(0.05, 0.95, n),
        sh=rng.normal(0, 0.3, (n, (degree + 1) ** 2, 3)),
    )


@pytest.fixture
def gaussians() -> Gaussians:
    return random_gaussians()


@pytest.fixture
def box_obj(tmp_path: Path) -> Path:
    """A closed 0.10 x 0.06 x 0.05 m box centred at (0.3, 0.2, 0.025), written as OBJ."""
    import trimesh

    box = trimesh.creation.box(extents=(0.10, 0.06, 0.05))
    box.apply_translation((0.3, 0.2, 0.025))
    path = tmp_path / "box.obj"
    box.export(path)
    return path


def file_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its content, to prove what an operation did not touch."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
