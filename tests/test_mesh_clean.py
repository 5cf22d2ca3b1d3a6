"""Tests of splattwin.mesh.clean on hand-built meshes with hand-counted or closed-form expectations."""

import json

import numpy as np
import pytest
import trimesh

from splattwin.errors import InputError
from splattwin.mesh import MeshCleaningConfig, clean_mesh, validate_mesh


def raw_mesh(vertices, faces) -> trimesh.Trimesh:
    """A mesh exactly as given (trimesh would otherwise merge and drop things itself)."""
    return trimesh.Trimesh(np.asarray(vertices, dtype=float), np.asarray(faces), process=False, validate=False)


def box(extents, center=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    mesh = trimesh.creation.box(extents=extents)
    mesh.apply_translation(center)
    return mesh


def concatenate(*meshes: trimesh.Trimesh) -> trimesh.Trimesh:
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return raw_mesh(
        np.concatenate([m.vertices for m in meshes]),
        np.concatenate([m.faces + o for m, o in zip(meshes, offsets, strict=True)]),
    )


def test_cube_with_separate_corners_per_face_welds_24_to_8():
    # Each of the 6 square faces gets its own 4 corners: 24 vertices, 12 triangles, 8 distinct positions.
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
    squares = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    vertices = np.concatenate([corners[s] for s in squares])
    faces = np.concatenate([[[4 * i, 4 * i + 1, 4 * i + 2], [4 * i, 4 * i + 2, 4 * i + 3]] for i in range(6)])
    mesh = raw_mesh(vertices, faces)
    assert len(mesh.vertices) == 24

    cleaned, report = clean_mesh(mesh)

    assert (report.vertices_before, report.vertices_after, report.merged_vertices) == (24, 8, 16)
    assert report.faces_after == 12
    assert report.watertight and report.winding_consistent
    assert report.volume_m3 == pytest.approx(1.0)
    assert report.area_m2 == pytest.approx(6.0)
    assert report.bounds == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert cleaned.is_watertight and cleaned.volume == pytest.approx(1.0)  # trimesh agrees


def test_weld_tolerance_is_a_distance_not_a_decimal_grid():
    # Two copies of a vertex 2e-12 apart on both sides of the 8th decimal's rounding boundary; trimesh's
    # grid rounding keeps them apart, a distance tolerance (1e-6 of the diagonal) merges them.
    a = np.array([0.123456785 - 1e-12, 0.0, 0.0])
    b = np.array([0.123456785 + 1e-12, 0.0, 0.0])
    mesh = raw_mesh([a, [1, 0, 0], [0, 1, 0], b, [0, 0, 1]], [[0, 1, 2], [3, 2, 4]])

    _, report = clean_mesh(mesh)

    assert report.merged_vertices == 1
    assert report.vertices_after == 4


def test_vertices_farther_than_tolerance_are_not_merged():
    mesh = raw_mesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1e-3, 0, 0], [0, 0, 1]], [[0, 1, 2], [3, 2, 4]])

    _, report = clean_mesh(mesh, config=MeshCleaningConfig(merge_tolerance_fraction=1e-6))

    assert report.merged_vertices == 0


def test_degenerate_and_duplicate_faces_are_removed():
    vertices = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0.5, 0, 0]]  # vertex 3 lies on edge 0-1
    faces = [
        [0, 1, 2],  # the one good triangle
        [0, 0, 1],  # repeated index
        [0, 3, 1],  # zero-area sliver along the x axis
        [1, 0, 2],  # same triangle as the first, other orientation
    ]

    cleaned, report = clean_mesh(raw_mesh(vertices, faces))

    assert report.degenerate_faces_removed == 2
    assert report.duplicate_faces_removed == 1
    assert report.faces_after == 1
    assert report.unreferenced_vertices_removed == 1  # the sliver's midpoint
    assert report.area_m2 == pytest.approx(0.5)
    assert sorted(map(tuple, cleaned.vertices.tolist())) == [(0, 0, 0), (0, 1, 0), (1, 0, 0)]


def test_tiny_far_away_tetrahedron_is_dropped_as_floater():
    sphere = trimesh.creation.icosphere(subdivisions=3)  # 1280 faces, radius 1
    corners = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]) * 0.01 + [10, 0, 0]
    floater = raw_mesh(corners, [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])  # 1 cm tetrahedron, 10 m away

    cleaned, report = clean_mesh(concatenate(sphere, floater))

    assert report.components_dropped_floaters == 1
    assert report.components_kept == 1
    assert report.faces_after == 1280
    assert cleaned.bounds[1][0] == pytest.approx(1.0)
    assert report.volume_m3 == pytest.approx(sphere.volume)


