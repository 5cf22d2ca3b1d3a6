"""``splattwin identify-mass`` end to end on a twin: physics layer, provenance, read_mass, untouched on errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from _mujoco_logs import generator
from conftest import file_bytes

from splattwin.cli import main
from splattwin.io.pushlog import read_push_log, write_push_log
from splattwin.usd import open_twin
from splattwin.usd.identified import read_collision_mesh, read_mass

BLOCK = "/World/Objects/Box"


@pytest.fixture(scope="module")
def pushed_box(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A twin with the conftest box (0.10 x 0.06 x 0.05 m at (0.3, 0.2, 0.025), wood prior) and two MuJoCo pushes
    of a 0.21 kg block lying there."""
    import trimesh

    from splattwin.pipelines import ImportMeshConfig, import_mesh

    root = tmp_path_factory.mktemp("twin")
    box = trimesh.creation.box(extents=(0.10, 0.06, 0.05))
    box.apply_translation((0.3, 0.2, 0.025))
    box.export(root / "box.obj")
    stage = root / "twin.usda"
    import_mesh(ImportMeshConfig(source=root / "box.obj", stage=stage, prim=BLOCK, dynamic=True, material="wood"))
    gen = generator()
    block = gen.Shape("block", 0.21, boxes=(((0.0, 0.0, 0.0), (0.10, 0.06, 0.05)),))
    logs = [
        gen.make_shape_log(root / f"push_{i}", block, gen.PushSetup(position_xy=(0.3, 0.2), direction_deg=d))
        for i, d in enumerate((0.0, 90.0))
    ]
    return stage, logs


def test_identifies_and_writes_the_physics_layer(pushed_box, tmp_path: Path, capsys, monkeypatch) -> None:
    stage, logs = pushed_box
    original = open_twin(stage)
    prior, prior_sigma, source, _ = read_mass(original.stage, BLOCK)
    assert source == "prior" and prior_sigma == pytest.approx(0.3 * prior)  # wood: +-30 %
    objects_before = (stage.parent / "twin_layers" / "objects.usdc").read_bytes()
    from pxr import UsdPhysics

    inertia_before = np.array(UsdPhysics.MassAPI(original.stage.GetPrimAtPath(BLOCK)).GetDiagonalInertiaAttr().Get())
    report = tmp_path / "out" / "identify.json"
    code = main(
        ["identify-mass", "--stage", str(stage), "--object", BLOCK, "--log", *map(str, logs), "--report", str(report)]
    )
    assert code == 0
    twin = open_twin(stage)
    mass, sigma, source, provenance = read_mass(twin.stage, BLOCK)
    assert source == "identified"
    assert mass == pytest.approx(0.21, rel=0.02)
    assert sigma is not None and 0 < sigma < 0.15 * mass
    assert provenance["priorKg"] == pytest.approx(prior)
    assert provenance["version"] and provenance["method"] and len(provenance["logs"]) == 2
    api = UsdPhysics.MassAPI(twin.stage.GetPrimAtPath(BLOCK))
    np.testing.assert_allclose(np.array(api.GetDiagonalInertiaAttr().Get()), inertia_before * mass / prior, rtol=1e-5)
    # the opinion lives in physics.usda; the import's layer is untouched
    assert (stage.parent / "twin_layers" / "objects.usdc").read_bytes() == objects_before
    assert twin.layers["physics"].GetAttributeAtPath(f"{BLOCK}.physics:mass").default == pytest.approx(mass)
    data = json.loads(report.read_text())
    assert data["identifiable"] and data["written_to_stage"] and data["mass_kg"] == pytest.approx(mass)
    assert data["iterations"] > 0 and data["seconds"] > 0
    for image in data["images"]:
        assert (report.parent / image).stat().st_size > 1000
    monkeypatch.setenv("COLUMNS", "300")
    capsys.readouterr()
    assert main(["inspect", str(stage)]) == 0
    assert f"{mass:.4g} ± {sigma:.2g} (identified, 1σ)" in capsys.readouterr().out
    vertices, faces = read_collision_mesh(twin.stage, BLOCK)
    assert faces.shape[1] == 3 and np.ptp(vertices, axis=0) == pytest.approx([0.10, 0.06, 0.05], abs=1e-6)


