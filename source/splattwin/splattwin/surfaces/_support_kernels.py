"""Numba kernels of :mod:`splattwin.surfaces.support` (only the kernels; that module calls them)."""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["mark_ellipsoids", "solid_cells"]


@numba.njit(cache=True, nogil=True)
def mark_ellipsoids(origin, cell, shape, means, precisions, half_extents, out):  # noqa: ANN001, ANN201
    """Set ``out`` [X, Y, Z] where a cell's centre lies inside any ellipsoid (p - mu)^T A (p - mu) <= 1.

    Per ellipsoid, the columns (x, y) of its bounding box, and in each the z interval where the quadratic in z
    is <= 1 (closed form): the cost is the cells covered, not the bounding box's volume (a flat disc's box is
    mostly empty).

    Args:
        origin: [3] the centre of cell (0, 0, 0) [m]; cell: edge [m]; shape: [3] cell counts.
        means: [N, 3]; precisions: [N, 3, 3] the matrices A; half_extents: [N, 3] the bounding box's half sides.
    """
    nx, ny, nz = shape[0], shape[1], shape[2]
    for n in range(means.shape[0]):
        mx, my, mz = means[n, 0], means[n, 1], means[n, 2]
        a = precisions[n]
        i0 = max(0, int(math.ceil((mx - half_extents[n, 0] - origin[0]) / cell)))
        i1 = min(nx - 1, int(math.floor((mx + half_extents[n, 0] - origin[0]) / cell)))
        j0 = max(0, int(math.ceil((my - half_extents[n, 1] - origin[1]) / cell)))
        j1 = min(ny - 1, int(math.floor((my + half_extents[n, 1] - origin[1]) / cell)))
        azz = a[2, 2]
        if azz <= 0.0:
            continue
        for i in range(i0, i1 + 1):
            dx = origin[0] + i * cell - mx
            for j in range(j0, j1 + 1):
                dy = origin[1] + j * cell - my
                b = a[0, 2] * dx + a[1, 2] * dy
                c = a[0, 0] * dx * dx + 2.0 * a[0, 1] * dx * dy + a[1, 1] * dy * dy - 1.0
                disc = b * b - azz * c
                if disc < 0.0:
                    continue
                root = math.sqrt(disc)
                z_lo = mz + (-b - root) / azz
                z_hi = mz + (-b + root) / azz
                k0 = max(0, int(math.ceil((z_lo - origin[2]) / cell)))
                k1 = min(nz - 1, int(math.floor((z_hi - origin[2]) / cell)))
                for k in range(k0, k1 + 1):
                    out[i, j, k] = True


@numba.njit(cache=True, nogil=True)
def solid_cells(origin, cell, shape, triangles, out):  # noqa: ANN001, ANN201
    """Set ``out`` [X, Y, Z] where a cell's centre is inside the closed mesh (parity along +z).

    Each triangle flips, in every column whose centre its xy projection covers, the parity of the cells above
    the height where it crosses that column; a running XOR up each column then gives inside / outside. The
    caller offsets the grid from the mesh's lattice so that no column runs exactly through an edge.

    Args:
        origin: [3] the centre of cell (0, 0, 0) [m]; cell: edge [m]; shape: [3] cell counts.
        triangles: [F, 3, 3] vertices.
    """
    nx, ny, nz = shape[0], shape[1], shape[2]
    flips = np.zeros((nx, ny, nz + 1), dtype=np.uint8)
    for f in range(triangles.shape[0]):
        ax, ay, az = triangles[f, 0, 0], triangles[f, 0, 1], triangles[f, 0, 2]
        bx, by, bz = triangles[f, 1, 0], triangles[f, 1, 1], triangles[f, 1, 2]
        cx, cy, cz = triangles[f, 2, 0], triangles[f, 2, 1], triangles[f, 2, 2]
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if area == 0.0:
            continue  # seen edge-on from above: crosses no column
        i0 = max(0, int(math.ceil((min(ax, bx, cx) - origin[0]) / cell)))
        i1 = min(nx - 1, int(math.floor((max(ax, bx, cx) - origin[0]) / cell)))
        j0 = max(0, int(math.ceil((min(ay, by, cy) - origin[1]) / cell)))
        j1 = min(ny - 1, int(math.floor((max(ay, by, cy) - origin[1]) / cell)))
        for i in range(i0, i1 + 1):
            px = origin[0] + i * cell
            for j in range(j0, j1 + 1):
                py = origin[1] + j * cell
                w0 = ((bx - px) * (cy - py) - (by - py) * (cx - px)) / area
                w1 = ((cx - px) * (ay - py) - (cy - py) * (ax - px)) / area
                w2 = 1.0 - w0 - w1
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0:
                    continue
                z = w0 * az + w1 * bz + w2 * cz
                k = int(math.ceil((z - origin[2]) / cell))
                if k < 0:
                    k = 0
                if k <= nz:
                    flips[i, j, k] ^= 1
    for i in range(nx):
        for j in range(ny):
            parity = 0
            for k in range(nz):
                parity ^= flips[i, j, k]
                out[i, j, k] = parity == 1
