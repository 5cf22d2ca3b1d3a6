"""Tests aimed at the mutants the issue found surviving the suite: each pins a behaviour with a value computed by
hand (or a published table), so dropping or changing the code under it fails here.

Covers: import ``--up-axis``/``--scale`` applied to splats and meshes; NaN opacities and quaternions refused; the
extent's chunking above 262,144 Gaussians; a mesh's extent and a body's provenance volume after ``align``; the
standalone USD write being atomic; the table fit's parallel-plane and line-shaped-candidate filters; material
densities against published values.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import trimesh
from conftest import file_bytes
from pxr import Sdf, Usd, UsdGeom, UsdPhysics

from splattwin.cli import main
from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.geometry.alignment import fit_table_plane
from splattwin.io import read_gaussians, write_gaussians
from splattwin.mesh.materials import MATERIALS, mass_prior
from splattwin.pipelines.align import AlignConfig, align_twin
from splattwin.usd.splats import gaussians_extent, write_gaussians_usd

HALF = math.sqrt(0.5)


def _two_gaussians() -> Gaussians:
    return Gaussians(
        means=np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], np.float32),
        quats_wxyz=np.array([[1, 0, 0, 0], [HALF, 0, 0, HALF]], np.float32),  # identity; 90 deg about z
        scales=np.array([[0.1, 0.2, 0.3], [0.5, 0.5, 0.5]], np.float32),
        opacities=np.array([0.5, 0.9], np.float32),
        sh=np.zeros((2, 1, 3), np.float32),
    )


def _quats_wxyz(attr) -> np.ndarray:
    return np.array([[q.GetReal(), *q.GetImaginary()] for q in attr.Get()])


def _same_rotation(actual: np.ndarray, expected: np.ndarray) -> None:
    for a, e in zip(actual, np.asarray(expected, dtype=np.float64), strict=True):
        assert min(np.abs(a - e).max(), np.abs(a + e).max()) < 1e-5, (a, e)


# --- import --up-axis / --scale --------------------------------------------------------------------------------


def test_import_splat_applies_up_axis_and_scale(tmp_path: Path) -> None:
    """y-up source, centimetres: +90 deg about x ((x, y, z) -> (x, -z, y)), then x 0.01."""
    source = tmp_path / "s.ply"
    write_gaussians(source, _two_gaussians())
    twin = tmp_path / "twin.usda"
    args = [
        "import-splat",
        str(source),
        "--stage",
        str(twin),
        "--prim",
        "/World/S",
        "--up-axis",
        "y",
        "--scale",
        "0.01",
    ]
    assert main(args) == 0
    stage = Usd.Stage.Open(str(twin))
    prim = stage.GetPrimAtPath("/World/S")
    np.testing.assert_allclose(
        np.array(prim.GetAttribute("positions").Get()), [[0.01, -0.03, 0.02], [0, -0.01, 0]], atol=1e-7
    )
    np.testing.assert_allclose(np.array(prim.GetAttribute("scales").Get()), [[1e-3, 2e-3, 3e-3], [5e-3] * 3], rtol=1e-5)
    # q_world = q_x(90) * q: identity -> (c, s, 0, 0); z90 -> (c, s, 0, 0)(c, 0, 0, s) = (1/2, 1/2, -1/2, 1/2).
    _same_rotation(_quats_wxyz(prim.GetAttribute("orientations")), [[HALF, HALF, 0, 0], [0.5, 0.5, -0.5, 0.5]])


def test_import_mesh_applies_up_axis_and_scale(tmp_path: Path) -> None:
    box = trimesh.creation.box(bounds=[[0, 0, 0], [100, 200, 300]])  # centimetres, y up
    source = tmp_path / "box.obj"
    box.export(source)
    twin = tmp_path / "twin.usda"
    args = ["import-mesh", str(source), "--stage", str(twin), "--prim", "/World/Box", "--up-axis", "y"]
    assert main([*args, "--scale", "0.01"]) == 0
    stage = Usd.Stage.Open(str(twin))
    points = np.array(UsdGeom.Mesh(stage.GetPrimAtPath("/World/Box")).GetPointsAttr().Get())
    # (x, y, z) -> (x, -z, y) * 0.01: x in [0, 1], y in [-3, 0], z in [0, 2] metres.
    np.testing.assert_allclose(points.min(0), [0, -3, 0], atol=1e-6)
    np.testing.assert_allclose(points.max(0), [1, 0, 2], atol=1e-6)


# --- NaN in opacities and quaternions --------------------------------------------------------------------------


@pytest.mark.parametrize(("array", "row"), [("opacities", 1), ("quats_wxyz", 0)])
def test_nan_opacity_or_quaternion_is_refused(tmp_path: Path, array: str, row: int) -> None:
    gaussians = _two_gaussians()
    values = getattr(gaussians, array)
    values[row] = np.nan
    with pytest.raises(InputError, match=rf"1 Gaussian\(s\) have NaN or Inf in {array} \(first at index {row}\)"):
        gaussians.validate("mem")
    # The same defect in a file: a PLY whose opacity logit / rot_1 is NaN, written by hand.
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2"]
    names += ["rot_0", "rot_1", "rot_2", "rot_3"]
    rows = np.zeros((2, 14), "<f4")
    rows[:, 7:10] = np.log(0.1)
    rows[:, 10] = 1.0
    rows[row, 6 if array == "opacities" else 11] = np.nan
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 2\n"
    header += "".join(f"property float {n}\n" for n in names) + "end_header\n"
    path = tmp_path / "nan.ply"
    path.write_bytes(header.encode() + rows.tobytes())
    with pytest.raises(InputError, match=rf"NaN or Inf in {array} \(first at index {row}\)"):
        read_gaussians(path)


# --- extent chunking -------------------------------------------------------------------------------------------


def test_extent_covers_every_chunk_above_262144_gaussians() -> None:
    count = 262_144 * 2 + 10  # three chunks
    means = np.zeros((count, 3), np.float32)
    scales = np.full((count, 3), 0.01, np.float32)
    means[0], scales[0] = (5.0, 0.0, 0.0), 0.1  # first chunk: far +x, bigger
    means[262_150] = (0.0, -4.0, 0.0)  # middle chunk
    means[-1] = (0.0, 0.0, 7.0)  # last chunk
    quats = np.zeros((count, 4), np.float32)
    quats[:, 0] = 1.0
    g = Gaussians(
        means=means,
        quats_wxyz=quats,
        scales=scales,
        opacities=np.full(count, 0.5, np.float32),
        sh=np.zeros((count, 1, 3), np.float32),
    )
    extent = gaussians_extent(g)
    # 3 sigma: +-0.03 around each mean, +-0.3 around the first one (which also sets y max and z min).
    np.testing.assert_allclose(extent, [[-0.03, -4.03, -0.3], [5.3, 0.3, 7.03]], atol=1e-5)


# --- align: mesh extent and provenance volume ------------------------------------------------------------------


def test_align_updates_mesh_extent_and_body_provenance_volume(tmp_path: Path) -> None:
    twin = tmp_path / "twin.usda"
    table = tmp_path / "table.obj"
    trimesh.creation.box(bounds=[[-0.5, -0.4, -0.02], [0.5, 0.4, 0.0]]).export(table)
    cup = tmp_path / "cup.obj"
    trimesh.creation.box(bounds=[[0.1, 0.1, 0.0], [0.2, 0.16, 0.05]]).export(cup)  # 0.1 x 0.06 x 0.05 = 3e-4 m^3
    assert main(["import-mesh", str(table), "--stage", str(twin), "--prim", "/World/Scene/Table"]) == 0
    assert main(["import-mesh", str(cup), "--stage", str(twin), "--prim", "/World/Objects/Cup", "--dynamic"]) == 0
    # Two points 1 unit apart are 2 m apart: every length doubles about the origin.
    align_twin(AlignConfig(stage=twin, scale_from=((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), 2.0)))
    stage = Usd.Stage.Open(str(twin))
    extent = np.array(UsdGeom.Mesh(stage.GetPrimAtPath("/World/Scene/Table")).GetExtentAttr().Get())
    np.testing.assert_allclose(extent, [[-1.0, -0.8, -0.04], [1.0, 0.8, 0.0]], atol=1e-6)
    mass_attr = UsdPhysics.MassAPI(stage.GetPrimAtPath("/World/Objects/Cup")).GetMassAttr()
    provenance = mass_attr.GetCustomDataByKey("splattwin:provenance")
    assert provenance["volumeM3"] == pytest.approx(3e-4 * 8, rel=1e-5)
    assert mass_attr.Get() == pytest.approx(3e-4 * 8 * 600.0, rel=1e-5)  # wood, 600 kg/m^3


# --- atomic standalone USD write -------------------------------------------------------------------------------


def test_standalone_usd_write_is_atomic(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "splat.usdc"
    write_gaussians_usd(path, _two_gaussians())
    before = file_bytes(tmp_path)

    def half_written(layer, target, *args, **kwargs):  # the disk fills after some bytes reached the file
        Path(target).write_bytes(b"PXR-USDC half")
        raise OSError("No space left on device")

    monkeypatch.setattr(Sdf.Layer, "Export", half_written)
    with pytest.raises(OSError, match="No space"):
        write_gaussians_usd(path, _two_gaussians())
    assert file_bytes(tmp_path) == before  # the old file whole, no temporary left


# --- table fit filters -----------------------------------------------------------------------------------------


def _plane_points(rng, count, centre, size, normal=(0, 0, 1), jitter=0.001) -> np.ndarray:
    normal = np.asarray(normal, float) / np.linalg.norm(normal)
    u = np.cross(normal, [0, 1, 0] if abs(normal[1]) < 0.9 else [1, 0, 0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    a, b = rng.uniform(-size / 2, size / 2, (2, count))
    return np.asarray(centre) + np.outer(a, u) + np.outer(b, v) + np.outer(rng.normal(0, jitter, count), normal)


def test_table_fit_ignores_a_higher_tilted_plane() -> None:
    """Floor (most points), table top at 0.75 m, and a 20-degree slanted board higher up: the table wins."""
    rng = np.random.default_rng(0)
    tilted = (math.sin(math.radians(20)), 0.0, math.cos(math.radians(20)))
    points = np.concatenate(
        [
            _plane_points(rng, 6000, (0, 0, 0), 4.0),
            _plane_points(rng, 2500, (0, 0, 0.75), 1.2),
            _plane_points(rng, 2500, (1.6, 1.6, 1.5), 0.8, normal=tilted),
        ]
    )
    fit = fit_table_plane(points)
    assert fit.normal[2] == pytest.approx(1.0, abs=1e-3)
    assert fit.offset == pytest.approx(0.75, abs=0.005)


def test_table_fit_ignores_a_higher_line_of_points() -> None:
    """A 1 cm wide level strip 2 m up (a shelf edge) is parallel and well supported, but a line, not an area."""
    rng = np.random.default_rng(1)
    strip = np.column_stack(
        [rng.uniform(-1.5, 1.5, 3000), rng.uniform(0.995, 1.005, 3000), rng.normal(2.0, 0.0002, 3000)]
    )
    points = np.concatenate(
        [_plane_points(rng, 6000, (0, 0, 0), 4.0), _plane_points(rng, 2500, (0, 0, 0.75), 1.2), strip]
    )
    fit = fit_table_plane(points)
    assert fit.normal[2] == pytest.approx(1.0, abs=1e-3)
    assert fit.offset == pytest.approx(0.75, abs=0.005)


# --- material densities ----------------------------------------------------------------------------------------

# Published ranges [kg/m^3], independent of the code: Engineering ToolBox "Densities of Solids" and "Metals and
# Alloys - Densities"; USDA Wood Handbook FPL-GTR-190 table 5-3 (specific gravity at 12 % moisture, x 1000 x 1.12
# for the moisture); Wikipedia "Medium-density fibreboard" (600-800), "Polylactic acid" (1210-1430),
# "Acrylonitrile butadiene styrene" (1060-1080; Engineering ToolBox 1020-1060), "Soda-lime glass" (2440-2520).
PUBLISHED_DENSITY = {
    "steel": (7750, 8050),
    "stainless_steel": (7750, 8100),
    "aluminium": (2600, 2810),
    "brass": (8400, 8750),
    "glass": (2400, 2800),
    "abs": (1020, 1080),
    "pla": (1210, 1430),
    "mdf": (600, 800),
    "oak": (600, 800),
    "pine": (350, 650),
    "wood": (350, 900),
    "concrete": (2200, 2500),
    "rubber": (900, 1500),
    "ceramic": (2000, 2600),
    "foam": (10, 100),
    "plastic": (850, 1450),
    "cardboard": (100, 800),
    "paper": (700, 1200),
}


@pytest.mark.parametrize("name", sorted(MATERIALS))
def test_material_density_within_published_range(name: str) -> None:
    low, high = PUBLISHED_DENSITY[name]
    density = MATERIALS[name].density_kg_m3
    assert low <= density <= high, f"{name}: {density} kg/m^3 outside the published {low}-{high}"
    # One litre of the material weighs density / 1000 kg.
    assert mass_prior(1e-3, name).mass_kg == pytest.approx(density / 1000)


# --- found by bench/mutation_score.py (seed 1) -----------------------------------------------------------------


def test_playcanvas_compressed_ply_of_sh_degree_0_reads(tmp_path: Path) -> None:
    """gsply returns no shN for degree 0; the reader must still build sh [N, 1, 3]."""
    import gsply

    count = 256  # one PlayCanvas chunk
    rng = np.random.default_rng(2)
    means = rng.uniform(-1, 1, (count, 3)).astype(np.float32)
    # A GSData that says it holds log scales and logit opacities: given bare arrays, gsply 0.4.6's plywrite guesses
    # the encoding from the values; these all-zero logits look like linear opacities to it, and it then takes the
    # log of the (already log) scales too, writing 1e-9 m (clamped to exp(-20) = 2e-9 m) instead of 0.02 m.
    data = gsply.GSData.from_arrays(
        means=means,
        scales=np.full((count, 3), np.log(0.02), np.float32),
        quats=np.tile(np.float32([1, 0, 0, 0]), (count, 1)),
        opacities=np.zeros(count, np.float32),
        sh0=np.zeros((count, 3), np.float32),
        format="ply",
    )
    path = tmp_path / "c.compressed.ply"  # gsply names compressed files so
    gsply.plywrite(path, data, compressed=True)
    g = read_gaussians(path)
    assert g.sh.shape == (count, 1, 3)
    # Compressed positions are quantised to 11/10/11 bits inside the chunk's bounds: within a few mm here.
    np.testing.assert_allclose(g.means, means, atol=2e-3)
    # One scale for the whole chunk: its min = max, so it comes back exactly; logit 0 is opacity 1/2 (8 bits).
    np.testing.assert_allclose(g.scales, 0.02, rtol=1e-6)
    np.testing.assert_allclose(g.opacities, 0.5, atol=0.5 / 255)


def test_packed_vertex_properties_without_chunks_are_not_a_compressed_ply(tmp_path: Path) -> None:
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 2\n"
    header += "".join(
        f"property uint {n}\n" for n in ("packed_position", "packed_rotation", "packed_scale", "packed_color")
    )
    path = tmp_path / "p.ply"
    path.write_bytes((header + "end_header\n").encode() + bytes(32))
    with pytest.raises(InputError, match="missing required vertex properties: x, y, z"):
        read_gaussians(path)


def test_table_fit_threshold_is_one_percent_of_the_median_distance() -> None:
    """The scale-free default: 1 % of the median distance to the median point (not the mean, which outliers pull)."""
    rng = np.random.default_rng(3)
    floor = _plane_points(rng, 3000, (0, 0, 0), 2.0)
    far = rng.uniform(50, 60, (300, 3))  # a few far outliers move the mean distance a lot, the median little
    points = np.concatenate([floor, far])
    median_point = np.median(points, axis=0)
    expected = 0.01 * float(np.median(np.linalg.norm(points - median_point, axis=1)))
    assert fit_table_plane(points).threshold == pytest.approx(expected, rel=1e-12)
