"""Benchmark of the convex decomposition (issue 21 item 3): how well CoACD's parts and the convex hull fit known shapes.

Per shape (an L, a T, a cup revolved from its wall profile, the sample block) and threshold: the part count, the
fit both ways (surface -> parts, parts -> surface: max and mean, mm; :func:`splattwin.mesh.decompose.measure_fit`)
and the seconds, beside the convex hull's fit. The hull's seconds are the baseline of the same run.

    PYTHONPATH=source/splattwin .venv/bin/python bench/bench_decompose.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import trimesh

from splattwin.mesh import load_mesh
from splattwin.mesh.decompose import ConvexPart, decompose_convex, measure_fit

REPO = Path(__file__).resolve().parents[1]


def prism(outline_cm: list[tuple[float, float]], fan: list[tuple[int, int, int]], height_m: float) -> trimesh.Trimesh:
    """An outline (cm) triangulated by ``fan`` and extruded by ``height_m``."""
    outline = np.asarray(outline_cm, dtype=np.float64) * 0.01
    return trimesh.creation.extrude_triangulation(outline, np.asarray(fan), height=height_m)


def shapes() -> dict[str, trimesh.Trimesh]:
    """The shapes: L 7 x 7 cm with 3 cm arms, 8 cm tall (tests/test_mesh_decompose.py's); T 9 cm bar, 3 cm wide;
    cup 8 cm wide, 9 cm tall, 6 mm walls; the tabletop block."""
    cup_profile = np.array([[0.0, 0.0], [0.04, 0.0], [0.04, 0.09], [0.034, 0.09], [0.034, 0.008], [0.0, 0.008]])
    block = load_mesh(REPO / "usd_assets" / "tabletop" / "block.obj")
    return {
        "L 7x7x8 cm": prism(
            [(0, 0), (7, 0), (7, 3), (3, 3), (3, 7), (0, 7)], [(3, 4, 5), (3, 5, 0), (3, 0, 1), (3, 1, 2)], 0.08
        ),
        "T 9x8x3 cm": prism(
            [(0, 5), (3, 5), (3, 0), (6, 0), (6, 5), (9, 5), (9, 8), (0, 8)],
            [(0, 1, 7), (1, 6, 7), (1, 2, 3), (1, 3, 6), (3, 4, 6), (4, 5, 6)],
            0.03,
        ),
        "cup r4 h9 cm": trimesh.creation.revolve(cup_profile, sections=32),
        "tabletop block": block,
    }


def main() -> None:
    header = ("parts", "s->p max", "mean", "p->s max", "mean", "s")
    print(f"{'shape':16s} {'collider':18s} " + " ".join(f"{h:>9s}" for h in header))
    for name, mesh in shapes().items():
        mesh.fix_normals()
        start = time.perf_counter()
        hull = mesh.convex_hull
        fit = measure_fit(mesh.vertices, mesh.faces, [ConvexPart(hull.vertices, hull.faces)])
        baseline = time.perf_counter() - start
        rows = [("hull", 1, fit, baseline)]
        for threshold in (0.05, 0.02):
            start = time.perf_counter()
            result = decompose_convex(mesh.vertices, mesh.faces, threshold=threshold, max_parts=64)
            rows.append((f"CoACD t={threshold:g}", len(result.parts), result.fit, time.perf_counter() - start))
        for label, count, f, seconds in rows:
            print(
                f"{name:16s} {label:18s} {count:5d} {1000 * f.surface_to_parts_max:9.2f} "
                f"{1000 * f.surface_to_parts_mean:6.2f} {1000 * f.parts_to_surface_max:9.2f} "
                f"{1000 * f.parts_to_surface_mean:6.2f} {seconds:6.2f}"
            )
        print(f"{'':16s} time ratio CoACD t=0.05 / hull: {rows[1][3] / rows[0][3]:.1f}")


if __name__ == "__main__":
    main()
