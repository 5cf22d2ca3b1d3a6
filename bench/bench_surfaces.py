"""Benchmark of extract-mesh (issue 21): splats of flat 1-2 mm discs over known meshes, rendered and fused.

Per shape (box, cylinder, L, mug with a handle, a Panda link from pybullet_data) and depth estimate (RD: the
rasterizer's ray-Gaussian depth, the default; ED: gsplat's expected centre depth, the biased baseline): Chamfer,
F-score at 2 mm, MSE (Robo-GS, table I) and the volume error of the cleaned mesh. Then the time of a 100k-Gaussian
object at 2 mm voxels and of a 1M-Gaussian scene at 1 cm, with the peak RSS. Per row also the gate of a splat
sparse in places (:func:`splattwin.surfaces.support.surface_support`): the mesh's area no Gaussian backs, the
Gaussians' volume it misses and the volume it adds, with the check's own seconds.

    PYTHONPATH=source/splattwin .venv/bin/python bench/bench_surfaces.py [--quick] [--shapes mug,box] [--modes RD]
        [--no-scene] [--regions] [--pocket-views N] [--no-curvature] [--sample-block]

``--quick`` uses 30k Gaussians per shape and skips the 1M scene. ``--sample-block`` instead extracts the demo's
sample block (usd_assets/tabletop, in the generator's true frame, the box around it the demo's) at several voxels
and bands and prints the support check's numbers for each (docs/surfaces.md, "A splat sparse in places").
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import trimesh

from splattwin.gaussians import Gaussians
from splattwin.mesh import clean_mesh
from splattwin.surfaces.extract import ExtractionConfig, extract_surface
from splattwin.surfaces.metrics import compare_surfaces
from splattwin.surfaces.sampling import discs_on_mesh
from splattwin.surfaces.support import surface_support


def support_columns(mesh: trimesh.Trimesh, result, voxel_m: float, table_z: float | None = None) -> str:  # noqa: ANN001
    """The support check's numbers (percent) and seconds, as printed after each row."""
    s = surface_support(mesh, result.region, voxel_m=voxel_m, table_z=table_z)
    return (
        f"unbacked {100 * s.unbacked_share:.2f}% missing {100 * s.missing_share:.2f}% "
        f"extra {100 * s.extra_share:.2f}% ({s.seconds:.1f} s)"
    )


def l_shape() -> trimesh.Trimesh:
    """An L prism (8 x 10 cm, 4 cm deep), triangulated by hand (no boolean engine needed)."""
    outline = np.array([[0, 0], [8, 0], [8, 4], [4, 4], [4, 10], [0, 10]], dtype=float) * 0.01
    triangles = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 5]])
    return trimesh.creation.extrude_triangulation(outline, triangles, height=0.04)


def mug() -> trimesh.Trimesh:
    """A cup revolved from its wall profile (8 cm wide, 9 cm tall, 6 mm walls) and a ring handle beside it, 1 mm
    off the wall (two closed solids, so the volume is their sum; the handle's hole is seen through)."""
    profile = np.array([[0.0, 0.0], [0.04, 0.0], [0.04, 0.09], [0.034, 0.09], [0.034, 0.008], [0.0, 0.008]])
    cup = trimesh.creation.revolve(profile, sections=96)
    handle = trimesh.creation.torus(major_radius=0.025, minor_radius=0.007, major_sections=64, minor_sections=24)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
    handle.apply_translation((0.04 + 0.032 + 0.001, 0, 0.045))
    return trimesh.util.concatenate([cup, handle])


