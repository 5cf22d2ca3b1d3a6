"""Frame unification baked into a twin: splats (means, orientations, scales, SH), meshes, bodies; and its inverse.

The expected world data come from a ground-truth transform chosen in the test and applied independently
(numpy matrices, scipy rotations, the SH basis evaluated at turned directions), never from the code's output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from conftest import random_gaussians
from pxr import Usd, UsdGeom, UsdPhysics
from scipy.spatial.transform import Rotation

from splattwin.geometry import eval_sh_basis
from splattwin.io import write_gaussians
from splattwin.pipelines import AlignConfig, ImportMeshConfig, ImportSplatConfig, align_twin, import_mesh, import_splat
from splattwin.pipelines.claim import ClaimConfig, claim_gaussians
from splattwin.usd import open_twin, read_gaussians_prim, validate_stage

# Ground truth: world (z up, metres) -> reconstruction (y up, 2.5 units per metre, shifted). The y-up change maps
# world (x, y, z) to recon (x, z, -y) (the inverse of +90 deg about x).
RECON_SCALE = 2.5
RECON_SHIFT = np.array([0.4, -1.0, 2.0])
WORLD_TO_RECON_ROT = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=float)


def to_recon(points: np.ndarray) -> np.ndarray:
    return RECON_SCALE * points @ WORLD_TO_RECON_ROT.T + RECON_SHIFT


@pytest.fixture
def recon_twin(tmp_path: Path) -> tuple[Path, dict]:
    """A twin imported as captured: splat + static floor + dynamic box, all in the reconstruction frame."""
    world = random_gaussians(400, degree=3, seed=7)
    world.means[:] = np.random.default_rng(3).uniform([-0.5, -0.5, 0.0], [0.5, 0.5, 0.3], (400, 3))
    world.means[:40] = np.random.default_rng(4).uniform([0.15, -0.13, 0.0], [0.25, -0.07, 0.05], (40, 3))  # on the box
    recon_rot = Rotation.from_matrix(WORLD_TO_RECON_ROT)
    recon = type(world)(
        means=to_recon(world.means),
        quats_wxyz=(recon_rot * Rotation.from_quat(world.quats_wxyz[:, [1, 2, 3, 0]])).as_quat()[:, [3, 0, 1, 2]],
        scales=world.scales * RECON_SCALE,
        opacities=world.opacities,
        sh=world.sh,  # SH left unrotated on purpose: the test checks colours by direction, see below
    )
    write_gaussians(tmp_path / "splat.ply", recon)
    floor = trimesh.creation.box(extents=(2.0, 2.0, 0.02))
    floor.apply_translation((0, 0, -0.01))
    floor.vertices = to_recon(floor.vertices)
    floor.export(tmp_path / "floor.obj")
    box = trimesh.creation.box(extents=(0.1, 0.06, 0.05))
    box.apply_translation((0.2, -0.1, 0.025))
    box.vertices = to_recon(box.vertices)
    box.export(tmp_path / "box.obj")
    stage = tmp_path / "twin.usda"
    import_splat(ImportSplatConfig(source=tmp_path / "splat.ply", stage=stage, prim="/World/Scene/Splat"))
    import_mesh(ImportMeshConfig(source=tmp_path / "floor.obj", stage=stage, prim="/World/Scene/Floor"))
    import_mesh(ImportMeshConfig(source=tmp_path / "box.obj", stage=stage, prim="/World/Objects/Box", dynamic=True))
    return stage, {"world": world, "recon": recon}


# Two reconstruction-frame points 1 m apart in the world: what a person measures to fix the scale.
METRIC_SCALE_FROM = (*(tuple(p) for p in to_recon(np.array([[0.0, 0, 0], [1.0, 0, 0]]))), 1.0)


def _align(stage: Path) -> None:
    align_twin(
        AlignConfig(
            stage=stage,
            up_axis="y",
            scale_from=METRIC_SCALE_FROM,
            origin=tuple(to_recon(np.zeros((1, 3)))[0]),
        )
    )


def test_alignment_recovers_world_frame(recon_twin) -> None:
    stage, data = recon_twin
    _align(stage)
    twin = open_twin(stage)
    splat = read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Scene/Splat"))
    world = data["world"]
    np.testing.assert_allclose(splat.means, world.means, atol=2e-6)
    np.testing.assert_allclose(splat.scales, world.scales, rtol=2e-6)
    same_rotation = np.abs(np.sum(splat.quats_wxyz * world.quats_wxyz, axis=1))  # q and -q are one rotation
    np.testing.assert_allclose(same_rotation, 1.0, atol=1e-6)
    # View-dependent colour turned with the scene: seen from world direction d it is what the recon splat showed
    # from the recon direction R d (R = world -> recon rotation).
    dirs = np.random.default_rng(0).standard_normal((32, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    after = np.einsum("nkc,dk->ndc", splat.sh, eval_sh_basis(dirs, 3))
    before = np.einsum("nkc,dk->ndc", data["recon"].sh, eval_sh_basis(dirs @ WORLD_TO_RECON_ROT.T, 3))
    np.testing.assert_allclose(after, before, atol=1e-5)
    # Static mesh back at its true place; the body at the box centre, upright, with its metric mass prior.
    floor = np.asarray(UsdGeom.Mesh(twin.stage.GetPrimAtPath("/World/Scene/Floor")).GetPointsAttr().Get())
    np.testing.assert_allclose(floor.min(0), [-1, -1, -0.02], atol=1e-6)
    np.testing.assert_allclose(floor.max(0), [1, 1, 0], atol=1e-6)
    body = twin.stage.GetPrimAtPath("/World/Objects/Box")
    pose = np.array(UsdGeom.Xformable(body).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
    np.testing.assert_allclose(pose[:3, 3], [0.2, -0.1, 0.025], atol=1e-6)
    # The body keeps the axes it got at import (the reconstruction's), so its world rotation is recon -> world;
    # its collision mesh, posed, is the metric box where it really is. (quatf: float32 precision.)
    np.testing.assert_allclose(pose[:3, :3], WORLD_TO_RECON_ROT.T, atol=1e-6)
    collision = twin.stage.GetPrimAtPath("/World/Objects/Box/collision")
    local = np.asarray(UsdGeom.Mesh(collision).GetPointsAttr().Get(), dtype=float)
    posed = local @ pose[:3, :3].T + pose[:3, 3]
    np.testing.assert_allclose(posed.min(0), [0.15, -0.13, 0.0], atol=1e-6)
    np.testing.assert_allclose(posed.max(0), [0.25, -0.07, 0.05], atol=1e-6)
    mass = UsdPhysics.MassAPI(body).GetMassAttr()
    assert mass.Get() == pytest.approx(0.1 * 0.06 * 0.05 * 600.0, rel=1e-5)  # wood, 600 kg/m^3
    assert mass.GetCustomDataByKey("splattwin:provenance")["kind"] == "prior"
    inertia = np.sort(np.asarray(UsdPhysics.MassAPI(body).GetDiagonalInertiaAttr().Get()))
    m = mass.Get()
    closed_form = np.sort([m / 12 * (0.06**2 + 0.05**2), m / 12 * (0.1**2 + 0.05**2), m / 12 * (0.1**2 + 0.06**2)])
    np.testing.assert_allclose(inertia, closed_form, rtol=1e-4)
    assert not [i for i in validate_stage(twin.stage) if i.severity == "Error"]


def test_alignment_is_recorded_and_invertible(recon_twin) -> None:
    stage, data = recon_twin
    _align(stage)
    twin = open_twin(stage)
    record = twin.stage.GetPrimAtPath("/World").GetCustomDataByKey("splattwin:alignment")
    matrix = np.asarray(record["worldFromReconstruction"]).reshape(4, 4)
    expected = np.eye(4)
    expected[:3, :3] = WORLD_TO_RECON_ROT.T / RECON_SCALE
    expected[:3, 3] = -WORLD_TO_RECON_ROT.T @ RECON_SHIFT / RECON_SCALE
    np.testing.assert_allclose(matrix, expected, atol=1e-9)
    frame = twin.stage.GetPrimAtPath("/World/Scene/Splat").GetCustomDataByKey("splattwin:frame")
    np.testing.assert_allclose(np.asarray(frame["sourceToWorld"]).reshape(4, 4), expected, atol=1e-9)
    del twin
    align_twin(AlignConfig(stage=stage, invert=True))
    twin = open_twin(stage)
    splat = read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Scene/Splat"))
    recon = data["recon"]
    np.testing.assert_allclose(splat.means, recon.means, atol=1e-5)
    np.testing.assert_allclose(splat.scales, recon.scales, rtol=1e-5)
    np.testing.assert_allclose(splat.sh, recon.sh, atol=1e-5)
    assert not twin.stage.GetPrimAtPath("/World").GetCustomDataByKey("splattwin:alignment")
    body = UsdPhysics.MassAPI(twin.stage.GetPrimAtPath("/World/Objects/Box"))
    # Back in reconstruction units the prior is density x recon volume again (2.5^3 times the metric one).
    assert body.GetMassAttr().Get() == pytest.approx(0.1 * 0.06 * 0.05 * 600.0 * RECON_SCALE**3, rel=1e-5)


def test_claim_moves_object_gaussians_into_the_body(recon_twin, tmp_path: Path) -> None:
    stage, _ = recon_twin
    _align(stage)
    twin = open_twin(stage)
    all_means = read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Scene/Splat")).means
    inside = np.all(np.abs(all_means - [0.2, -0.1, 0.025]) <= np.array([0.05, 0.03, 0.025]) + 0.004, axis=1)
    del twin
    count = claim_gaussians(
        ClaimConfig(stage=stage, splat="/World/Scene/Splat", body="/World/Objects/Box", margin=0.004)
    )
    assert count == int(inside.sum()) > 0
    twin = open_twin(stage)
    body_splat = read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Objects/Box/Gaussians"))
    # In the body frame: x_body = R^T (x_world - c), with the body's world rotation R = recon -> world.
    expected = (all_means[inside] - [0.2, -0.1, 0.025]) @ WORLD_TO_RECON_ROT.T  # rows: (x - c) @ R
    np.testing.assert_allclose(body_splat.means, expected, atol=1e-6)
    assert len(read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Scene/Splat"))) == len(all_means) - count
    assert twin.layer_of("/World/Objects/Box/Gaussians") == "objects"


def test_align_needs_something_to_do(recon_twin) -> None:
    from splattwin.errors import InputError

    stage, _ = recon_twin
    with pytest.raises(InputError, match="nothing to do"):
        align_twin(AlignConfig(stage=stage))
    with pytest.raises(InputError, match="--invert"):
        align_twin(AlignConfig(stage=stage, invert=True, origin=(0, 0, 0)))


def test_table_from_a_prim_levels_it_at_the_given_height(recon_twin) -> None:
    """``--table PRIM`` fits the plane on that prim only: the floor box's top (world z = 0) lands at 0.3 m."""
    stage, _ = recon_twin
    align_twin(
        AlignConfig(
            stage=stage,
            up_axis="y",
            scale_from=METRIC_SCALE_FROM,
            table="/World/Scene/Floor",
            table_height=0.3,
        )
    )
    twin = open_twin(stage)
    floor = np.asarray(UsdGeom.Mesh(twin.stage.GetPrimAtPath("/World/Scene/Floor")).GetPointsAttr().Get())
    # 0.5 mm: samples of the box's 2 cm sides that fall inside the inlier band pull the least-squares fit a little.
    np.testing.assert_allclose([floor[:, 2].min(), floor[:, 2].max()], [0.28, 0.30], atol=5e-4)
    record = twin.stage.GetPrimAtPath("/World").GetCustomDataByKey("splattwin:alignment")
    assert [record["steps"][k]["name"] for k in sorted(record["steps"])] == ["up_axis", "scale", "table"]
