"""usd_assets/make_robot_splat.py: deterministic, and the robot stands on the sample's table where the truth says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pybullet_data")

from splattwin.io import read_gaussians  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _run(out: Path, seed: int) -> None:
    script = ROOT / "usd_assets" / "make_robot_splat.py"
    subprocess.run(
        [sys.executable, str(script), "--out", str(out), "--gaussians", "3000", "--seed", str(seed)],
        check=True,
        capture_output=True,
    )


@pytest.mark.slow
def test_robot_splat_is_seeded_and_on_the_table(tmp_path: Path) -> None:
    _run(tmp_path / "a.ply", 1)
    _run(tmp_path / "b.ply", 1)
    _run(tmp_path / "c.ply", 2)
    assert (tmp_path / "a.ply").read_bytes() == (tmp_path / "b.ply").read_bytes()
    assert (tmp_path / "a.ply").read_bytes() != (tmp_path / "c.ply").read_bytes()
    truth = json.loads((ROOT / "usd_assets" / "tabletop" / "capture.json").read_text())["truth"]
    recon = truth["recon_from_world"]
    means = read_gaussians(tmp_path / "a.ply").means.astype(np.float64)
    world = (means - np.array(recon["translation"])) @ np.array(recon["rotation"]) / recon["scale"]
    base = np.array(truth["robot_base"])
    # a Panda at the base: nothing below the table top, nothing farther than its reach, up to ~1.1 m tall
    assert world[:, 2].min() > base[2] - 0.005
    assert np.linalg.norm(world - base, axis=1).max() < 1.3
    assert world[:, 2].max() - base[2] > 0.5
    # the arm leans over the table (+x of the base), not behind it (the wall side)
    assert np.median(world[:, 0] - base[0]) > 0.0
