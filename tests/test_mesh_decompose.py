"""Convex decomposition (CoACD): the fit of an L's parts, the part budget, the USD parts, and what uses them.

The L is a prism with hand-known geometry: arms 7 cm long and 3 cm wide, 8 cm tall (narrow enough for the Panda's
8 cm gripper, which the embedded runtime checks). Its convex hull closes the missing 4 x 4 cm corner with a diagonal
face; the inner corner's vertical edge lies (a - w) / sqrt(2) = 2.83 cm from that face (and 4 cm from the hull's top
and bottom), so the hull is 2.83 cm off there; two boxes fit it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import trimesh

from splattwin.errors import InputError
from splattwin.mesh.decompose import ConvexPart, decompose_convex, measure_fit

ARM, WIDTH, HEIGHT = 0.07, 0.03, 0.08
HULL_GAP_M = (ARM - WIDTH) / math.sqrt(2.0)
"""Distance from the L's inner-corner edge to its hull's diagonal face [m]."""


def l_prism(arm: float = ARM, width: float = WIDTH, height: float = HEIGHT) -> trimesh.Trimesh:
    """The L: outline (0,0) (a,0) (a,w) (w,w) (w,a) (0,a) extruded from z = 0 to ``height``, wound outwards."""
    outline = np.array([(0, 0), (arm, 0), (arm, width), (width, width), (width, arm), (0, arm)], dtype=np.float64)
    n = len(outline)
    vertices = np.concatenate([np.c_[outline, np.zeros(n)], np.c_[outline, np.full(n, height)]])
    fan = [(3, 4, 5), (3, 5, 0), (3, 0, 1), (3, 1, 2)]  # from the reflex corner: the outline is star-shaped there
    faces = [(a, c, b) for a, b, c in fan] + [(a + n, b + n, c + n) for a, b, c in fan]
    for i in range(n):
        j = (i + 1) % n
        faces += [(i, j, j + n), (i, j + n, i + n)]
    return trimesh.Trimesh(vertices, np.array(faces), process=False)


def test_the_l_prism_is_a_closed_l() -> None:
    mesh = l_prism()
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx((ARM * ARM - (ARM - WIDTH) ** 2) * HEIGHT, rel=1e-12)


def test_the_parts_of_an_l_fit_its_surface_within_2_mm_and_its_hull_is_3_cm_off() -> None:
    mesh = l_prism()
    result = decompose_convex(mesh.vertices, mesh.faces, threshold=0.05, max_parts=8)
    assert 2 <= len(result.parts) <= 8
    assert result.fit.max_distance <= 0.002
    assert result.fit.parts_to_surface_max <= 0.002
    union_volume = sum(trimesh.Trimesh(p.vertices, p.faces).volume for p in result.parts)
    assert union_volume == pytest.approx(mesh.volume, rel=0.02)  # the parts neither overlap nor leave gaps
    for part in result.parts:  # each part is convex and closed
        part_mesh = trimesh.Trimesh(part.vertices, part.faces)
        assert part_mesh.is_watertight and part_mesh.volume > 0
        assert part_mesh.volume == pytest.approx(part_mesh.convex_hull.volume, rel=1e-9)
    hull = mesh.convex_hull
    hull_fit = measure_fit(mesh.vertices, mesh.faces, [ConvexPart(hull.vertices, hull.faces)])
    # The inner corner's edge is inside the hull, 2.83 cm from its diagonal face (sampling finds within 1 mm).
    assert hull_fit.surface_to_parts_max == pytest.approx(HULL_GAP_M, abs=0.001)
    # The hull's diagonal face is at most (a - w) / 2 = 2 cm from the inner faces (its midpoint).
    assert hull_fit.parts_to_surface_max == pytest.approx((ARM - WIDTH) / 2, abs=0.001)
    provenance = result.provenance()
    assert provenance["library"] == "coacd" and provenance["version"] == "1.0.14"
    assert provenance["parts"] == len(result.parts) and provenance["threshold"] == 0.05


def test_a_decomposition_over_its_part_budget_is_refused_with_one_line() -> None:
    mesh = l_prism()
    with pytest.raises(InputError) as caught:
        decompose_convex(mesh.vertices, mesh.faces, max_parts=1, source="L.obj")
    message = str(caught.value)
    assert "\n" not in message and "L.obj" in message and "more than the budget of 1" in message
    with pytest.raises(InputError, match="threshold"):
        decompose_convex(mesh.vertices, mesh.faces, threshold=0.0)


def _import_l(tmp_path, collider: str, **options):
    from splattwin.pipelines.importing import ImportMeshConfig, import_mesh

    source = tmp_path / "L.obj"
    if not source.exists():
        l_prism().export(source)
    stage = tmp_path / collider / "twin.usda"
    result = import_mesh(
        ImportMeshConfig(
            source=source, stage=stage, prim="/World/Objects/L", dynamic=True, collider=collider, **options
        )
    )
    return stage, result


def test_the_parts_are_authored_as_usd_physics_colliders_and_read_back(tmp_path) -> None:
    from pxr import Usd, UsdGeom, UsdPhysics, UsdShade

    from splattwin.usd.bodies import read_collision_parts
    from splattwin.usd.identified import read_collision_mesh

    stage_path, result = _import_l(tmp_path, "decompose", max_parts=8)
    assert any("convex parts (coacd 1.0.14" in note for note in result.notes)
    stage = Usd.Stage.Open(str(stage_path))
    body = stage.GetPrimAtPath("/World/Objects/L")
    surface = body.GetChild("collision")
    assert surface.IsA(UsdGeom.Mesh) and not surface.HasAPI(UsdPhysics.CollisionAPI)  # the surface, no collider
    scope = body.GetChild("collisionParts")
    record = dict(scope.GetCustomDataByKey("splattwin:decomposition"))
    assert record["library"] == "coacd" and record["version"] == "1.0.14" and record["threshold"] == 0.05
    parts = [p for p in scope.GetChildren()]
    assert record["parts"] == len(parts) >= 2 and record["fitMaxM"] <= 0.002
    for prim in parts:
        assert prim.IsA(UsdGeom.Mesh) and prim.HasAPI(UsdPhysics.CollisionAPI)
        assert prim.HasAPI(UsdPhysics.MeshCollisionAPI)
        assert UsdPhysics.MeshCollisionAPI(prim).GetApproximationAttr().Get() == UsdPhysics.Tokens.convexHull
        assert UsdPhysics.CollisionAPI(prim).GetCollisionEnabledAttr().Get() in (None, True)
        assert UsdGeom.Imageable(prim).ComputePurpose() == UsdGeom.Tokens.guide
        material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial("physics")
        assert material and material.GetPrim().HasAPI(UsdPhysics.MaterialAPI)
        assert not prim.HasAPI(UsdPhysics.RigidBodyAPI)  # colliders of the body above, not bodies of their own
    read = read_collision_parts(stage, "/World/Objects/L")
    assert len(read) == len(parts)
    centre = UsdGeom.Xformable(body).ComputeLocalToWorldTransform(Usd.TimeCode.Default()).ExtractTranslation()
    lowest = min(float(v[:, 2].min()) for v, _ in read) + centre[2]
    assert lowest == pytest.approx(0.0, abs=1e-6)  # body frame back to the L's own frame: it stands on z = 0
    volume = sum(trimesh.Trimesh(v, f).volume for v, f in read)
    assert volume == pytest.approx(l_prism().volume, rel=0.02)
    vertices, faces = read_collision_mesh(stage, "/World/Objects/L")
    assert len(vertices) == 12 and len(faces) == 20  # the surface, not the first part
    from splattwin.usd.validation import validate_stage

    assert validate_stage(stage) == []  # OpenUSD's validators (UsdPhysics' among them) find nothing
    hull_stage, _ = _import_l(tmp_path, "hull")
    assert read_collision_parts(Usd.Stage.Open(str(hull_stage)), "/World/Objects/L") == []


def test_import_mesh_over_the_part_budget_exits_2_and_writes_no_twin(tmp_path, capsys) -> None:
    from splattwin.cli import main

    source = tmp_path / "L.obj"
    l_prism().export(source)
    stage = tmp_path / "t" / "twin.usda"
    args = ["import-mesh", str(source), "--stage", str(stage), "--prim", "/World/Objects/L", "--dynamic"]
    assert main([*args, "--collider", "decompose", "--max-parts", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "more than the budget of 1" in err
    assert not stage.exists()
    assert main([*args[:-1], "--collider", "decompose"]) == 2  # static scenery keeps its triangles
    assert "only applies to a --dynamic body" in capsys.readouterr().err


def _probe_rest_height(stage, probe_xy: np.ndarray) -> float:
    """Drop a 5 mm sphere over ``probe_xy`` (the L's frame) in the embedded runtime's MJCF; its resting z."""
    import mujoco
    from splattwin_tasks.embedded.mjcf import build_mjcf
    from splattwin_tasks.twin_scene import read_twin_scene

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the L's mass is a prior
        scene = read_twin_scene(stage, object_prim="/World/Objects/L", require_robot=False)
    text = build_mjcf(scene, 1, sim_dt=0.002, hand_start=np.array([0.6, 0.6, 0.6]))
    probe = (
        f'<body name="probe" pos="{probe_xy[0]} {probe_xy[1]} {HEIGHT + 0.03}"><freejoint/>'
        '<geom type="sphere" size="0.005" mass="0.002"/></body>'
    )
    model = mujoco.MjModel.from_xml_string(text.replace("</worldbody>", probe + "</worldbody>"))
    data = mujoco.MjData(model)
    for _ in range(750):  # 1.5 s
        mujoco.mj_step(model, data)
    return float(data.body("probe").xpos[2])


def test_a_probe_dropped_into_the_inner_corner_rests_on_the_table_with_parts_and_on_the_hull_without(
    tmp_path,
) -> None:
    """Over the missing corner (inside the hull, outside the L) the probe falls to the table between the inner
    faces with the parts, and stops on the hull's top face with the hull: the runtime collides the parts."""
    decomposed, _ = _import_l(tmp_path, "decompose", max_parts=8)
    hull, _ = _import_l(tmp_path, "hull")
    inside_hull_outside_l = np.array([0.045, 0.045])  # x + y = 0.09 < a + w = 0.10; x, y > w
    assert _probe_rest_height(decomposed, inside_hull_outside_l) == pytest.approx(0.005, abs=0.002)
    assert _probe_rest_height(hull, inside_hull_outside_l) == pytest.approx(HEIGHT + 0.005, abs=0.002)
    on_the_arm = np.array([0.015, 0.015])  # both stop it on top
    assert _probe_rest_height(decomposed, on_the_arm) == pytest.approx(HEIGHT + 0.005, abs=0.002)


def test_the_push_model_stands_a_decomposed_body_on_its_parts_corners() -> None:
    """Sysid's table contact points: the parts' corners include the L's inner corner, the hull's do not."""
    from splattwin.physics import body_from_mesh, sample_contact_points

    mesh = l_prism()
    centre = np.asarray(mesh.center_mass)
    parts = decompose_convex(mesh.vertices, mesh.faces, max_parts=8).parts
    shifted = [(p.vertices - centre, p.faces) for p in parts]
    inner = np.array([WIDTH, WIDTH, 0.0]) - centre
    with_parts = body_from_mesh(mesh.vertices - centre, mesh.faces, parts=shifted)
    without = body_from_mesh(mesh.vertices - centre, mesh.faces)
    points = sample_contact_points(with_parts, 64)
    hull_points = sample_contact_points(without, 64)
    assert np.linalg.norm(points - inner, axis=1).min() < 1e-4  # CoACD keeps corners to ~0.06 mm
    assert np.linalg.norm(hull_points - inner, axis=1).min() > 0.01
    assert with_parts.inertia_unit == pytest.approx(without.inertia_unit)  # inertia: the closed surface's


@pytest.mark.slow
def test_extract_mesh_dynamic_decomposes_an_l_made_from_its_splat(tmp_path) -> None:
    """``extract-mesh --dynamic --collider decompose``: the L fused from discs over it gets convex parts."""
    from pxr import Usd

    from splattwin.cli import main
    from splattwin.gaussians import Gaussians
    from splattwin.io import write_gaussians
    from splattwin.surfaces.sampling import discs_on_mesh
    from splattwin.usd.bodies import read_collision_parts

    shape = l_prism()
    shape.apply_translation((-0.035, -0.035, 0.02))  # on a table top at z = 0.02
    table = trimesh.creation.box((0.3, 0.3, 0.02))
    table.apply_translation((0, 0, 0.01))
    discs = discs_on_mesh(shape, 20000, seed=2)
    discs = discs.subset(discs.means[:, 2] > 0.0201)  # no capture sees the face on the table
    ply = tmp_path / "scene.ply"
    write_gaussians(ply, Gaussians.concatenate([discs, discs_on_mesh(table, 30000, seed=4)]))
    stage = tmp_path / "twin.usda"
    assert main(["import-splat", str(ply), "--stage", str(stage), "--prim", "/World/Scene", "--metric"]) == 0
    code = main(
        ["extract-mesh", "--stage", str(stage), "--splat", "/World/Scene", "--out-prim", "/World/Objects/L",
         "--region", "-0.05", "-0.05", "0", "0.05", "0.05", "0.11", "--views", "24", "--dynamic",
         "--collider", "decompose"]
    )  # fmt: skip
    assert code == 0
    usd = Usd.Stage.Open(str(stage))
    parts = read_collision_parts(usd, "/World/Objects/L")
    record = dict(usd.GetPrimAtPath("/World/Objects/L/collisionParts").GetCustomDataByKey("splattwin:decomposition"))
    assert len(parts) == record["parts"] >= 2
    assert record["fitMaxM"] <= 0.003  # of the parts to the fused surface they cut
    # Their union is the L (volume within the extraction's few per cent), not its hull (+24 %).
    volume = sum(trimesh.Trimesh(v, f).volume for v, f in parts)
    assert volume == pytest.approx(shape.volume, rel=0.06)
    assert shape.convex_hull.volume > 1.2 * shape.volume


@pytest.mark.slow
def test_identify_mass_of_a_decomposed_l_from_mujoco_pushes(tmp_path) -> None:
    """identify-mass on a twin whose L has convex parts (the logs name the prim, not a mesh): the push model
    reads the parts from the twin and the mass of MuJoCo's L (two boxes, 0.15 kg) comes back."""
    import json

    from _mujoco_logs import make_logs

    from splattwin.cli import main
    from splattwin.geometry.transforms import quat_wxyz_to_matrix
    from splattwin.io.pushlog import read_push_log
    from splattwin.usd import open_twin
    from splattwin.usd.identified import read_mass

    logs = make_logs(tmp_path / "logs", "l_shape")
    first = read_push_log(logs[0])
    mesh = trimesh.load(first.mesh_path, process=False, force="mesh")
    pose = first.object_pose[0]
    world = np.asarray(mesh.vertices) @ quat_wxyz_to_matrix(pose[3:]).T + pose[:3]
    trimesh.Trimesh(world, mesh.faces, process=False).export(tmp_path / "L.obj")
    stage = tmp_path / "twin" / "twin.usda"
    prim = "/World/Objects/L"
    argv = ["import-mesh", str(tmp_path / "L.obj"), "--stage", str(stage), "--prim", prim, "--dynamic"]
    assert main([*argv, "--collider", "decompose"]) == 0
    for log in logs:  # name the twin's prim instead of the log's own mesh
        meta = json.loads((log / "meta.json").read_text())
        meta["object"] = {"prim": prim}
        (log / "meta.json").write_text(json.dumps(meta))
    report = tmp_path / "identify.json"
    code = main(
        ["identify-mass", "--stage", str(stage), "--object", prim, "--log", *map(str, logs), "--report", str(report)]
    )
    assert code == 0
    data = json.loads(report.read_text())
    assert data["mesh"].endswith("convex parts") and data["identifiable"]
    mass, _, source, _ = read_mass(open_twin(stage).stage, prim)
    assert source == "identified" and mass == pytest.approx(0.15, rel=0.05)
