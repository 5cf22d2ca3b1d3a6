"""The seven failures of issue 11, each reproduced as it was reported (they failed before the fix).

Expected values are hand-computed from a ground-truth world -> reconstruction transform chosen here (y up,
2.5 units per metre, shifted), never read back from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from conftest import file_bytes, random_gaussians
from pxr import Usd, UsdGeom, UsdPhysics

from splattwin.cli import main
from splattwin.errors import InputError, StageError
from splattwin.io import write_gaussians
from splattwin.mesh import MATERIALS
from splattwin.pipelines import AlignConfig, ImportMeshConfig, ImportSplatConfig, align_twin, import_mesh, import_splat
from splattwin.usd import open_twin, read_gaussians_prim

RECON_SCALE = 2.5
RECON_SHIFT = np.array([0.4, -1.0, 2.0])
WORLD_TO_RECON_ROT = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=float)  # inverse of +90 deg about x
BOX_CENTRE = np.array([0.2, -0.1, 0.025])
BOX_SIZE = (0.1, 0.06, 0.05)
WOOD = MATERIALS["wood"].density_kg_m3


def to_recon(points: np.ndarray) -> np.ndarray:
    return RECON_SCALE * np.asarray(points, dtype=float) @ WORLD_TO_RECON_ROT.T + RECON_SHIFT


SCALE_FROM = (*(tuple(p) for p in to_recon(np.array([[0.0, 0, 0], [1.0, 0, 0]]))), 1.0)
ORIGIN = tuple(to_recon(np.zeros(3)))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Reconstruction-frame files: a splat, a floor and a box (as a capture delivers them)."""
    world = random_gaussians(300, degree=0, seed=5)
    world.means[:] = np.random.default_rng(1).uniform([-0.5, -0.5, 0.0], [0.5, 0.5, 0.3], (300, 3))
    recon = type(world)(
        means=to_recon(world.means),
        quats_wxyz=world.quats_wxyz,
        scales=world.scales * RECON_SCALE,
        opacities=world.opacities,
        sh=world.sh,
    )
    write_gaussians(tmp_path / "splat.ply", recon)
    floor = trimesh.creation.box(extents=(2.0, 2.0, 0.02))
    floor.apply_translation((0, 0, -0.01))
    floor.vertices = to_recon(floor.vertices)
    floor.export(tmp_path / "floor.obj")
    box = trimesh.creation.box(extents=BOX_SIZE)
    box.apply_translation(BOX_CENTRE)
    box.vertices = to_recon(box.vertices)
    box.export(tmp_path / "box.obj")
    return {"splat": tmp_path / "splat.ply", "floor": tmp_path / "floor.obj", "box": tmp_path / "box.obj"}


def _twin(tmp_path: Path, files: dict[str, Path], **splat_options) -> Path:
    stage = tmp_path / "twin.usda"
    import_splat(ImportSplatConfig(source=files["splat"], stage=stage, prim="/World/Scene/Splat", **splat_options))
    import_mesh(ImportMeshConfig(source=files["floor"], stage=stage, prim="/World/Scene/Floor"))
    import_mesh(ImportMeshConfig(source=files["box"], stage=stage, prim="/World/Objects/Box", dynamic=True))
    return stage


def _align(stage: Path, **extra) -> None:
    align_twin(AlignConfig(stage=stage, up_axis="y", scale_from=SCALE_FROM, origin=ORIGIN, **extra))