def mug_regions(tsdf, lo: np.ndarray, hi: np.ndarray, step_m: float = 0.0004) -> None:  # noqa: ANN001
    """Where the mug's volume error sits: the fused solid (the TSDF below 0, trilinear) against the true cup and
    ring (analytic, as :func:`mug` builds them) on a ``step_m`` grid, extra and missing volume per region."""
    from scipy.ndimage import map_coordinates

    axes = [np.arange(lo[i], hi[i], step_m) for i in range(3)]
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    fused = map_coordinates(tsdf.values, ((points - tsdf.origin) / tsdf.voxel_m).T, order=1, mode="nearest") < 0
    rho, z = np.hypot(points[:, 0], points[:, 1]), points[:, 2]
    cup = (rho <= 0.04) & (z >= 0) & (z <= 0.09) & ~((rho < 0.034) & (z > 0.008))
    tube = np.sqrt((np.hypot(points[:, 0] - 0.073, z - 0.045) - 0.025) ** 2 + points[:, 1] ** 2) - 0.007
    true = cup | (tube <= 0)
    regions = {
        "handle (within 3 mm of its tube)": (np.abs(tube) < 0.003) & (points[:, 0] > 0.043),
        "gap between handle and wall": np.abs(tube) < 0.004,
        "outer wall": (rho > 0.037) & (rho < 0.043) & (z > 0.003) & (z < 0.087),
        "inner wall": (rho > 0.031) & (rho <= 0.037) & (z > 0.011) & (z < 0.087),
        "cavity floor": (rho <= 0.031) & (z > 0.005) & (z < 0.011),
        "inner bottom corner": (rho > 0.031) & (rho <= 0.037) & (z > 0.005) & (z <= 0.011),
        "rim (top 3 mm)": (z >= 0.087) & (rho > 0.031) & (rho < 0.043),
        "outer bottom (lowest 3 mm)": z <= 0.003,
        "cavity inside": (rho <= 0.031) & (z >= 0.011),
    }
    cell_cm3 = step_m**3 * 1e6
    print(f"  mug regions (cm^3 of {true.sum() * cell_cm3:.1f}): extra / missing / net")
    taken = np.zeros(len(points), dtype=bool)
    for name, region in regions.items():
        region = region & ~taken
        taken |= region
        extra, missing = (fused & ~true & region).sum() * cell_cm3, (~fused & true & region).sum() * cell_cm3
        print(f"  {name:34} {extra:6.2f} {missing:6.2f} {extra - missing:+6.2f}")
    unobserved = map_coordinates(tsdf.weights, ((points - tsdf.origin) / tsdf.voxel_m).T, order=0) == 0
    print(f"  extra volume no view observed: {(fused & ~true & unobserved).sum() * cell_cm3:.2f} cm^3")


def panda_link() -> trimesh.Trimesh:
    import pybullet_data

    path = os.path.join(pybullet_data.getDataPath(), "franka_panda/meshes/collision/link4.obj")
    mesh = trimesh.load(path, force="mesh")
    return mesh if mesh.is_watertight else mesh.convex_hull


SHAPES = {
    "box": lambda: trimesh.creation.box((0.08, 0.06, 0.05)),
    "cylinder": lambda: trimesh.creation.cylinder(radius=0.03, height=0.08, sections=96),
    "L": l_shape,
    "mug": mug,
    "panda_link4": panda_link,
}


