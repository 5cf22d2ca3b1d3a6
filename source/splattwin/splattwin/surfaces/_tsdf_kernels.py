"""Numba kernel of the TSDF fusion (only the kernel; :mod:`splattwin.surfaces.tsdf` calls it)."""

from __future__ import annotations

import math

import numba

__all__ = ["integrate_views"]


@numba.njit(cache=True, nogil=True)
def _smooth(depth, v, w, u, step):  # noqa: ANN001, ANN202
    """Whether pixel (u, w) of view v and its four neighbours (those in the image) are within ``step`` in depth: a
    surface seen face-on, not a grazing one or an edge (where the nearest pixel's depth is off the voxel's)."""
    height, width = depth.shape[1], depth.shape[2]
    centre = depth[v, w, u]
    for du, dw in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        a, b = u + du, w + dw
        if 0 <= a < width and 0 <= b < height and abs(depth[v, b, a] - centre) > step:
            return False
    return True


@numba.njit(parallel=True, cache=True, nogil=True)
def integrate_views(
    origin, voxel, shape, depth, alpha, viewmats, intrinsics, trunc, alpha_min, values, weights, near, through
):
    """Projective TSDF fusion with free-space carving, over voxels (parallel along x).

    Per voxel centre p and view: p_c = R p + t; skipped behind the near plane or outside the image. The pixel
    it falls in (nearest) says: alpha < alpha_min -> empty space (sdf = +1: nothing was drawn there, so the voxel
    is outside); else sdf = (depth - z) / trunc, skipped below -1 (occluded), clamped at +1, and averaged
    (weight 1 per view).

    Args:
        origin: [3] centre of voxel (0, 0, 0) [m]; voxel: edge [m]; shape: [3] int64 voxel counts.
        depth, alpha: [V, H, W] float32 per view; viewmats: [V, 4, 4] world -> camera; intrinsics: [V, 4] fx fy
            cx cy [px]; trunc: truncation distance [m]; alpha_min: opacity below which a pixel is empty.
        values, weights: [X, Y, Z] float32, accumulated in place (values as the running weighted mean).
        near, through: [X, Y, Z] float32 view counts, accumulated in place: views whose opaque pixel puts the
            voxel just behind its surface (-1 <= sdf <= 0) where that surface is seen face-on (the pixel's four
            neighbours within one band of its depth), and views whose opaque pixel lies more than three
            bands behind the voxel (the ray went on past it: where other views see a surface at the voxel, it was
            seen through, between a sparse splat's Gaussians).
    """
    num_views, height, width = depth.shape
    for i in numba.prange(shape[0]):
        x = origin[0] + i * voxel
        for j in range(shape[1]):
            y = origin[1] + j * voxel
            for k in range(shape[2]):
                z = origin[2] + k * voxel
                total = values[i, j, k] * weights[i, j, k]
                weight = weights[i, j, k]
                seen_near = near[i, j, k]
                seen_through = through[i, j, k]
                for v in range(num_views):
                    cz = viewmats[v, 2, 0] * x + viewmats[v, 2, 1] * y + viewmats[v, 2, 2] * z + viewmats[v, 2, 3]
                    if cz <= 1e-6:
                        continue
                    cx = viewmats[v, 0, 0] * x + viewmats[v, 0, 1] * y + viewmats[v, 0, 2] * z + viewmats[v, 0, 3]
                    cy = viewmats[v, 1, 0] * x + viewmats[v, 1, 1] * y + viewmats[v, 1, 2] * z + viewmats[v, 1, 3]
                    u = int(math.floor(intrinsics[v, 0] * cx / cz + intrinsics[v, 2]))
                    w = int(math.floor(intrinsics[v, 1] * cy / cz + intrinsics[v, 3]))
                    if u < 0 or w < 0 or u >= width or w >= height:
                        continue
                    if alpha[v, w, u] < alpha_min:
                        sdf = 1.0
                    else:
                        sdf = (depth[v, w, u] - cz) / trunc
                        if sdf < -1.0:
                            continue
                        if sdf <= 0.0 and _smooth(depth, v, w, u, trunc):
                            seen_near += 1.0
                        elif sdf > 3.0:
                            seen_through += 1.0
                        sdf = min(sdf, 1.0)
                    total += sdf
                    weight += 1.0
                weights[i, j, k] = weight
                near[i, j, k] = seen_near
                through[i, j, k] = seen_through
                values[i, j, k] = total / weight if weight > 0 else 0.0
