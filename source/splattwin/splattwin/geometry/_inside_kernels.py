"""Numba kernels of :mod:`splattwin.geometry.inside` (only ``@njit`` definitions; imported on first use)."""

import math

import numpy as np
from numba import njit

__all__ = ["closest_sq", "dot", "run", "segment_sq"]


@njit(cache=True, inline="always")
def dot(ax, ay, az, bx, by, bz):
    """a . b from scalars."""
    return ax * bx + ay * by + az * bz


@njit(cache=True)
def segment_sq(px, py, pz, ax, ay, az, bx, by, bz):  # noqa: PLR0913
    """Squared distance from p to segment ab (a point when a == b)."""
    abx, aby, abz = bx - ax, by - ay, bz - az
    length_sq = dot(abx, aby, abz, abx, aby, abz)
    t = 0.0 if length_sq == 0.0 else min(1.0, max(0.0, dot(px - ax, py - ay, pz - az, abx, aby, abz) / length_sq))
    qx, qy, qz = ax + t * abx - px, ay + t * aby - py, az + t * abz - pz
    return dot(qx, qy, qz, qx, qy, qz)


@njit(cache=True)
def closest_sq(px, py, pz, ax, ay, az, bx, by, bz, cx, cy, cz):  # noqa: PLR0913
    """Squared distance from p to triangle abc (Ericson, Real-Time Collision Detection, 5.1.5), scalars only
    so the inner loop allocates nothing; a degenerate (zero-area) triangle is its three edges."""
    abx, aby, abz = bx - ax, by - ay, bz - az
    acx, acy, acz = cx - ax, cy - ay, cz - az
    nx, ny, nz = aby * acz - abz * acy, abz * acx - abx * acz, abx * acy - aby * acx
    scale = dot(abx, aby, abz, abx, aby, abz) + dot(acx, acy, acz, acx, acy, acz)
    if dot(nx, ny, nz, nx, ny, nz) <= 1e-24 * scale * scale:
        return min(
            segment_sq(px, py, pz, ax, ay, az, bx, by, bz),
            segment_sq(px, py, pz, bx, by, bz, cx, cy, cz),
            segment_sq(px, py, pz, ax, ay, az, cx, cy, cz),
        )
    apx, apy, apz = px - ax, py - ay, pz - az
    d1, d2 = dot(abx, aby, abz, apx, apy, apz), dot(acx, acy, acz, apx, apy, apz)
    if d1 <= 0.0 and d2 <= 0.0:
        return dot(apx, apy, apz, apx, apy, apz)
    bpx, bpy, bpz = px - bx, py - by, pz - bz
    d3, d4 = dot(abx, aby, abz, bpx, bpy, bpz), dot(acx, acy, acz, bpx, bpy, bpz)
    if d3 >= 0.0 and d4 <= d3:
        return dot(bpx, bpy, bpz, bpx, bpy, bpz)
    cpx, cpy, cpz = px - cx, py - cy, pz - cz
    d5, d6 = dot(abx, aby, abz, cpx, cpy, cpz), dot(acx, acy, acz, cpx, cpy, cpz)
    if d6 >= 0.0 and d5 <= d6:
        return dot(cpx, cpy, cpz, cpx, cpy, cpz)
    vc = d1 * d4 - d3 * d2
    if vc <= 0.0 and d1 >= 0.0 and d3 <= 0.0:
        v = d1 / (d1 - d3)
        qx, qy, qz = ax + v * abx, ay + v * aby, az + v * abz
    else:
        vb = d5 * d2 - d1 * d6
        va = d3 * d6 - d5 * d4
        if vb <= 0.0 and d2 >= 0.0 and d6 <= 0.0:
            w = d2 / (d2 - d6)
            qx, qy, qz = ax + w * acx, ay + w * acy, az + w * acz
        elif va <= 0.0 and (d4 - d3) >= 0.0 and (d5 - d6) >= 0.0:
            w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
            qx, qy, qz = bx + w * (cx - bx), by + w * (cy - by), bz + w * (cz - bz)
        else:
            v, w = vb / (va + vb + vc), vc / (va + vb + vc)
            qx, qy, qz = ax + abx * v + acx * w, ay + aby * v + acy * w, az + abz * v + acz * w
    return dot(px - qx, py - qy, pz - qz, px - qx, py - qy, pz - qz)


@njit(cache=True)
def run(points, triangles, with_distance):
    """Winding numbers [N] and distances [N] of points [N, 3] float64 to triangles [F, 3, 3] float64."""
    n = points.shape[0]
    winding = np.zeros(n)
    distance = np.full(n, np.inf)
    for i in range(n):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        solid = 0.0
        best = np.inf
        for j in range(triangles.shape[0]):
            ax, ay, az = triangles[j, 0, 0] - px, triangles[j, 0, 1] - py, triangles[j, 0, 2] - pz
            bx, by, bz = triangles[j, 1, 0] - px, triangles[j, 1, 1] - py, triangles[j, 1, 2] - pz
            cx, cy, cz = triangles[j, 2, 0] - px, triangles[j, 2, 1] - py, triangles[j, 2, 2] - pz
            la = math.sqrt(dot(ax, ay, az, ax, ay, az))
            lb = math.sqrt(dot(bx, by, bz, bx, by, bz))
            lc = math.sqrt(dot(cx, cy, cz, cx, cy, cz))
            det = ax * (by * cz - bz * cy) - ay * (bx * cz - bz * cx) + az * (bx * cy - by * cx)
            denominator = (
                la * lb * lc
                + dot(ax, ay, az, bx, by, bz) * lc
                + dot(bx, by, bz, cx, cy, cz) * la
                + dot(cx, cy, cz, ax, ay, az) * lb
            )
            if det != 0.0:  # a zero-area triangle (or p in its plane) subtends no solid angle
                solid += 2.0 * math.atan2(det, denominator)
            if with_distance:
                # Relative to p, so the query point is the origin.
                best = min(best, closest_sq(0.0, 0.0, 0.0, ax, ay, az, bx, by, bz, cx, cy, cz))
        winding[i] = solid / (4.0 * math.pi)
        distance[i] = math.sqrt(best)
    return winding, distance