def _nan_log(source: Path, folder: Path) -> Path:
    log = read_push_log(source)
    folder.mkdir()
    (folder / "object.obj").write_bytes(log.mesh_path.read_bytes())
    pose = log.object_pose.copy()
    pose[10, 0] = np.nan
    return write_push_log(folder, t=log.t, object_pose=pose, pusher_target=log.pusher_target, meta=log.meta)


def test_bad_log_exits_2_and_leaves_everything_untouched(pushed_box, tmp_path: Path, capsys) -> None:
    stage, logs = pushed_box
    before = file_bytes(stage.parent / "twin_layers") | {"root": stage.read_bytes()}
    bad = _nan_log(logs[0], tmp_path / "bad")
    report = tmp_path / "r.json"
    code = main(["identify-mass", "--stage", str(stage), "--object", BLOCK, "--log", str(bad), "--report", str(report)])
    assert code == 2
    assert "NaN" in capsys.readouterr().err
    assert file_bytes(stage.parent / "twin_layers") | {"root": stage.read_bytes()} == before
    assert not report.exists()
    code = main(
        [
            "identify-mass",
            "--stage",
            str(stage),
            "--object",
            "/World/Nope",
            "--log",
            str(logs[0]),
            "--report",
            str(report),
        ]
    )
    assert code == 2 and "no prim at /World/Nope" in capsys.readouterr().err


def test_unavailable_device_is_a_clear_error(pushed_box, tmp_path: Path, capsys) -> None:
    import warp as wp

    stage, logs = pushed_box
    if wp.is_cuda_available():
        pytest.skip("this machine has CUDA")
    before = file_bytes(stage.parent / "twin_layers")
    args = ["--stage", str(stage), "--object", BLOCK, "--log", str(logs[0]), "--report", str(tmp_path / "r.json")]
    assert main(["identify-mass", *args, "--device", "cuda"]) == 2
    assert "--device: Warp device 'cuda' is not available" in capsys.readouterr().err
    assert file_bytes(stage.parent / "twin_layers") == before


def test_not_identifiable_exits_1_and_leaves_the_stage(pushed_box, tmp_path: Path) -> None:
    stage, _ = pushed_box
    gen = generator()
    block = gen.Shape("block", 0.21, boxes=(((0.0, 0.0, 0.0), (0.10, 0.06, 0.05)),))
    still = gen.make_shape_log(tmp_path / "still", block, gen.PushSetup(position_xy=(0.3, 0.2), speed=0.0))
    before = file_bytes(stage.parent / "twin_layers")
    report = tmp_path / "r.json"
    code = main(
        ["identify-mass", "--stage", str(stage), "--object", BLOCK, "--log", str(still), "--report", str(report)]
    )
    assert code == 1
    assert file_bytes(stage.parent / "twin_layers") == before
    data = json.loads(report.read_text())
    assert data["identifiable"] is False and "barely moved" in data["reason"] and data["mass_kg"] is None


def _copy_twin(stage: Path, folder: Path) -> Path:
    import shutil

    shutil.copytree(stage.parent, folder, ignore=shutil.ignore_patterns("push_*", "*.obj"))
    return folder / stage.name


def _refused(capsys, argv: list[str], folder: Path, report: Path) -> str:  # noqa: ANN001
    before = file_bytes(folder)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert file_bytes(folder) == before and not report.exists()
    return err[0]