def sample_block_rows() -> None:
    """The demo's sample block at voxel / band settings around the demo's (6 mm / 2): volume against the true
    10 x 6 x 5 cm block, the support check's shares, and what the gate says."""
    import json
    from pathlib import Path

    from splattwin.errors import InputError
    from splattwin.geometry.transforms import Similarity
    from splattwin.io import read_gaussians
    from splattwin.surfaces.extract import find_table_z
    from splattwin.surfaces.support import validate_surface

    sample = Path(__file__).resolve().parents[1] / "usd_assets" / "tabletop"
    truth = json.loads((sample / "capture.json").read_text())["truth"]["recon_from_world"]
    scale, rotation, translation = truth["scale"], np.array(truth["rotation"]), np.array(truth["translation"])
    to_world = Similarity(scale=1 / scale, rotation=rotation.T, translation=-(rotation.T @ translation) / scale)
    block = trimesh.load(sample / "block.obj", force="mesh")
    block.vertices = to_world.apply_points(np.asarray(block.vertices))
    lo, hi = block.bounds[0] - 0.02, block.bounds[1] + 0.02
    splat = to_world.apply_gaussians(read_gaussians(sample / "tabletop.ply"))
    table_z = find_table_z(splat, lo, hi)
    print(f"{'voxel / band':12} {'volume':>8} {'unbacked':>9} {'missing':>8} {'extra':>7} {'s':>5}  gate")
    for voxel, band in ((0.006, 2), (0.005, 2), (0.006, 1), (0.004, 2), (0.004, 1), (0.003, 2), (0.003, 1), (0.002, 2)):
        name = f"{1000 * voxel:g} mm / {band}"
        try:
            config = ExtractionConfig(voxel_m=voxel, trunc_voxels=band)
            result = extract_surface(splat, lo, hi, config=config, table_z=table_z)
        except InputError as exc:
            print(f"{name:12} refused by the fusion: {exc.problem[:90]}...")
            continue
        mesh, _ = clean_mesh(result.mesh)
        s = surface_support(mesh, result.region, voxel_m=voxel, table_z=table_z)
        try:
            gate = "; ".join(validate_surface(s, what="the block", voxel_m=voxel, source="bench")) or "passes"
        except InputError:
            gate = "refused"
        closed = "" if mesh.is_watertight else " (not closed)"
        print(
            f"{name:12} {100 * (mesh.volume / block.volume - 1):+7.1f}% {100 * s.unbacked_share:8.2f}% "
            f"{100 * s.missing_share:7.2f}% {100 * s.extra_share:6.2f}% {s.seconds:5.1f}  {gate}{closed}",
            flush=True,
        )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def profile_rendering(scene: Gaussians, count: int) -> None:
    """cProfile of the scene's depth rendering from ``count`` of its 40 views at 1 cm voxels (after one warm-up
    view, so numba's compilation is not counted)."""
    import cProfile
    import pstats

    from splattwin.surfaces.depth import render_surface_depth, surface_views

    lo, hi = scene.means.min(axis=0) - 0.02, scene.means.max(axis=0) + 0.02
    cameras = surface_views(lo, hi, 40, pixel_m=0.005)[:count]
    render_surface_depth(scene, cameras[:1])
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(render_surface_depth, scene, cameras)
    print(f"scene: {count} views of {cameras[0].width} px rendered in {time.perf_counter() - start:.1f} s")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(8)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated subset of " + ",".join(SHAPES))
    parser.add_argument("--modes", default="RD,ED", help="depth estimates to compare (RD, MD, ED)")
    parser.add_argument("--no-scene", action="store_true", help="skip the 1M-Gaussian scene")
    parser.add_argument("--profile", type=int, default=0, help="cProfile the scene's depth rendering of N views")
    parser.add_argument("--regions", action="store_true", help="where the mug's volume error sits, per region")
    parser.add_argument("--pocket-views", type=int, default=10, help="extra views into unobserved pockets")
    parser.add_argument("--no-curvature", action="store_true", help="render the discs as sampled (no correction)")
    parser.add_argument("--sample-block", action="store_true", help="the support check on the demo's sample block")
    args = parser.parse_args()
    if args.sample_block:
        sample_block_rows()
        return
    count = 30000 if args.quick else 100000
    print(f"{'shape':12} {'depth':5} {'chamfer mm':>10} {'F@2mm':>7} {'MSE mm2':>8} {'volume':>8} {'s':>6}  support")
    for name in args.shapes.split(","):
        reference = SHAPES[name]()
        discs = discs_on_mesh(reference, count, seed=0)
        lo, hi = reference.bounds[0] - 0.01, reference.bounds[1] + 0.01
        for mode in args.modes.split(","):
            start = time.perf_counter()
            config = ExtractionConfig(depth_mode=mode, pocket_views=args.pocket_views, curvature=not args.no_curvature)
            result = extract_surface(discs, lo, hi, config=config)
            mesh, _ = clean_mesh(result.mesh)
            seconds = time.perf_counter() - start
            c = compare_surfaces(mesh, reference)
            print(
                f"{name:12} {mode:5} {1000 * c.chamfer_m:10.3f} {c.fscore:7.4f} {1e6 * c.mse_m2:8.3f} "
                f"{100 * c.volume_error:+7.2f}% {seconds:6.1f}  {support_columns(mesh, result, config.voxel_m)}",
                flush=True,
            )
            if args.regions and name == "mug":
                mug_regions(result.tsdf, lo, hi)
    print(f"object: {count} Gaussians at 2 mm voxels, 40 views (RD): see the rows above (s column)")
    if args.quick or args.no_scene:
        print(f"peak RSS {peak_rss_mb():.0f} MB")
        return
    # A 1M-Gaussian scene: a 1.2 x 0.8 m table with twenty objects, fused whole at 1 cm.
    rng = np.random.default_rng(0)
    table = trimesh.creation.box((1.2, 0.8, 0.04))
    table.apply_translation((0, 0, -0.02))
    parts = [discs_on_mesh(table, 500_000, radius_m=(0.003, 0.006), seed=1)]
    for i in range(20):
        box = trimesh.creation.box(rng.uniform(0.04, 0.15, 3))
        box.apply_translation((rng.uniform(-0.5, 0.5), rng.uniform(-0.3, 0.3), box.extents[2] / 2))
        parts.append(discs_on_mesh(box, 25_000, radius_m=(0.002, 0.004), seed=10 + i))
    scene = Gaussians.concatenate(parts)
    if args.profile:
        profile_rendering(scene, args.profile)
        return
    start = time.perf_counter()
    result = extract_surface(
        scene, scene.means.min(axis=0) - 0.02, scene.means.max(axis=0) + 0.02,
        config=ExtractionConfig(voxel_m=0.01, pocket_views=args.pocket_views, curvature=not args.no_curvature),
        table_z=None,
    )  # fmt: skip
    clean_start = time.perf_counter()
    cleaned, _ = clean_mesh(result.mesh)
    steps = {**result.seconds, "clean": time.perf_counter() - clean_start}
    seconds = time.perf_counter() - start
    print(
        f"scene: {len(scene)} Gaussians at 1 cm: {seconds:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in steps.items())}), {result.views} views of {result.image_px} px, "
        f"grid {result.grid}, {len(cleaned.faces)} faces; peak RSS {peak_rss_mb():.0f} MB"
    )
    print(f"scene support: {support_columns(cleaned, result, 0.01)}; peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
