"""Every error path of every verb: one line on stderr, exit code 2, the flag named as typed, nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from conftest import file_bytes, random_gaussians

from splattwin import __version__
from splattwin.cli import build_parser, main
from splattwin.io import write_gaussians


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> dict[str, Path]:
    """A folder with a splat, a box, an unaligned twin and an aligned twin (built through the CLI)."""
    root = tmp_path_factory.mktemp("cli_errors")
    splat = random_gaussians(200, degree=0, seed=2)
    write_gaussians(root / "splat.ply", splat)
    box = trimesh.creation.box(extents=(0.1, 0.06, 0.05))
    box.apply_translation((0.3, 0.2, 0.5))
    box.export(root / "box.obj")
    floor = trimesh.creation.box(extents=(2.0, 2.0, 0.02))
    floor.export(root / "floor.obj")
    for name in ("plain", "aligned"):
        stage = str(root / f"{name}.usda")
        assert main(["import-splat", str(root / "splat.ply"), "--stage", stage, "--prim", "/World/Scene/Splat"]) == 0
        assert main(["import-mesh", str(root / "floor.obj"), "--stage", stage, "--prim", "/World/Scene/Floor"]) == 0
        args = ["import-mesh", str(root / "box.obj"), "--stage", stage, "--prim", "/World/Objects/Box", "--dynamic"]
        assert main(args) == 0
    aligned = [
        "align",
        "--stage",
        str(root / "aligned.usda"),
        "--scale-from",
        "0,0,0",
        "2,0,0",
        "2",
        "--origin",
        "0.1,0,0",
    ]
    assert main(aligned) == 0
    (root / "taken.ply").write_bytes(b"mine")
    return {
        "root": root,
        "splat": root / "splat.ply",
        "box": root / "box.obj",
        "plain": root / "plain.usda",
        "aligned": root / "aligned.usda",
    }


CASES = [
    # (argv with {placeholders}, what stderr must say)
    ("import-splat {splat} --stage {plain} --prim World/x", "--prim: 'World/x' must start with /"),
    ("import-splat {splat} --stage {plain} --prim /World/a-b", "prim name 'a-b' holds the character '-'"),
    ("import-mesh {box} --stage {plain} --prim /World/9lives", "starts with a digit"),
    ("import-mesh {box} --stage {plain} --prim /Other/B", "must be below /World"),
    ("import-mesh {box} --stage {plain} --prim /World/B --up-axis w", "--up-axis: must be one of"),
    ("import-mesh {box} --stage {plain} --prim /World/B --scale 0", "--scale: must be a finite number > 0"),
    ("import-mesh {box} --stage {plain} --prim /World/B --scale nan", "--scale: must be a finite number > 0"),
    ("import-mesh {box} --stage {plain} --prim /World/Objects/Box", "already exists"),
    ("import-mesh {box} --stage {plain} --prim /World/Scene --replace", "would also remove 2 other import(s)"),
    ("import-mesh {box} --stage {plain} --prim /World/B --mass 2", "--mass: only applies to a --dynamic"),
    ("import-mesh {box} --stage {plain} --prim /World/B --material unobtanium", "--material: unknown material"),
    ("import-mesh {box} --stage {plain} --prim /World/B --dynamic --mass 5000", "5e+03 kg is beyond the limits"),
    ("import-mesh {splat} --stage {plain} --prim /World/B --from-prim /x", "--from-prim: only applies to a USD"),
    ("import-splat {box} --stage {plain} --prim /World/B", "unsupported Gaussian file suffix '.obj'; supported: .ply"),
    ("import-mesh {root}/x.json --stage {plain} --prim /World/B", "unsupported mesh file suffix '.json'"),
    ("import-splat {splat} --stage {aligned} --prim /World/S2 --up-axis y --scale 2", "--scale: the twin's alignment"),
    ("align --stage {plain} --table /World/Objects/Box", "--table: /World/Objects/Box is a Xform prim; give a mesh"),
    ("align --stage {plain} --table /World/Nope", "--table: no prim at /World/Nope"),
    ("align --stage {plain} --table World/Scene/Floor", "--table: 'World/Scene/Floor' must start with /"),
    ("align --stage {plain} --origin 0,0,0 --table-height 0.7", "--table-height: only applies with --table"),
    ("align --stage {plain} --invert", "is not aligned: there is no alignment to invert"),
    ("align --stage {plain} --origin 0,0,0 --compose", "--compose: "),
    ("align --stage {aligned} --origin 0,0,0", "is already aligned"),
    ("align --stage {aligned} --origin 0,0,0 --compose --redo", "exclude each other"),
    ("align --stage {aligned} --invert --origin 0,0,0", "--invert: undoes the recorded alignment"),
    ("align --stage {plain}", "nothing to do"),
    ("align --stage {plain} --up-axis q", "--up-axis: must be one of"),
    ("align --stage {root}/none.usda --origin 0,0,0", "no such twin stage"),
    ("remove --stage {plain} --prim /World/Nope", "has no prim at /World/Nope"),
    ("remove --stage {plain} --prim /World/PhysicsScene", "physics scene"),
    ("remove --stage {plain} --prim Objects/Box", "--prim: 'Objects/Box' must start with /"),
    (
        "claim --stage {plain} --splat /World/Scene/Floor --body /World/Objects/Box",
        "--splat: /World/Scene/Floor is not",
    ),
    ("claim --stage {plain} --splat /World/Scene/Splat --body /World/Scene/Floor", "is not a rigid body"),
    ("claim --stage {plain} --splat /World/Scene/Splat --body /World/Objects/Box --margin -1", "--margin"),
    ("export-splat {plain} /World/Scene/Splat {root}/taken.ply", "taken.ply: exists; give --force"),
    ("export-splat {plain} /World/Scene/Floor {root}/new.ply", "/World/Scene/Floor: is a Mesh prim, not a Gaussian"),
    ("export-splat {plain} /World/Nope {root}/new.ply", "has no prim at /World/Nope"),
    ("inspect {root}/missing.usda", "missing.usda: no such USD file"),
    ("inspect {splat}", "is not a USD file"),
    ("demo --out {root}/demo claim_margin=0.01", "did you mean 'claim_margin_m'?"),
    ("demo --out {root}/demo robot.sed=3", "did you mean 'robot.seed'?"),
    ("demo --out {root}/demo claim_margin_m=wide", "claim_margin_m: Value 'wide'"),
    ("demo --out {root}/demo table", "expected key=value"),
    # argparse's own mistakes, also one line
    ("import-splat {splat} --prim /World/S", "the following arguments are required: --stage"),
    ("align --stage {plain} --origin 1,2", "--origin: expected 3 comma-separated numbers"),
    ("align --stage {plain} --scale-from 0,0,0 1,0,0", "expected 3 arguments"),
    ("frobnicate", "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize(("command", "message"), CASES, ids=[c[0].split()[0] + ":" + c[1][:30] for c in CASES])
def test_error_is_one_line_exit_2_and_writes_nothing(work, capsys, command: str, message: str) -> None:
    argv = [part.format(**work) for part in command.split()]
    before = file_bytes(work["root"])
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "error: " in err and message in err, err
    assert file_bytes(work["root"]) == before


def test_version_and_verbose_after_the_verb(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"splattwin {__version__}"
    parser = build_parser()
    assert parser.parse_args(["inspect", "t.usda", "-v"]).verbose is True
    assert parser.parse_args(["-v", "inspect", "t.usda"]).verbose is True
    assert parser.parse_args(["inspect", "t.usda"]).verbose is False
    assert parser.parse_args(["align", "--stage", "t.usda", "--verbose", "--invert"]).verbose is True


def test_export_overwrites_only_with_force(work, capsys) -> None:
    out = work["root"] / "forced.ply"
    out.write_bytes(b"old")
    assert main(["export-splat", str(work["plain"]), "/World/Scene/Splat", str(out), "--force"]) == 0
    assert "overwrote" in capsys.readouterr().out
    assert out.stat().st_size > 3 and np.isfinite(out.stat().st_size)
    out.unlink()