def _body(stage: Path, prim: str) -> tuple[np.ndarray, float]:
    usd = Usd.Stage.Open(str(stage))
    body = usd.GetPrimAtPath(prim)
    pose = np.array(UsdGeom.Xformable(body).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
    return pose[:3, 3], float(UsdPhysics.MassAPI(body).GetMassAttr().Get())


def test_1_import_after_align_lands_in_the_aligned_frame_and_invert_takes_it_back(tmp_path, files) -> None:
    stage = _twin(tmp_path, files)
    _align(stage)
    block2 = import_mesh(ImportMeshConfig(source=files["box"], stage=stage, prim="/World/Objects/Block2", dynamic=True))
    volume_world = float(np.prod(BOX_SIZE))
    for prim in ("/World/Objects/Box", "/World/Objects/Block2"):
        position, mass = _body(stage, prim)
        np.testing.assert_allclose(position, BOX_CENTRE, atol=1e-5)
        assert mass == pytest.approx(WOOD * volume_world, rel=1e-4)
    assert any("aligned frame" in note for note in block2.notes)  # and it says so
    assert any("already imported as /World/Objects/Box" in w for w in block2.warnings)
    align_twin(AlignConfig(stage=stage, invert=True))
    for prim in ("/World/Objects/Box", "/World/Objects/Block2"):
        position, mass = _body(stage, prim)
        np.testing.assert_allclose(position, to_recon(BOX_CENTRE), atol=1e-5)
        assert mass == pytest.approx(WOOD * volume_world * RECON_SCALE**3, rel=1e-4)


def test_2_import_time_up_axis_and_scale_cannot_double_with_align(tmp_path, files) -> None:
    stage = _twin(tmp_path, files, up_axis="y", scale=1 / RECON_SCALE)
    before = file_bytes(tmp_path)
    with pytest.raises(InputError, match=r"--up-axis: /World/Scene/Splat was imported with --up-axis y"):
        _align(stage)
    with pytest.raises(InputError, match=r"--scale-from: /World/Scene/Splat was imported with --scale 0.4"):
        align_twin(AlignConfig(stage=stage, scale_from=SCALE_FROM))
    assert file_bytes(tmp_path) == before
    # After an alignment that turned y up, an import-time --up-axis y would turn it twice: refused.
    other = tmp_path / "other"
    other.mkdir()
    stage2 = _twin(other, files)
    _align(stage2)
    with pytest.raises(InputError, match=r"--up-axis: the twin's alignment already turned"):
        import_splat(ImportSplatConfig(source=files["splat"], stage=stage2, prim="/World/Again", up_axis="y"))
    with pytest.raises(InputError, match=r"--scale: the twin's alignment already scaled"):
        import_splat(ImportSplatConfig(source=files["splat"], stage=stage2, prim="/World/Again", scale=0.4))


def test_2_the_one_place_way_puts_splat_and_colliders_together(tmp_path, files) -> None:
    """Everything imported with --up-axis y --scale 1/2.5, aligned with --origin only: splat on its colliders."""
    stage = tmp_path / "twin.usda"
    common = {"up_axis": "y", "scale": 1 / RECON_SCALE}
    import_splat(ImportSplatConfig(source=files["splat"], stage=stage, prim="/World/Scene/Splat", **common))
    import_mesh(ImportMeshConfig(source=files["box"], stage=stage, prim="/World/Objects/Box", dynamic=True, **common))
    # The origin is given in the current (imported, z-up metric) frame: where the world origin is now.
    origin = (np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]) @ to_recon(np.zeros(3))) / RECON_SCALE
    align_twin(AlignConfig(stage=stage, origin=tuple(origin)))
    position, _ = _body(stage, "/World/Objects/Box")
    np.testing.assert_allclose(position, BOX_CENTRE, atol=1e-5)
    twin = open_twin(stage)
    means = read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Scene/Splat")).means
    world = random_gaussians(300, degree=0, seed=5)
    expected = np.random.default_rng(1).uniform([-0.5, -0.5, 0.0], [0.5, 0.5, 0.3], (300, 3))
    assert world is not None
    np.testing.assert_allclose(means, expected, atol=1e-5)