def test_a_robot_link_or_a_static_mesh_is_refused(pushed_box, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """identify-mass --object /World/Robot/panda_link3 (issue 22, item 4): a link is not an object to identify."""
    import pybullet_data

    stage, logs = pushed_box
    stage = _copy_twin(stage, tmp_path / "twin")
    panda = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    assert main(["import-robot", str(panda), "--stage", str(stage), "--prim", "/World/Robot", "--base", "1,1,0"]) == 0
    static = tmp_path / "table.obj"
    import trimesh

    trimesh.creation.box(extents=(1.0, 1.0, 0.02)).export(static)
    assert main(["import-mesh", str(static), "--stage", str(stage), "--prim", "/World/Scene/Static"]) == 0
    report = tmp_path / "r.json"
    argv = ["identify-mass", "--stage", str(stage), "--log", str(logs[0]), "--report", str(report), "--object"]
    line = _refused(capsys, [*argv, "/World/Robot/panda_link3"], stage.parent, report)
    assert line.startswith("error: --object: /World/Robot/panda_link3 is a link of the robot /World/Robot")
    assert f"dynamic objects: ['{BLOCK}']" in line
    line = _refused(capsys, [*argv, "/World/Scene/Static"], stage.parent, report)
    assert line.startswith("error: --object: /World/Scene/Static is not a rigid body")


def test_a_log_mesh_in_other_units_than_the_prim_is_refused(pushed_box, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """The box imported from a reconstruction 5x the metric scale into an unaligned twin: the log's 0.10 x 0.06 x
    0.05 m mesh against a 0.5 x 0.3 x 0.25 prim is refused naming both and the factor; so is a log without a mesh
    (the prim's mesh then would be simulated), by the object's resting height over the table."""
    import trimesh

    _, logs = pushed_box
    box = trimesh.creation.box(extents=(0.50, 0.30, 0.25))
    box.apply_translation((1.5, 1.0, 0.125))
    box.export(tmp_path / "box5.obj")
    stage = tmp_path / "twin" / "twin.usda"
    argv = ["import-mesh", str(tmp_path / "box5.obj"), "--stage", str(stage), "--prim", BLOCK, "--dynamic"]
    assert main([*argv, "--material", "wood"]) == 0
    report = tmp_path / "r.json"
    argv = ["identify-mass", "--stage", str(stage), "--object", BLOCK, "--report", str(report), "--log"]
    line = _refused(capsys, [*argv, *map(str, logs)], stage.parent, report)
    log_mesh = read_push_log(logs[0]).mesh_path
    assert line.startswith(f"error: {log_mesh}: the push log's object mesh (0.05 x 0.06 x 0.1 m, 0.0003 m^3)")
    assert (
        f"{BLOCK}'s collision mesh in {stage} (0.25 x 0.3 x 0.5, 0.0375 in the twin's frame: 5 times the size)" in line
    )
    assert "(imported from box5.obj)" in line and "the twin is not aligned" in line

    meshless = tmp_path / "meshless"
    log = read_push_log(logs[0])
    meta = {**log.meta, "object": {"prim": BLOCK}}
    write_push_log(meshless, t=log.t, object_pose=log.object_pose, pusher_target=log.pusher_target, meta=meta)
    line = _refused(capsys, [*argv, str(meshless)], stage.parent, report)
    # The block's centre starts 25 mm over the table (less MuJoCo's resting penetration); the 0.25 m tall prim
    # reaches 125 mm below its centre.
    assert re.match(
        rf"error: {re.escape(str(meshless))}: the object's centre starts 2[45]\.\d mm above the log's table", line
    )
    assert "reaches 0.125 below its centre" in line and "the twin is not aligned" in line


def test_the_reports_warnings_are_printed(pushed_box, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """A log that starts 5 cm from the prim: the warning is in the report and on the console, not only the file."""
    from pxr import Gf, UsdGeom

    from splattwin.usd import edit_twin

    stage, logs = pushed_box
    stage = _copy_twin(stage, tmp_path / "twin")
    with edit_twin(stage) as twin, twin.edit_layer("objects") as usd:
        translate = UsdGeom.Xformable(usd.GetPrimAtPath(BLOCK)).GetOrderedXformOps()[0]
        translate.Set(translate.Get() + Gf.Vec3d(0.05, 0.0, 0.0))
    report = tmp_path / "r.json"
    argv = ["identify-mass", "--stage", str(stage), "--object", BLOCK, "--log", str(logs[0]), "--report", str(report)]
    capsys.readouterr()
    assert main([*argv, "--dry-run"]) in (0, 1)
    expected = f"{logs[0]}: the object starts 50 mm from where the twin has {BLOCK}"
    assert expected in json.loads(report.read_text())["warnings"]
    assert f"warning: {expected}" in capsys.readouterr().out
