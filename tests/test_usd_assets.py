"""The sample tabletop in usd_assets/: reproducible, consistent with its ground truth, small."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import trimesh

from splattwin.gaussians import Gaussians
from splattwin.geometry.transforms import quat_wxyz_to_matrix

ASSETS = Path(__file__).resolve().parents[1] / "usd_assets"
TABLETOP = ASSETS / "tabletop"
FILES = ("scene.obj", "block.obj", "capture.json", "tabletop.ply")
_NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?|-?\d+")


def _load_generator() -> ModuleType:
    name = "make_tabletop"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ASSETS / "make_tabletop.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _load_generator()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory, generator: ModuleType) -> Path:
    out = tmp_path_factory.mktemp("tabletop")
    generator.make_tabletop(out)
    return out


@pytest.fixture(scope="module")
def capture() -> dict:
    return json.loads((TABLETOP / "capture.json").read_text())


def _read_splat(path: Path) -> Gaussians:
    from splattwin.io import read_gaussians

    return read_gaussians(path)


def _to_world(generator: ModuleType, points: object) -> np.ndarray:
    return generator.TRUE_RECON_FROM_WORLD.inverse().apply_points(np.asarray(points, dtype=np.float64))


def _load_mesh(name: str) -> trimesh.Trimesh:
    return trimesh.load(TABLETOP / name, force="mesh", process=False)


def _closest_on_triangles(triangles: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to the nearest triangle and that triangle's index (no rtree needed)."""
    best = np.full(len(points), np.inf)
    best_triangle = np.zeros(len(points), dtype=np.int64)
    for index, triangle in enumerate(triangles):
        closest = trimesh.triangles.closest_point(np.broadcast_to(triangle, (len(points), 3, 3)), points)
        distance = np.linalg.norm(closest - points, axis=1)
        better = distance < best
        best[better] = distance[better]
        best_triangle[better] = index
    return best, best_triangle


