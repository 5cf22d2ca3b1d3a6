"""Foreign USD in: splats from a USD ParticleField3DGaussianSplat (as NVIDIA's usd-convert-gsplat writes them:
y up, at /nv) and meshes from a UsdGeom.Mesh, honouring upAxis, metersPerUnit and the prim's transform; inspect
describes any USD stage. The files are built here with pxr; expectations are hand-computed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pxr import Gf, Usd, UsdGeom, UsdPhysics, UsdVol, Vt

from splattwin.cli import main
from splattwin.errors import InputError
from splattwin.mesh import MATERIALS
from splattwin.pipelines import ImportMeshConfig, ImportSplatConfig, import_mesh, import_splat
from splattwin.usd import open_twin, read_gaussians_prim

RNG = np.random.default_rng(21)
MEANS = RNG.uniform(-50, 50, (30, 3))  # centimetres, y up
SCALES = RNG.uniform(0.5, 2.0, (30, 3))
OFFSET = np.array([10.0, 20.0, 30.0])


def y_up_to_z_up(points: np.ndarray) -> np.ndarray:
    """(x, y, z) y-up -> (x, -z, y) z-up: +90 deg about x."""
    return np.stack([points[:, 0], -points[:, 2], points[:, 1]], axis=1)


def _particle_field(stage: Usd.Stage, path: str, means: np.ndarray, scales: np.ndarray) -> None:
    field = UsdVol.ParticleField3DGaussianSplat.Define(stage, path)
    field.CreatePositionsAttr().Set(Vt.Vec3fArray.FromNumpy(means.astype(np.float32)))
    field.CreateOrientationsAttr().Set(Vt.QuatfArray([Gf.Quatf(1, 0, 0, 0)] * len(means)))
    field.CreateScalesAttr().Set(Vt.Vec3fArray.FromNumpy(scales.astype(np.float32)))
    field.CreateOpacitiesAttr().Set(Vt.FloatArray([0.5] * len(means)))


@pytest.fixture
def nv_usda(tmp_path: Path) -> Path:
    """y up, centimetres, the field under an Xform translated by OFFSET and turned 90 deg about its y (up)."""
    path = tmp_path / "nv.usda"
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 0.01)
    root = UsdGeom.Xform.Define(stage, "/nv")
    root.AddTranslateOp().Set(Gf.Vec3d(*OFFSET))
    root.AddRotateYOp().Set(90.0)
    _particle_field(stage, "/nv/gsplat", MEANS, SCALES)
    stage.GetRootLayer().Save()
    return path


def expected_world(means: np.ndarray) -> np.ndarray:
    # rotateY(90): (x, y, z) -> (z, y, -x); then the translation, then y up -> z up, then centimetres -> metres.
    turned = np.stack([means[:, 2], means[:, 1], -means[:, 0]], axis=1) + OFFSET
    return 0.01 * y_up_to_z_up(turned)


def test_import_splat_from_a_y_up_centimetre_usd_with_a_transform(tmp_path: Path, nv_usda: Path) -> None:
    stage = tmp_path / "twin.usda"
    result = import_splat(ImportSplatConfig(source=nv_usda, stage=stage, prim="/World/Scene/Splat"))
    assert result.count == len(MEANS)
    twin = open_twin(stage)
    gaussians = read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Scene/Splat"))
    np.testing.assert_allclose(gaussians.means, expected_world(MEANS), atol=1e-6)
    # Identity orientations turned by a rotation: the axis lengths stay, in metres.
    np.testing.assert_allclose(np.sort(gaussians.scales, axis=1), np.sort(0.01 * SCALES, axis=1), rtol=1e-5)
    record = twin.stage.GetPrimAtPath("/World/Scene/Splat").GetCustomDataByKey("splattwin:frame")
    assert record["source"].endswith("nv.usda#/nv/gsplat")


def test_which_particle_field_several_need_from_prim(tmp_path: Path, nv_usda: Path) -> None:
    stage = Usd.Stage.Open(str(nv_usda))
    _particle_field(stage, "/other", MEANS[:5], SCALES[:5])
    stage.GetRootLayer().Save()
    twin = tmp_path / "twin.usda"
    with pytest.raises(InputError, match=r"holds 2 ParticleField3DGaussianSplat prims \(/nv/gsplat, /other\)"):
        import_splat(ImportSplatConfig(source=nv_usda, stage=twin, prim="/World/S"))
    with pytest.raises(InputError, match=r"--from-prim: .* has no prim at /nope"):
        import_splat(ImportSplatConfig(source=nv_usda, stage=twin, prim="/World/S", from_prim="/nope"))
    with pytest.raises(InputError, match=r"--from-prim: /nv in .* is a Xform prim"):
        import_splat(ImportSplatConfig(source=nv_usda, stage=twin, prim="/World/S", from_prim="/nv"))
    result = import_splat(ImportSplatConfig(source=nv_usda, stage=twin, prim="/World/S", from_prim="/other"))
    assert result.count == 5
    with pytest.raises(InputError, match=r"--from-prim: only applies to a USD source"):
        import_splat(ImportSplatConfig(source=tmp_path / "x.ply", stage=twin, prim="/World/T", from_prim="/a"))


def test_import_mesh_from_a_usd_quad_cube_in_millimetres(tmp_path: Path) -> None:
    path = tmp_path / "cube.usdc"
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 0.001)
    corners = np.array([[x, y, z] for x in (-50, 50) for y in (0, 100) for z in (-50, 50)], dtype=float)
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]  # outward
    mesh = UsdGeom.Mesh.Define(stage, "/Cube")
    mesh.CreatePointsAttr().Set(Vt.Vec3fArray.FromNumpy(corners.astype(np.float32)))
    mesh.CreateFaceVertexCountsAttr().Set(Vt.IntArray([4] * 6))
    mesh.CreateFaceVertexIndicesAttr().Set(Vt.IntArray([i for quad in quads for i in quad]))
    stage.GetRootLayer().Save()
    twin = tmp_path / "twin.usda"
    result = import_mesh(ImportMeshConfig(source=path, stage=twin, prim="/World/Objects/Cube", dynamic=True))
    assert result.warnings == []
    assert result.mass_kg == pytest.approx(MATERIALS["wood"].density_kg_m3 * 0.1**3, rel=1e-6)
    opened = Usd.Stage.Open(str(twin))
    body = opened.GetPrimAtPath("/World/Objects/Cube")
    pose = np.array(UsdGeom.Xformable(body).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
    np.testing.assert_allclose(pose[:3, 3], [0.0, 0.0, 0.05], atol=1e-7)  # y-up (0, 50, 0) mm -> z 0.05 m
    assert UsdPhysics.MassAPI(body).GetMassAttr().Get() == pytest.approx(result.mass_kg, rel=1e-6)


def test_inspect_describes_a_foreign_stage(nv_usda: Path, capsys) -> None:
    assert main(["inspect", str(nv_usda), "--json"]) == 0
    description = json.loads(capsys.readouterr().out)
    assert description["twin"] is False and description["up_axis"] == "Y"
    assert description["meters_per_unit"] == 0.01
    assert [(s["prim"], s["count"]) for s in description["splats"]] == [("/nv/gsplat", len(MEANS))]
    assert main(["inspect", str(nv_usda)]) == 0
    assert "not a SplatTwin twin" in capsys.readouterr().out
