"""The layered twin: structure, metadata, layer isolation, atomic saves, nothing half-written on errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import file_bytes, random_gaussians
from pxr import Sdf, Usd, UsdGeom, UsdPhysics

from splattwin.errors import InputError, StageError
from splattwin.io import write_gaussians
from splattwin.pipelines import ImportMeshConfig, ImportSplatConfig, import_mesh, import_splat
from splattwin.usd import LAYER_NAMES, edit_twin, open_twin


@pytest.fixture
def splat_ply(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "splat.ply"
    path.parent.mkdir()
    write_gaussians(path, random_gaussians(100))
    return path


def test_new_twin_structure_and_metadata(tmp_path: Path, splat_ply: Path) -> None:
    import_splat(ImportSplatConfig(source=splat_ply, stage=tmp_path / "t" / "twin.usda", prim="/World/Scene/S"))
    root = Sdf.Layer.FindOrOpen(str(tmp_path / "t" / "twin.usda"))
    assert list(root.subLayerPaths) == [
        "./twin_layers/trajectories.usda",
        "./twin_layers/physics.usda",
        "./twin_layers/robot.usdc",
        "./twin_layers/objects.usdc",
        "./twin_layers/scene.usdc",
    ]
    stage = Usd.Stage.Open(str(tmp_path / "t" / "twin.usda"))
    assert UsdGeom.GetStageUpAxis(stage) == "Z"
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert UsdPhysics.GetStageKilogramsPerUnit(stage) == 1.0
    assert stage.GetDefaultPrim().GetPath() == Sdf.Path("/World")
    scene = UsdPhysics.Scene(stage.GetPrimAtPath("/World/PhysicsScene"))
    assert tuple(scene.GetGravityDirectionAttr().Get()) == (0, 0, -1)
    assert scene.GetGravityMagnitudeAttr().Get() == pytest.approx(9.81)
    # The splat went into the scene layer only.
    scene_layer = Sdf.Layer.FindOrOpen(str(tmp_path / "t" / "twin_layers" / "scene.usdc"))
    assert scene_layer.GetPrimAtPath("/World/Scene/S")
    for name in ("objects", "robot"):
        assert not Sdf.Layer.FindOrOpen(str(tmp_path / "t" / "twin_layers" / f"{name}.usdc")).GetPrimAtPath(
            "/World/Scene/S"
        )


def test_import_never_clobbers_user_edits_or_other_layers(tmp_path: Path, splat_ply: Path, box_obj: Path) -> None:
    stage_path = tmp_path / "twin.usda"
    import_splat(ImportSplatConfig(source=splat_ply, stage=stage_path, prim="/World/Scene/S"))
    import_mesh(ImportMeshConfig(source=box_obj, stage=stage_path, prim="/World/Objects/Box", dynamic=True))
    # A person edits in the root layer (the stage editor's default edit target): moves the box, hides the splat.
    stage = Usd.Stage.Open(str(stage_path))
    UsdGeom.Xformable(stage.GetPrimAtPath("/World/Objects/Box")).GetOrderedXformOps()[0].Set((1.0, 2.0, 3.0))
    UsdGeom.Imageable(stage.GetPrimAtPath("/World/Scene/S")).MakeInvisible()
    stage.GetRootLayer().Save()
    before = file_bytes(tmp_path)
    import_mesh(ImportMeshConfig(source=box_obj, stage=stage_path, prim="/World/Scene/Table"))
    after = file_bytes(tmp_path)
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {"twin_layers/scene.usdc"}  # only the import's own layer was rewritten
    stage = Usd.Stage.Open(str(stage_path))
    position = UsdGeom.Xformable(stage.GetPrimAtPath("/World/Objects/Box")).GetOrderedXformOps()[0].Get()
    assert tuple(position) == (1.0, 2.0, 3.0)
    assert UsdGeom.Imageable(stage.GetPrimAtPath("/World/Scene/S")).ComputeVisibility() == "invisible"


def test_clashing_prim_path_is_refused_and_nothing_changes(tmp_path: Path, splat_ply: Path) -> None:
    stage_path = tmp_path / "twin.usda"
    import_splat(ImportSplatConfig(source=splat_ply, stage=stage_path, prim="/World/Scene/S"))
    before = file_bytes(tmp_path)
    with pytest.raises(StageError, match=r"/World/Scene/S already exists .*scene layer"):
        import_splat(ImportSplatConfig(source=splat_ply, stage=stage_path, prim="/World/Scene/S"))
    assert file_bytes(tmp_path) == before


@pytest.mark.parametrize(
    ("prim", "message"),
    [
        ("World/NoSlash", "--prim: 'World/NoSlash' must start with /"),
        ("/Elsewhere/S", "must be below /World"),
        ("/World", "must be below /World"),
        ("/World/bad name", "prim name 'bad name' holds the character ' '"),
        ("/World/Scene/Bl-ock", "prim name 'Bl-ock' holds the character '-'"),
        ("/World/3D", "starts with a digit"),
        ("/World//S", "empty prim name"),
    ],
)
def test_invalid_prim_paths(tmp_path: Path, splat_ply: Path, prim: str, message: str) -> None:
    # Since issue 11: an InputError naming --prim and what is wrong (was a StageError "not a valid prim path").
    with pytest.raises(InputError, match=re.escape(message)):
        import_splat(ImportSplatConfig(source=splat_ply, stage=tmp_path / "twin.usda", prim=prim))
    assert not (tmp_path / "twin.usda").exists() and not (tmp_path / "twin_layers").exists()


def test_stage_path_that_is_not_usd(tmp_path: Path, splat_ply: Path) -> None:
    (tmp_path / "notes.usda").write_text("these are my notes, not USD")
    with pytest.raises(StageError, match=r"notes\.usda: exists but is not a readable USD layer"):
        import_splat(ImportSplatConfig(source=splat_ply, stage=tmp_path / "notes.usda", prim="/World/S"))
    assert (tmp_path / "notes.usda").read_text() == "these are my notes, not USD"
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(StageError, match="not a USD file"):
        import_splat(ImportSplatConfig(source=splat_ply, stage=tmp_path / "photo.jpg", prim="/World/S"))
    with pytest.raises(StageError, match="must be a USD file"):
        import_splat(ImportSplatConfig(source=splat_ply, stage=tmp_path / "new.txt", prim="/World/S"))


def test_usd_stage_that_is_not_a_twin(tmp_path: Path, splat_ply: Path) -> None:
    stage = Usd.Stage.CreateNew(str(tmp_path / "other.usda"))
    stage.DefinePrim("/World", "Xform")
    stage.GetRootLayer().Save()
    before = file_bytes(tmp_path)
    with pytest.raises(StageError, match="not a SplatTwin twin"):
        import_splat(ImportSplatConfig(source=splat_ply, stage=tmp_path / "other.usda", prim="/World/S"))
    assert file_bytes(tmp_path) == before


def test_failed_save_leaves_every_file_untouched(tmp_path: Path, splat_ply: Path, monkeypatch) -> None:
    stage_path = tmp_path / "twin.usda"
    import_splat(ImportSplatConfig(source=splat_ply, stage=stage_path, prim="/World/Scene/S"))
    before = file_bytes(tmp_path)
    real_export = Sdf.Layer.Export
    calls = []

    def failing_export(layer, path, *args, **kwargs):  # the second layer written fails (disk full, say)
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_export(layer, path, *args, **kwargs)

    monkeypatch.setattr(Sdf.Layer, "Export", failing_export)
    with pytest.raises(StageError, match="disk full.*unchanged"), edit_twin(stage_path) as twin:
        with twin.edit_layer("scene"):
            UsdGeom.Xform.Define(twin.stage, "/World/Scene/New")
        with twin.edit_layer("physics"):
            UsdGeom.Xform.Define(twin.stage, "/World/Physics")
    assert len(calls) == 2
    assert file_bytes(tmp_path) == before  # no layer replaced, no temporary file left


def test_error_inside_edit_discards_in_memory_edits(tmp_path: Path, splat_ply: Path) -> None:
    stage_path = tmp_path / "twin.usda"
    import_splat(ImportSplatConfig(source=splat_ply, stage=stage_path, prim="/World/Scene/S"))
    with pytest.raises(RuntimeError), edit_twin(stage_path) as twin:
        with twin.edit_layer("scene"):
            UsdGeom.Xform.Define(twin.stage, "/World/Scene/Half")
        raise RuntimeError("import failed half way")
    twin = open_twin(stage_path)
    assert not twin.stage.GetPrimAtPath("/World/Scene/Half")


def test_missing_sublayer_is_reported(tmp_path: Path, splat_ply: Path) -> None:
    stage_path = tmp_path / "twin.usda"
    import_splat(ImportSplatConfig(source=splat_ply, stage=stage_path, prim="/World/Scene/S"))
    (tmp_path / "twin_layers" / "physics.usda").unlink()
    with pytest.raises(StageError, match="physics sublayer"):
        open_twin(stage_path)


def test_layer_names_are_strongest_first(tmp_path: Path, box_obj: Path) -> None:
    """An opinion in physics.usda beats the objects layer: identified values override what imports wrote."""
    stage_path = tmp_path / "twin.usda"
    import_mesh(ImportMeshConfig(source=box_obj, stage=stage_path, prim="/World/Objects/Box", dynamic=True))
    with edit_twin(stage_path) as twin, twin.edit_layer("physics"):
        UsdPhysics.MassAPI(twin.stage.GetPrimAtPath("/World/Objects/Box")).GetMassAttr().Set(0.321)
    twin = open_twin(stage_path)
    mass_attr = UsdPhysics.MassAPI(twin.stage.GetPrimAtPath("/World/Objects/Box")).GetMassAttr()
    assert mass_attr.Get() == pytest.approx(0.321)
    assert [spec.layer.identifier for spec in mass_attr.GetPropertyStack()] == [
        twin.layers["physics"].identifier,
        twin.layers["objects"].identifier,
    ]
    assert LAYER_NAMES.index("physics") < LAYER_NAMES.index("objects")


def test_a_second_edit_in_the_same_process_works_while_the_creating_handle_lives(tmp_path: Path) -> None:
    """A notebook keeps the handle of the edit that created the twin (``with edit_twin(p) as twin``) and edits
    again: the created layers must be clean after the save, or the second edit refuses them as unsaved work."""
    from pxr import UsdGeom

    path = tmp_path / "twin.usda"
    with edit_twin(path) as first:
        UsdGeom.Xform.Define(first.stage, "/World/A")
    with edit_twin(path) as second:
        UsdGeom.Xform.Define(second.stage, "/World/B")
    assert first.stage is not None  # the first handle is still alive here
    reopened = open_twin(path)
    assert reopened.stage.GetPrimAtPath("/World/A") and reopened.stage.GetPrimAtPath("/World/B")
