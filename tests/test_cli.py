"""The ``splattwin`` command line: verbs, exit codes, one-line errors naming the file, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import file_bytes, random_gaussians

from splattwin.cli import main
from splattwin.io import read_gaussians, write_gaussians


def test_help_lists_the_verbs() -> None:
    result = subprocess.run([sys.executable, "-m", "splattwin", "--help"], capture_output=True, text=True, check=True)
    for verb in ("import-splat", "import-mesh", "export-splat", "inspect", "align", "demo"):
        assert verb in result.stdout


def test_import_inspect_export_round_trip(tmp_path: Path, box_obj: Path, capsys) -> None:
    write_gaussians(tmp_path / "in.ply", random_gaussians(150, degree=2))
    stage = str(tmp_path / "twin.usda")
    assert main(["import-splat", str(tmp_path / "in.ply"), "--stage", stage, "--prim", "/World/Scene/Splat"]) == 0
    assert (
        main(
            [
                "import-mesh",
                str(box_obj),
                "--stage",
                stage,
                "--prim",
                "/World/Objects/Box",
                "--dynamic",
                "--material",
                "steel",
            ]
        )
        == 0
    )
    assert main(["export-splat", stage, "/World/Scene/Splat", str(tmp_path / "out.ply")]) == 0
    original, exported = read_gaussians(tmp_path / "in.ply"), read_gaussians(tmp_path / "out.ply")
    np.testing.assert_allclose(exported.means, original.means, atol=1e-7)
    np.testing.assert_allclose(exported.sh, original.sh, atol=1e-6)
    capsys.readouterr()
    assert main(["inspect", stage, "--json", "--validate"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert [s["count"] for s in described["splats"]] == [150]
    (body,) = described["bodies"]
    assert body["mass_kg"] == pytest.approx(0.1 * 0.06 * 0.05 * 7850, rel=1e-5)  # steel prior
    assert body["mass_provenance"]["kind"] == "prior"
    assert [layer["name"] for layer in described["layers"]] == ["trajectories", "physics", "robot", "objects", "scene"]
    assert not [f for f in described["validation"] if f["severity"] == "Error"]
    assert main(["inspect", stage]) == 0  # the rich tables render
    assert "rigid bodies" in capsys.readouterr().out


def _truncated_ply(path: Path) -> None:
    write_gaussians(path, random_gaussians(50))
    path.write_bytes(path.read_bytes()[:-100])


def _nan_ply(path: Path) -> None:
    g = random_gaussians(50)
    g.means[7, 1] = np.nan
    header = (
        "ply\nformat binary_little_endian 1.0\nelement vertex 50\n"
        + "".join(
            f"property float {n}\n"
            for n in (
                "x",
                "y",
                "z",
                "f_dc_0",
                "f_dc_1",
                "f_dc_2",
                "opacity",
                "scale_0",
                "scale_1",
                "scale_2",
                "rot_0",
                "rot_1",
                "rot_2",
                "rot_3",
            )
        )
        + "end_header\n"
    )
    body = np.concatenate([g.means, g.sh[:, 0], np.zeros((50, 1)), np.log(g.scales), g.quats_wxyz], axis=1)
    path.write_bytes(header.encode() + body.astype("<f4").tobytes())


def _non_manifold_obj(path: Path) -> None:
    # Three triangles sharing the edge (0, 1): no surface does that.
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 -1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 2 5\n")


@pytest.mark.parametrize(
    ("make", "verb", "needle"),
    [
        (_truncated_ply, "import-splat", "truncated"),
        (_nan_ply, "import-splat", "NaN"),
        (_non_manifold_obj, "import-mesh", "non-manifold"),
        (lambda p: p.write_text(""), "import-mesh", ""),
    ],
    ids=["truncated-ply", "nan-ply", "non-manifold-mesh", "empty-mesh"],
)
def test_bad_input_exits_2_names_the_file_and_writes_nothing(tmp_path: Path, capsys, make, verb, needle) -> None:
    suffix = ".ply" if verb == "import-splat" else ".obj"
    source = tmp_path / f"bad{suffix}"
    make(source)
    before = file_bytes(tmp_path)
    code = main([verb, str(source), "--stage", str(tmp_path / "twin.usda"), "--prim", "/World/Scene/X"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and source.name in err and needle in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert file_bytes(tmp_path) == before  # no stage created


def test_bad_arguments_exit_nonzero(tmp_path: Path, box_obj: Path, capsys) -> None:
    stage = str(tmp_path / "twin.usda")
    assert main(["import-mesh", str(box_obj), "--stage", stage, "--prim", "/World/B", "--mass", "-1", "--dynamic"]) == 2
    assert "--mass" in capsys.readouterr().err
    assert main(["import-mesh", str(box_obj), "--stage", stage, "--prim", "/World/B", "--material", "unobtanium"]) == 2
    assert "unobtanium" in capsys.readouterr().err
    assert main(["import-splat", str(box_obj), "--stage", stage, "--prim", "/World/S", "--up-axis", "w"]) == 2
    assert main(["align", "--stage", stage, "--origin", "1,2,3"]) == 2  # no such twin
    assert "no such" in capsys.readouterr().err
    assert not Path(stage).exists()
