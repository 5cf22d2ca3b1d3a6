"""What the twin says about its frame: ``align`` prints the table fit, ``inspect`` shows the fit and every
imported prim's frame state (now in, imported into, import-time change, --metric)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from splattwin.cli import main

TILT_DEG = 5.0


@pytest.fixture
def tilted_floor(tmp_path: Path) -> Path:
    """A 2 x 2 x 0.02 m slab tilted 5 deg about x: 8.16 m^2 of surface, of which the top face (4 m^2) and the upper
    halves of the sides (8 m x 0.01 m, within the fit's 1 cm inlier band) are within reach of the table plane."""
    slab = trimesh.creation.box(extents=(2.0, 2.0, 0.02))
    slab.apply_transform(trimesh.transformations.rotation_matrix(np.radians(TILT_DEG), [1, 0, 0]))
    slab.export(tmp_path / "slab.obj")
    box = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
    box.apply_translation((0.3, 0.0, 0.5))
    box.export(tmp_path / "box.obj")
    return tmp_path


def test_align_prints_and_inspect_shows_the_table_fit_and_frame_states(tilted_floor: Path, capsys) -> None:
    stage = str(tilted_floor / "twin.usda")
    assert main(["import-mesh", str(tilted_floor / "slab.obj"), "--stage", stage, "--prim", "/World/Scene/Slab"]) == 0
    assert main(["align", "--stage", stage, "--table", "/World/Scene/Slab", "--table-height", "0.75"]) == 0
    out = capsys.readouterr().out
    printed = out.split("table plane: ")[1]
    assert float(printed.split(" deg of tilt corrected")[0]) == pytest.approx(TILT_DEG, abs=0.01)
    assert "fit RMSE" in printed and "inliers" in printed
    box = ["import-mesh", str(tilted_floor / "box.obj"), "--stage", stage, "--dynamic", "--metric"]
    assert main([*box, "--prim", "/World/Objects/Box"]) == 0
    assert "--metric: " in capsys.readouterr().out
    assert main(["inspect", stage, "--json"]) == 0
    description = json.loads(capsys.readouterr().out)
    fit = description["alignment"]["table_fit"]
    assert fit["tilt_deg"] == pytest.approx(TILT_DEG, abs=0.01)
    # Side samples spread evenly over the 1 cm band: RMSE about sqrt(0.08 / 4.08 * 0.01^2 / 3) = 0.8 mm at most.
    assert fit["rmse"] < 1e-3
    assert fit["inlier_fraction"] == pytest.approx(4.08 / 8.16, abs=0.01)
    assert fit["inliers"] == pytest.approx(fit["inlier_fraction"] * 20_000, abs=1)
    slab = next(m for m in description["meshes"] if m["prim"] == "/World/Scene/Slab")["frame"]
    assert (slab["state"], slab["imported_in"], slab["metric"]) == ("aligned", "reconstruction", False)
    body = next(b for b in description["bodies"] if b["prim"] == "/World/Objects/Box")
    assert (body["frame"]["state"], body["frame"]["imported_in"], body["frame"]["metric"]) == (
        "aligned",
        "aligned",
        True,
    )
    np.testing.assert_allclose(body["position"], [0.3, 0.0, 0.5], atol=1e-6)  # --metric: as given, not re-aligned
    assert main(["inspect", stage]) == 0
    text = capsys.readouterr().out
    assert "frame: aligned" in text and "deg corrected" in text and "inliers" in text
    assert "frame state of imported prims" in text
    assert main(["align", "--stage", stage, "--invert"]) == 0
    capsys.readouterr()
    assert main(["inspect", stage, "--json"]) == 0
    description = json.loads(capsys.readouterr().out)
    assert description["alignment"] is None
    assert {b["frame"]["state"] for b in description["bodies"]} == {"reconstruction"}
