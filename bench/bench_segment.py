"""Benchmark of the segmentation of an object's Gaussians (issue 21 item 2, surfaces/segment.py).

A 1 m x 1 m table of flat discs with a 5 x 5 grid of boxes 4-8 cm wide standing on it, 2-3 cm apart, and faint and
opaque floaters: about 1M Gaussians, every one labelled with what it was sampled on. For a picked point on every
box: precision and recall of the component against the box's label, and the time of one segmentation (the table
found under the point, then :func:`splattwin.surfaces.segment.segment_gaussians`), as seconds and as a ratio to
building a cKDTree over the same means in the same run (the baseline of the machine's speed).

    PYTHONPATH=source/splattwin .venv/bin/python bench/bench_segment.py [--quick]

``--quick`` uses about 100k Gaussians.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from splattwin.gaussians import Gaussians
from splattwin.surfaces.sampling import discs_on_mesh
from splattwin.surfaces.segment import segment_object

TABLE_Z = 0.02


def scene(total: int) -> tuple[Gaussians, np.ndarray, list[np.ndarray]]:
    """(the splat, labels: 0 table, -1 floater, 1..25 boxes; a point on each box's top face)."""
    rng = np.random.default_rng(0)
    parts, labels, points = [], [], []
    x = -0.3
    per_box = int(0.024 * total)
    for i in range(5):
        y = -0.3
        width_x = 0.04 + 0.01 * i
        for j in range(5):
            width_y, height = 0.04 + 0.01 * j, 0.03 + 0.01 * ((i + j) % 4)
            centre = np.array([x + width_x / 2, y + width_y / 2, TABLE_Z + height / 2])
            box = trimesh.creation.box((width_x, width_y, height))
            box.apply_translation(centre)
            discs = discs_on_mesh(box, per_box, seed=10 + 5 * i + j)
            discs = discs.subset(discs.means[:, 2] > TABLE_Z + 1e-4)
            parts.append(discs)
            labels.append(np.full(len(discs), 1 + 5 * i + j))
            points.append(centre + [0.0, 0.0, height / 2])
            y += width_y + rng.uniform(0.02, 0.03)
        x += width_x + rng.uniform(0.02, 0.03)
    table = trimesh.creation.box((1.0, 1.0, 0.02))
    table.apply_translation((0.0, 0.0, TABLE_Z / 2))
    n_table = total - sum(len(p) for p in parts) - total // 100
    parts.append(discs_on_mesh(table, n_table, seed=1))
    labels.append(np.zeros(n_table, dtype=int))
    n_float = total // 100
    means = rng.uniform([-0.5, -0.5, 0.03], [0.5, 0.5, 0.4], (n_float, 3))
    opacity = np.where(rng.uniform(size=n_float) < 0.9, 0.03, 0.8)
    parts.append(
        Gaussians(means, np.tile([1.0, 0, 0, 0], (n_float, 1)), np.full((n_float, 3), 0.0015), opacity,
                  np.zeros((n_float, 1, 3)))
    )  # fmt: skip
    labels.append(np.full(n_float, -1))
    return Gaussians.concatenate(parts), np.concatenate(labels), points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    splat, labels, points = scene(100_000 if args.quick else 1_000_000)
    start = time.perf_counter()
    cKDTree(splat.means)
    baseline = time.perf_counter() - start
    precision, recall, seconds = [], [], []
    for label, point in enumerate(points, start=1):
        start = time.perf_counter()
        found = segment_object(splat, point=point)
        seconds.append(time.perf_counter() - start)
        hits = int((found.mask & (labels == label)).sum())
        precision.append(hits / found.count)
        recall.append(hits / int((labels == label).sum()))
    print(f"{len(splat)} Gaussians, {len(points)} boxes 2-3 cm apart on a table, {(labels == -1).sum()} floaters")
    print(f"precision: min {min(precision):.4f}, mean {np.mean(precision):.4f}")
    print(f"recall:    min {min(recall):.4f}, mean {np.mean(recall):.4f}")
    median = float(np.median(seconds))
    print(f"one segmentation by a point: median {median:.2f} s (max {max(seconds):.2f} s), "
          f"{median / baseline:.1f} x a cKDTree build over the same means ({baseline:.2f} s)")  # fmt: skip
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
