"""``claim`` decides by the collision mesh itself (winding number + a surface margin), not its convex hull, so the
Gaussians in a concavity stay in the scene. Shapes and expectations are built by hand here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from conftest import random_gaussians

from splattwin.cli import main
from splattwin.geometry.inside import winding_numbers_and_distances
from splattwin.io import write_gaussians
from splattwin.pipelines import ImportMeshConfig, ImportSplatConfig, import_mesh, import_splat
from splattwin.pipelines.claim import points_in_mesh, winding_numbers
from splattwin.usd import open_twin, read_gaussians_prim

UNIT = 0.02  # metres per polygon unit: the U is 6 cm wide, 6 cm tall, its slot 2 cm wide and 4 cm deep
# A U in the (x, z) plane, opening up: the outline and a hand triangulation (areas sum to 7 units^2).
OUTLINE = np.array([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]], dtype=float)
TRIANGLES = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [0, 4, 5], [0, 5, 7], [5, 6, 7]])


def u_shape() -> trimesh.Trimesh:
    prism = trimesh.creation.extrude_triangulation(OUTLINE * UNIT, TRIANGLES, height=0.04)
    prism.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))  # (x, y, z) -> (x, -z, y)
    prism.apply_translation((0.0, 0.02, 0.0))  # y from -0.02 to 0.02
    return prism


def test_winding_numbers_of_a_cube_are_one_inside_zero_outside() -> None:
    cube = trimesh.creation.box(extents=(1, 1, 1))
    inside = np.array([[0, 0, 0], [0.4, -0.4, 0.3]])
    outside = np.array([[0.6, 0, 0], [3, 2, 1], [0, 0, -0.51]])
    values = winding_numbers(np.vstack([inside, outside]), cube.vertices, cube.faces)
    np.testing.assert_allclose(values, [1, 1, 0, 0, 0], atol=1e-9)


def test_distances_match_trimesh_closest_points_on_a_triangle_soup() -> None:
    """Every Voronoi region of a triangle (vertices, edges, face), degenerate triangles included, against trimesh."""
    rng = np.random.default_rng(8)
    vertices = rng.normal(size=(30, 3))
    faces = rng.integers(0, 30, (25, 3))
    faces[0] = [3, 3, 7]  # a degenerate (segment) triangle
    points = rng.normal(scale=1.5, size=(200, 3))
    _, distances = winding_numbers_and_distances(points, vertices, faces)
    triangles = vertices[faces]
    closest = trimesh.triangles.closest_point(
        np.repeat(triangles[None], len(points), 0).reshape(-1, 3, 3), np.repeat(points, len(faces), 0)
    ).reshape(len(points), len(faces), 3)
    expected = np.linalg.norm(closest - points[:, None], axis=-1).min(axis=1)
    np.testing.assert_allclose(distances, expected, atol=1e-12)


def test_points_in_a_concave_mesh_and_its_margin() -> None:
    shape = u_shape()
    assert shape.is_watertight and shape.volume == pytest.approx(7 * UNIT**2 * 0.04)
    points = np.array(
        [
            [0.01, 0.0, 0.04],  # inside the left leg
            [0.03, 0.0, 0.01],  # inside the base
            [0.03, 0.0, 0.045],  # in the slot, 1 cm from both walls: inside the hull, not the mesh
            [0.03, 0.0, 0.061],  # above the slot, 1 mm over the rim plane: not within 1 mm of the mesh (slot)
            [0.0605, 0.0, 0.03],  # 0.5 mm outside the right wall: within the margin
            [0.063, 0.0, 0.03],  # 3 mm outside: beyond the margin
        ]
    )
    np.testing.assert_array_equal(
        points_in_mesh(points, shape.vertices, shape.faces, margin=0.001), [True, True, False, False, True, False]
    )


def test_claim_leaves_the_slot_gaussians_in_the_scene(tmp_path: Path, capsys) -> None:
    u_shape().export(tmp_path / "u.obj")
    rng = np.random.default_rng(3)
    in_material = np.vstack(
        [
            rng.uniform([0.003, -0.015, 0.023], [0.017, 0.015, 0.057], (20, 3)),  # left leg
            rng.uniform([0.003, -0.015, 0.003], [0.057, 0.015, 0.017], (20, 3)),  # base
        ]
    )
    in_slot = rng.uniform([0.026, -0.015, 0.026], [0.034, 0.015, 0.058], (20, 3))  # >= 6 mm from every wall
    far = rng.uniform([0.5, 0.5, 0.0], [1.0, 1.0, 0.3], (40, 3))
    scene = random_gaussians(100, degree=0, seed=4)
    scene.means[:] = np.vstack([in_material, in_slot, far])
    write_gaussians(tmp_path / "scene.ply", scene)
    stage = tmp_path / "twin.usda"
    import_splat(ImportSplatConfig(source=tmp_path / "scene.ply", stage=stage, prim="/World/Scene/Splat"))
    import_mesh(ImportMeshConfig(source=tmp_path / "u.obj", stage=stage, prim="/World/Objects/U", dynamic=True))
    args = ["claim", "--stage", str(stage), "--splat", "/World/Scene/Splat", "--body", "/World/Objects/U"]
    assert main([*args, "--margin", "0.002"]) == 0
    assert "moved 40 Gaussians" in capsys.readouterr().out
    twin = open_twin(stage)
    left = read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Scene/Splat")).means
    np.testing.assert_allclose(np.sort(left, axis=0), np.sort(np.vstack([in_slot, far]), axis=0), atol=1e-6)
    assert len(read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Objects/U/Gaussians")).means) == 40
