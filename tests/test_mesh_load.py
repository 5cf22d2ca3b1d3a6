"""Tests of splattwin.mesh.load: every supported format, scene flattening and each bad-input error."""

import numpy as np
import pytest
import trimesh

from splattwin.errors import InputError
from splattwin.mesh import clean_mesh, load_mesh

CUBE_FORMATS = ["obj", "ply", "stl", "glb", "gltf"]


@pytest.mark.parametrize("suffix", CUBE_FORMATS)
def test_unit_cube_round_trips_through_each_format(tmp_path, suffix):
    path = tmp_path / f"cube.{suffix}"
    trimesh.creation.box(extents=[1.0, 1.0, 1.0]).export(path)

    mesh = load_mesh(path)

    assert mesh.vertices.dtype == np.float64
    assert mesh.faces.shape == (12, 3)  # 6 squares, 2 triangles each
    np.testing.assert_allclose(mesh.bounds, [[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]], atol=1e-6)
    # Closed form: volume 1 m^3, area 6 m^2 (float32 storage in PLY/glTF/STL allows ~1e-6).
    assert mesh.volume == pytest.approx(1.0, abs=1e-5)
    assert mesh.area == pytest.approx(6.0, abs=1e-5)
    cleaned, report = clean_mesh(mesh, source=path)
    assert report.vertices_after == 8  # STL stores 36 corners; welding brings every format to the 8 cube corners
    assert report.watertight and report.winding_consistent
    assert report.volume_m3 == pytest.approx(1.0, abs=1e-5)


def test_gltf_scene_nodes_are_placed_by_their_transforms_and_not_rotated(tmp_path):
    scene = trimesh.Scene()
    box = trimesh.creation.box(extents=[1.0, 1.0, 1.0])
    scene.add_geometry(
        box, node_name="a", geom_name="a", transform=trimesh.transformations.translation_matrix([5, 0, 0])
    )
    scene.add_geometry(
        box, node_name="b", geom_name="b", transform=trimesh.transformations.translation_matrix([0, 0, 3])
    )
    path = tmp_path / "two.glb"
    scene.export(path)

    mesh = load_mesh(path)

    assert mesh.faces.shape == (24, 3)
    # Union of a box at x = 5 and one at z = 3: glTF's y-up is not converted, z stays z.
    np.testing.assert_allclose(mesh.bounds, [[-0.5, -0.5, -0.5], [5.5, 0.5, 3.5]], atol=1e-6)
    assert mesh.volume == pytest.approx(2.0, abs=1e-5)


def test_obj_quad_is_triangulated(tmp_path):
    path = tmp_path / "quad.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n")

    mesh = load_mesh(path)

    assert mesh.faces.shape == (2, 3)
    assert mesh.area == pytest.approx(1.0)


def test_obj_with_non_utf8_comment_still_loads(tmp_path):
    path = tmp_path / "latin1.obj"
    path.write_bytes("# made in Zürich\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n".encode("latin-1"))

    assert load_mesh(path).area == pytest.approx(0.5)


def _ascii_ply(vertices: str, faces: str, vertex_count: int, face_count: int) -> str:
    return (
        "ply\nformat ascii 1.0\n"
        f"element vertex {vertex_count}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {face_count}\nproperty list uchar int vertex_indices\nend_header\n{vertices}{faces}"
    )


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("garbage.obj", b"\x00\x01\x02\xff\xfe" * 100, "binary"),
        ("garbage.stl", bytes(range(256)) * 2, "STL"),
        ("garbage.ply", b"not a ply at all\n" * 10, "PLY"),
        ("garbage.glb", b"glTF" + bytes(range(200)), "GLB"),
        ("empty.obj", b"", "no faces"),
        ("points.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", "point cloud"),
        ("nan.obj", b"v 0 0 0\nv 1 0 nan\nv 0 1 0\nf 1 2 3\n", "NaN"),
        ("inf.obj", b"v 0 0 0\nv 1 0 inf\nv 0 1 0\nf 1 2 3\n", "NaN/Inf"),
        ("range.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 7\n", "does not exist"),
        ("range.ply", _ascii_ply("0 0 0\n1 0 0\n0 1 0\n", "3 0 1 5\n", 3, 1).encode(), "out of range"),
        ("faceless.ply", _ascii_ply("0 0 0\n1 0 0\n0 1 0\n", "", 3, 0).encode(), "no faces"),
    ],
)
def test_bad_files_raise_input_error_naming_file_and_problem(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(InputError, match=problem) as caught:
        load_mesh(path)

    assert caught.value.source == str(path)
    assert name in str(caught.value)


def test_point_cloud_ply_is_rejected(tmp_path):
    path = tmp_path / "cloud.ply"
    trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(path)

    with pytest.raises(InputError, match="point cloud"):
        load_mesh(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist") as caught:
        load_mesh(tmp_path / "nowhere.obj")
    assert "nowhere.obj" in str(caught.value)


def test_unsupported_suffix_lists_supported_ones(tmp_path):
    path = tmp_path / "model.fbx"
    path.write_bytes(b"whatever")

    with pytest.raises(InputError, match=r"unsupported mesh format '\.fbx'.*\.obj, \.ply, \.stl, \.glb, \.gltf"):
        load_mesh(path)