@pytest.mark.parametrize(
    ("config", "dropped"),
    [
        # 12 faces vs 1280 = 0.94%: a floater by face count at 1%, not at 0.5%
        (MeshCleaningConfig(min_component_fraction=0.01, min_component_extent_fraction=0.0), 1),
        (MeshCleaningConfig(min_component_fraction=0.005, min_component_extent_fraction=0.0), 0),
        # box diagonal sqrt(3) * 0.1 = 0.173 is 3.3% of the whole mesh's 5.23: a floater by size at 5%, not at 3%
        (MeshCleaningConfig(min_component_fraction=0.0, min_component_extent_fraction=0.05), 1),
        (MeshCleaningConfig(min_component_fraction=0.0, min_component_extent_fraction=0.03), 0),
    ],
)
def test_floater_criteria_each_work_alone(config, dropped):
    sphere = trimesh.creation.icosphere(subdivisions=3)
    small_box = box([0.1, 0.1, 0.1], center=[2.0, 1.95, 1.95])  # 12 faces
    # whole bbox (-1, -1, -1)..(2.05, 2, 2): diagonal sqrt(3.05^2 + 3^2 + 3^2) = 5.225
    _, report = clean_mesh(concatenate(sphere, small_box), config=config)

    assert report.components_dropped_floaters == dropped


@pytest.mark.parametrize("inner_inward", [False, True])
def test_inner_shell_is_dropped_but_a_similar_object_beside_it_is_kept(inner_inward):
    outer = box([1.0, 1.0, 1.0])
    inner = box([0.5, 0.5, 0.5], center=[0.1, 0.0, -0.1])
    if inner_inward:  # a TSDF inner wall faces into the cavity
        inner = raw_mesh(inner.vertices, inner.faces[:, ::-1])
    beside = box([0.9, 0.9, 0.9], center=[2.0, 0.0, 0.0])

    cleaned, report = clean_mesh(concatenate(outer, inner, beside))

    assert report.components_dropped_inner_shells == 1
    assert report.components_dropped_floaters == 0
    assert report.components_kept == 2
    assert report.faces_after == 24
    assert report.faces_flipped == 0
    assert report.volume_m3 == pytest.approx(1.0 + 0.9**3)


def test_inner_shells_kept_when_disabled():
    mesh = concatenate(box([1.0, 1.0, 1.0]), box([0.5, 0.5, 0.5]))

    _, report = clean_mesh(mesh, config=MeshCleaningConfig(remove_inner_shells=False))

    assert report.components_kept == 2
    assert report.volume_m3 == pytest.approx(1.0 + 0.125)  # both outward: signed volumes add


def test_flipped_half_of_icosphere_is_fixed():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    faces = sphere.faces.copy()
    faces[::2] = faces[::2, ::-1]  # flip 640 of 1280 faces
    mesh = raw_mesh(sphere.vertices, faces)
    assert not mesh.is_winding_consistent

    cleaned, report = clean_mesh(mesh)

    assert report.faces_flipped == 640
    assert report.winding_consistent
    assert report.volume_m3 == pytest.approx(sphere.volume) and report.volume_m3 > 0
    np.testing.assert_array_equal(cleaned.faces, sphere.faces)
    reference = raw_mesh(sphere.vertices, faces)
    trimesh.repair.fix_normals(reference)  # a second implementation reaches the same orientation
    np.testing.assert_array_equal(cleaned.faces, reference.faces)


def test_fully_inverted_icosphere_is_turned_outward():
    sphere = trimesh.creation.icosphere(subdivisions=2)

    _, report = clean_mesh(raw_mesh(sphere.vertices, sphere.faces[:, ::-1]))

    assert report.faces_flipped == len(sphere.faces)
    assert report.volume_m3 == pytest.approx(sphere.volume)


def test_open_patch_keeps_the_orientation_most_input_faces_had():
    grid = trimesh.creation.box(extents=[1, 1, 1])
    patch = raw_mesh(grid.vertices, grid.faces[:8])  # 4 of 6 sides: open
    faces = patch.faces.copy()
    faces[[1, 4]] = faces[[1, 4], ::-1]  # 2 of 8 disagree

    _, report = clean_mesh(raw_mesh(patch.vertices, faces))

    assert report.faces_flipped == 2
    assert report.winding_consistent