def test_3_align_twice_refuses_compose_and_redo_say_which(tmp_path, files, capsys) -> None:
    stage = _twin(tmp_path, files)
    assert main(["align", "--stage", str(stage), "--invert"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not aligned" in err
    _align(stage)
    aligned = file_bytes(tmp_path)
    with pytest.raises(StageError, match="already aligned .*--compose.*--redo"):
        _align(stage)
    assert file_bytes(tmp_path) == aligned
    # --redo with the same (reconstruction-frame) options: the same twin as one alignment.
    _align(stage, redo=True)
    position, mass = _body(stage, "/World/Objects/Box")
    np.testing.assert_allclose(position, BOX_CENTRE, atol=1e-5)
    assert mass == pytest.approx(WOOD * np.prod(BOX_SIZE), rel=1e-4)
    # --compose: points in the aligned frame; shifting the origin to the box centre puts the box at 0.
    align_twin(AlignConfig(stage=stage, origin=tuple(BOX_CENTRE), compose=True))
    position, _ = _body(stage, "/World/Objects/Box")
    np.testing.assert_allclose(position, 0.0, atol=1e-5)
    align_twin(AlignConfig(stage=stage, invert=True))
    position, _ = _body(stage, "/World/Objects/Box")
    np.testing.assert_allclose(position, to_recon(BOX_CENTRE), atol=1e-5)


def test_4_demo_refuses_a_folder_holding_a_twin(tmp_path, files, capsys) -> None:
    out = tmp_path / "mine"
    import_splat(ImportSplatConfig(source=files["splat"], stage=out / "twin.usda", prim="/World/Scene/Splat"))
    before = file_bytes(out)
    assert main(["demo", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds a twin" in err and "--force" in err
    assert file_bytes(out) == before
    assert main(["demo", "--out", str(out), "--force"]) == 0  # with consent the demo rebuilds the twin
    assert (out / "report.md").is_file() and file_bytes(out) != before


def test_5_millimetre_mesh_and_kilometre_splat_get_named_warnings(tmp_path, files) -> None:
    box_mm = trimesh.creation.box(extents=tuple(1000 * np.array(BOX_SIZE)))
    box_mm.apply_translation((300.0, 200.0, 800.0))  # 0.8 m up, in millimetres
    box_mm.export(tmp_path / "block_mm.obj")
    stage = tmp_path / "twin.usda"
    with pytest.raises(InputError, match=r"beyond the limits.*millimetres\? try --scale 0\.001.*--force"):
        import_mesh(ImportMeshConfig(source=tmp_path / "block_mm.obj", stage=stage, prim="/World/B", dynamic=True))
    assert not stage.exists()
    forced = import_mesh(
        ImportMeshConfig(source=tmp_path / "block_mm.obj", stage=stage, prim="/World/B", dynamic=True, force=True)
    )
    assert any("larger than a room: millimetres? try --scale 0.001" in w for w in forced.warnings)
    assert any("heavier than a person can push" in w for w in forced.warnings)
    assert any("m from the origin: millimetres? try --scale 0.001" in w for w in forced.warnings)
    # The same file at the right scale (into a twin of its own): no warning, the hand-computed mass.
    right = import_mesh(
        ImportMeshConfig(
            source=tmp_path / "block_mm.obj", stage=tmp_path / "ok.usda", prim="/World/C", dynamic=True, scale=0.001
        )
    )
    assert right.warnings == [] and right.mass_kg == pytest.approx(WOOD * np.prod(BOX_SIZE), rel=1e-6)
    splat = import_splat(ImportSplatConfig(source=files["splat"], stage=stage, prim="/World/S", scale=1000))
    assert any("km across" in w for w in splat.warnings)


def test_6_hydra_override_typo_is_one_line_exit_2(tmp_path, capsys) -> None:
    assert main(["demo", "--out", str(tmp_path / "d"), "claim_margin=0.01"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown key 'claim_margin'; did you mean 'claim_margin_m'?" in err
    assert main(["demo", "--out", str(tmp_path / "d"), "claim_margin_m=lots"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "claim_margin_m" in err and "'lots'" in err
    assert not (tmp_path / "d" / "twin.usda").exists()


def test_7_remove_replace_and_duplicate_import_warning(tmp_path, files, capsys) -> None:
    stage = _twin(tmp_path, files)
    again = import_splat(ImportSplatConfig(source=files["splat"], stage=stage, prim="/World/Scene/Copy"))
    assert any("already imported as /World/Scene/Splat" in w and "--replace" in w for w in again.warnings)
    assert main(["remove", "--stage", str(stage), "--prim", "/World/Scene/Copy"]) == 0
    assert not open_twin(stage).stage.GetPrimAtPath("/World/Scene/Copy")
    # --replace: the box again at the same prim, now with a given mass.
    result = import_mesh(
        ImportMeshConfig(
            source=files["box"], stage=stage, prim="/World/Objects/Box", dynamic=True, mass=0.3, replace=True
        )
    )
    assert result.warnings == []
    position, mass = _body(stage, "/World/Objects/Box")
    assert mass == pytest.approx(0.3, rel=1e-7)
    np.testing.assert_allclose(position, to_recon(BOX_CENTRE), atol=1e-5)
    # A person's root-layer edit of the prim: refused without --force, one line, nothing written.
    edited = Usd.Stage.Open(str(stage))  # the edit target is the root layer, as in a stage editor
    edited.GetPrimAtPath("/World/Objects/Box").SetDocumentation("my box")
    edited.GetRootLayer().Save()
    before = file_bytes(tmp_path)
    capsys.readouterr()
    assert main(["remove", "--stage", str(stage), "--prim", "/World/Objects/Box"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "root layer" in err and "--force" in err
    assert file_bytes(tmp_path) == before
    assert main(["remove", "--stage", str(stage), "--prim", "/World/Objects/Box", "--force"]) == 0
    assert not open_twin(stage).stage.GetPrimAtPath("/World/Objects/Box")


def test_nested_demo_overrides_are_known_keys() -> None:
    """``robot.seed=3`` reaches the robot step's config; the check that refuses unknown keys must accept it."""
    from splattwin.pipelines.demo import load_demo_config

    config = load_demo_config(Path("out/x"), ["robot.seed=3", "robot.enabled=false", "identify=false"])
    assert (config.robot.seed, config.robot.enabled, config.identify) == (3, False, False)