def test_committed_files_exist_and_folder_is_small() -> None:
    for name in FILES:
        assert (TABLETOP / name).is_file(), name
    total = sum(path.stat().st_size for path in ASSETS.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    assert total < 5e6, f"usd_assets/ holds {total / 1e6:.2f} MB"


def test_generator_is_deterministic(tmp_path: Path, regenerated: Path, generator: ModuleType) -> None:
    again = tmp_path / "again"
    generator.make_tabletop(again)
    for name in FILES:
        assert (again / name).read_bytes() == (regenerated / name).read_bytes(), name


def test_regenerated_text_files_match_committed(regenerated: Path) -> None:
    # Numbers compared to tolerance: a last-digit rounding flip across numpy/libm builds is not a change.
    for name in ("scene.obj", "block.obj", "capture.json"):
        committed = (TABLETOP / name).read_text()
        fresh = (regenerated / name).read_text()
        assert _NUMBER.sub("#", committed) == _NUMBER.sub("#", fresh), name
        a = np.array([float(x) for x in _NUMBER.findall(committed)])
        b = np.array([float(x) for x in _NUMBER.findall(fresh)])
        np.testing.assert_allclose(a, b, atol=2e-6, rtol=0, err_msg=name)


def test_regenerated_splat_matches_committed(regenerated: Path) -> None:
    committed = _read_splat(TABLETOP / "tabletop.ply")
    fresh = _read_splat(regenerated / "tabletop.ply")
    assert len(committed) == len(fresh)
    np.testing.assert_allclose(committed.means, fresh.means, atol=1e-5)
    np.testing.assert_allclose(committed.scales, fresh.scales, rtol=1e-4)
    np.testing.assert_allclose(committed.opacities, fresh.opacities, atol=1e-5)
    np.testing.assert_allclose(committed.sh, fresh.sh, atol=1e-4)
    # q and -q are the same rotation
    same_sign = np.abs(committed.quats_wxyz - fresh.quats_wxyz).max(axis=1)
    flipped = np.abs(committed.quats_wxyz + fresh.quats_wxyz).max(axis=1)
    assert np.minimum(same_sign, flipped).max() < 1e-4


def test_truth_in_capture_is_the_scripts_transform(capture: dict, generator: ModuleType) -> None:
    truth = capture["truth"]["recon_from_world"]
    transform = generator.TRUE_RECON_FROM_WORLD
    np.testing.assert_allclose(truth["rotation"], transform.rotation, atol=1e-6)
    np.testing.assert_allclose(truth["translation"], transform.translation, atol=1e-6)
    assert truth["scale"] == pytest.approx(transform.scale, abs=1e-6)
    assert capture["up_axis"] == "y"
    # the recon frame really is y-up (to within the tilt) and off level by a few degrees
    world_up_in_recon = transform.rotation @ np.array([0.0, 0.0, 1.0])
    tilt_deg = np.degrees(np.arccos(world_up_in_recon[1]))
    assert 1.0 < tilt_deg < 10.0


def test_capture_points_land_on_the_ground_truth(capture: dict, generator: ModuleType) -> None:
    truth = capture["truth"]
    corners = _to_world(generator, capture["scale_from"]["points"])
    np.testing.assert_allclose(corners[:, 2], truth["table_height_m"], atol=1e-5)
    assert truth["table_height_m"] == 0.75
    known = np.asarray(truth["table_top_corners"])
    for corner in corners:
        assert np.linalg.norm(known - corner, axis=1).min() < 1e-5
    assert np.linalg.norm(corners[1] - corners[0]) == pytest.approx(capture["scale_from"]["distance_m"], abs=1e-5)
    # the distance in recon units times the true metres-per-unit is the measured distance
    recon_distance = np.linalg.norm(np.subtract(*capture["scale_from"]["points"]))
    assert recon_distance / generator.TRUE_RECON_FROM_WORLD.scale == pytest.approx(1.2, abs=1e-5)

    base = _to_world(generator, capture["robot_base"])
    np.testing.assert_allclose(base, truth["robot_base"], atol=1e-5)
    # on the table top, on its back edge
    x_range, y_range = generator.TABLE_TOP_X_RANGE, generator.TABLE_TOP_Y_RANGE
    assert base[2] == pytest.approx(0.75, abs=1e-5)
    assert base[0] == pytest.approx(x_range[0], abs=1e-5)
    assert y_range[0] < base[1] < y_range[1]


def test_meshes_match_the_ground_truth(capture: dict, generator: ModuleType) -> None:
    truth = capture["truth"]
    scale = generator.TRUE_RECON_FROM_WORLD.scale
    block = _load_mesh("block.obj")
    assert block.is_watertight and block.is_winding_consistent
    assert block.volume / scale**3 == pytest.approx(np.prod(truth["block_size_m"]), rel=1e-4)
    np.testing.assert_allclose(_to_world(generator, block.center_mass), truth["block_centre"], atol=1e-5)
    block_world = _to_world(generator, block.vertices)
    assert block_world[:, 2].min() == pytest.approx(truth["table_height_m"], abs=1e-5)  # lies on the table

    scene = _load_mesh("scene.obj")
    scene_world = _to_world(generator, scene.vertices)
    assert scene_world[:, 2].min() == pytest.approx(0.0, abs=1e-5)
    bodies = scene.split(only_watertight=False)
    closed = [body for body in bodies if body.is_watertight]
    assert len(closed) == 5  # table top + 4 legs
    assert all(body.volume > 0 for body in closed)  # outward normals
    assert len(bodies) - len(closed) == 2  # open floor and wall planes
    table_top = max(closed, key=lambda body: body.volume)
    top_world = _to_world(generator, table_top.vertices)
    assert top_world[:, 2].max() == pytest.approx(0.75, abs=1e-5)
    extent = top_world.max(axis=0) - top_world.min(axis=0)
    np.testing.assert_allclose(extent[:2], truth["table_top_size_m"], atol=1e-5)


def test_splat_lies_on_the_meshes_with_normals_as_thin_axes() -> None:
    splat = _read_splat(TABLETOP / "tabletop.ply")
    assert 20_000 <= len(splat) <= 30_000
    assert splat.sh_degree == 1
    assert np.abs(splat.sh[:, 1:]).max() > 0.01  # view-dependent colour, so rotating SH matters
    assert 0.8 < splat.opacities.mean() < 0.95

    meshes = [_load_mesh("scene.obj"), _load_mesh("block.obj")]
    triangles = np.concatenate([mesh.triangles for mesh in meshes])
    normals = np.concatenate([mesh.face_normals for mesh in meshes])
    scene_size = np.linalg.norm(np.ptp(np.concatenate([mesh.vertices for mesh in meshes]), axis=0))
    means = splat.means.astype(np.float64)
    distance, nearest = _closest_on_triangles(triangles, means)
    assert distance.max() < 1e-6 * scene_size, f"max distance {distance.max():.3g} (scene size {scene_size:.3g})"

    # The thin axis is the surface normal; the two others are ~10x larger.
    axes = quat_wxyz_to_matrix(splat.quats_wxyz)
    thin = np.argmin(splat.scales, axis=1)
    assert (thin == 2).all()
    alignment = np.abs(np.einsum("ni,ni->n", axes[:, :, 2], normals[nearest]))
    # a sample on an edge may be nearest to the neighbouring face: allow a handful
    assert (alignment > 0.9999).mean() > 0.99
    ratio = splat.scales[:, 2] / splat.scales[:, :2].mean(axis=1)
    np.testing.assert_allclose(ratio, 0.1, rtol=1e-3)


def test_object_and_colours(capture: dict, generator: ModuleType) -> None:
    assert capture["object"]["mesh"] == "block.obj"
    assert capture["object"]["material"] == "wood"
    splat = _read_splat(TABLETOP / "tabletop.ply")
    means_world = _to_world(generator, splat.means)
    near_block = np.linalg.norm(means_world - capture["truth"]["block_centre"], axis=1) < 0.07
    on_block = near_block & (means_world[:, 2] > capture["truth"]["table_height_m"] + 0.002)  # not the table
    assert on_block.sum() > 1000
    red = splat.colors[on_block]
    assert (red[:, 0] > red[:, 1] + 0.2).mean() > 0.95  # the block is red-ish
    floor = means_world[:, 2] < 1e-4
    assert np.abs(np.ptp(splat.colors[floor].mean(axis=0))) < 0.05  # the floor is grey