def test_open_mesh_is_not_watertight_and_has_no_volume():
    cube = trimesh.creation.box(extents=[1, 1, 1])
    open_box = raw_mesh(cube.vertices, cube.faces[2:])  # one square side (2 triangles) removed

    cleaned, report = clean_mesh(open_box)

    assert not report.watertight
    assert report.boundary_edges == 4  # the missing square's 4 sides
    assert report.volume_m3 is None
    assert report.area_m2 == pytest.approx(5.0)
    validate_mesh(cleaned, source="open.obj", require_watertight=False)
    with pytest.raises(InputError, match="not watertight: 4 boundary edges") as caught:
        validate_mesh(cleaned, source="open.obj", require_watertight=True)
    assert "open.obj" in str(caught.value)


def test_three_triangles_on_one_edge_is_one_non_manifold_edge():
    vertices = [[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0.3], [0.5, 0, 1]]
    fan = raw_mesh(vertices, [[0, 1, 2], [1, 0, 3], [0, 1, 4]])

    cleaned, report = clean_mesh(fan)

    assert report.non_manifold_edges == 1
    assert report.boundary_edges == 6
    assert not report.watertight
    with pytest.raises(InputError, match="1 non-manifold edges") as caught:
        validate_mesh(cleaned, source="fan.ply", require_watertight=False)
    assert caught.value.source == "fan.ply"


def test_validate_rejects_empty_and_accepts_closed():
    with pytest.raises(InputError, match="empty"):
        validate_mesh(raw_mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int)), source="x.obj", require_watertight=False)
    validate_mesh(trimesh.creation.icosphere(), source="x.obj", require_watertight=True)


def test_input_is_not_mutated_and_report_is_json():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    faces = sphere.faces.copy()
    faces[::3] = faces[::3, ::-1]
    mesh = concatenate(raw_mesh(sphere.vertices, faces), raw_mesh(sphere.vertices * 0.01 + 5, sphere.faces))
    vertices_before, faces_before = mesh.vertices.copy(), mesh.faces.copy()

    _, report = clean_mesh(mesh, source="scan.ply")

    np.testing.assert_array_equal(mesh.vertices, vertices_before)
    np.testing.assert_array_equal(mesh.faces, faces_before)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["source"] == "scan.ply"
    assert data["components_dropped_floaters"] == 1
    assert data["bounds"] == [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]


def test_bad_mesh_and_bad_config_raise_input_error():
    with pytest.raises(InputError, match="scan.ply: mesh has NaN"):
        clean_mesh(raw_mesh([[0, 0, np.nan], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]]), source="scan.ply")
    with pytest.raises(InputError, match="min_component_fraction"):
        clean_mesh(trimesh.creation.box(), config=MeshCleaningConfig(min_component_fraction=2.0))


def test_object_inside_an_open_container_is_kept():
    # An open-topped box (top square removed) is not closed, so "inside" is undefined: its content stays.
    cube = trimesh.creation.box(extents=[1, 1, 1])
    top = np.flatnonzero(cube.triangles_center[:, 2] > 0.49)
    assert len(top) == 2
    tray = raw_mesh(cube.vertices, np.delete(cube.faces, top, axis=0))
    content = box([0.3, 0.3, 0.3])

    _, report = clean_mesh(concatenate(tray, content))

    assert report.components_dropped_inner_shells == 0
    assert report.components_kept == 2


def test_winding_numbers_of_a_closed_sphere():
    from splattwin.mesh.clean import _winding_numbers

    sphere = trimesh.creation.icosphere(subdivisions=2)
    points = np.array([[0, 0, 0], [0.5, 0.3, -0.2], [2, 0, 0], [0, 0, -1.5]], dtype=float)

    np.testing.assert_allclose(_winding_numbers(points, sphere.triangles), [1, 1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(_winding_numbers(points, sphere.triangles[:, ::-1]), [-1, -1, 0, 0], atol=1e-9)


def test_closed_box_poking_out_of_a_sphere_is_not_an_inner_shell():
    # Its bounding box lies within the sphere's, but only its corner nearest the centre, (0.35, 0.35, 0.35) at
    # distance 0.61, is inside the unit sphere: the bbox pre-check alone would wrongly drop it.
    sphere = trimesh.creation.icosphere(subdivisions=3)
    corner_box = box([0.5, 0.5, 0.5], center=[0.6, 0.6, 0.6])
    everything = MeshCleaningConfig(min_component_fraction=0.0, min_component_extent_fraction=0.0)

    _, report = clean_mesh(concatenate(sphere, corner_box), config=everything)

    assert report.components_dropped_inner_shells == 0
    assert report.components_kept == 2
