"""Numba kernels of the CPU splat rasterizer (tile intersection, forward and backward compositing).

Only kernels live here; :mod:`splattwin.render._cpu` calls them. The semantics are gsplat's
(``rasterize_to_pixels_fwd.cu`` / ``_bwd.cu``): pixel centres at ``(x + 0.5, y + 0.5)``,
``sigma = 0.5 (a dx^2 + c dy^2) + b dx dy`` with the conic ``(a, b, c)``, ``alpha = min(0.999, opacity exp(-sigma))``,
Gaussians with ``sigma < 0`` or ``alpha < 1/255`` skipped, and a pixel stops before the Gaussian that would bring
its transmittance to ``<= 1e-4``. Work is split over (camera, tile) pairs with ``prange``; each tile's Gaussians
are gathered into contiguous arrays, then visited in depth order, each over only the pixels of its exact box
(where alpha >= 1/255 is possible), updating per-pixel state: the same result as a pixel-major loop over the
whole tile list, with work proportional to the splats' footprints.

The backward pass writes each (tile, Gaussian) pair's gradient into its own slot (a pair belongs to exactly one
tile, so tiles never race) and :func:`scatter_pair_gradients` sums the slots per Gaussian afterwards.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "ALPHA_MAX",
    "ALPHA_MIN",
    "TRANSMITTANCE_MIN",
    "count_tiles",
    "fill_tile_lists",
    "project_ray_gaussians",
    "rasterize_backward",
    "rasterize_forward",
    "rasterize_ray_depth",
    "scatter_pair_gradients",
]

ALPHA_MIN = 1.0 / 255.0
"""A Gaussian whose alpha at a pixel is below this is skipped there (gsplat)."""
ALPHA_MAX = 0.999
"""Alpha is clamped to this, so transmittance never reaches 0 in one step (gsplat)."""
TRANSMITTANCE_MIN = 1e-4
"""A pixel stops before the Gaussian that would bring its transmittance to or below this (gsplat)."""

_JIT = {"cache": True, "nogil": True}


@numba.njit(**_JIT)
def _sigma_cutoff(opacity: float) -> float:
    """A sigma above this gives alpha < 1/255 for sure, so exp() is skipped there (the exact test still follows)."""
    if opacity * 255.0 <= 1.0:
        return -1.0
    return math.log(opacity * 255.0) + 1e-5


@numba.njit(**_JIT)
def _tile_range(mean: float, radius: float, tile_size: int, num_tiles: int) -> tuple[int, int]:
    low = math.floor((mean - radius) / tile_size)
    high = math.ceil((mean + radius) / tile_size)
    return min(max(low, 0), num_tiles), min(max(high, 0), num_tiles)


@numba.njit(parallel=True, **_JIT)
def count_tiles(means2d, radii, tile_size, tiles_w, tiles_h):
    """Number of tiles each projected Gaussian overlaps: means2d [C,N,2] px, radii [C,N] px -> [C,N] int64."""
    num_cameras, num_gaussians = radii.shape
    counts = np.zeros((num_cameras, num_gaussians), dtype=np.int64)
    for flat in numba.prange(num_cameras * num_gaussians):
        c = flat // num_gaussians
        n = flat % num_gaussians
        r = radii[c, n]
        if r <= 0:
            continue
        x0, x1 = _tile_range(means2d[c, n, 0], r, tile_size, tiles_w)
        y0, y1 = _tile_range(means2d[c, n, 1], r, tile_size, tiles_h)
        counts[c, n] = (x1 - x0) * (y1 - y0)
    return counts


@numba.njit(**_JIT)
def fill_tile_lists(means2d, radii, depth_order, tile_size, tiles_w, tiles_h, tile_offsets):
    """Per-tile Gaussian lists, each sorted front to back (what gsplat's radix sort of (tile, depth) keys gives).

    Args:
        means2d: [C, N, 2] pixel coordinates.
        radii: [C, N] pixel radii (0 = culled).
        depth_order: [C, N] Gaussian indices per camera, sorted by increasing depth (stable).
        tile_size, tiles_w, tiles_h: tiling of the image.
        tile_offsets: [C * tiles_h * tiles_w + 1] start of each tile's list (exclusive prefix sum of counts).

    Returns:
        flatten_ids [P] int32: the Gaussian index ``n`` of each (tile, Gaussian) pair, tile-major.
    """
    num_cameras, num_gaussians = radii.shape
    num_tiles = tiles_w * tiles_h
    cursor = tile_offsets[:-1].copy()
    flatten_ids = np.empty(tile_offsets[-1], dtype=np.int32)
    for c in range(num_cameras):
        for rank in range(num_gaussians):
            n = depth_order[c, rank]
            r = radii[c, n]
            if r <= 0:
                continue
            x0, x1 = _tile_range(means2d[c, n, 0], r, tile_size, tiles_w)
            y0, y1 = _tile_range(means2d[c, n, 1], r, tile_size, tiles_h)
            for ty in range(y0, y1):
                for tx in range(x0, x1):
                    tile = c * num_tiles + ty * tiles_w + tx
                    flatten_ids[cursor[tile]] = n
                    cursor[tile] += 1
    return flatten_ids


@numba.njit(**_JIT)
def _pixel_range(mean: float, conic_same: float, det: float, cut: float, low: int, high: int) -> tuple[int, int]:
    """Inclusive pixel range along one axis, within [low, high], where sigma <= cut is possible (empty: lo > hi).

    The set {d : 0.5 d^T Q d <= cut} has half-extent sqrt(2 cut Sigma_ii) on axis i, Sigma = Q^-1, with
    Sigma_xx = c / det(Q) and Sigma_yy = a / det(Q); a one-pixel margin keeps rounding on the safe side, so no
    pixel outside the range could pass the exact test.
    """
    if cut < 0.0:
        return high + 1, low
    if det <= 0.0 or conic_same <= 0.0:
        return low, high
    extent = math.sqrt(2.0 * cut * conic_same / det)
    first = max(float(low), math.floor(mean - 0.5 - extent) - 1.0)
    last = min(float(high), math.ceil(mean - 0.5 + extent) + 1.0)
    if first > last:
        return high + 1, low
    return int(first), int(last)


@numba.njit(**_JIT)
def _gather_tile(means2d, conics, colors, opacities, flatten_ids, c, start, count):  # noqa: ANN001, ANN202
    """This tile's Gaussians as contiguous arrays (front to back), with their alpha cut-off in sigma."""
    channels = colors.shape[2]
    mx = np.empty(count, dtype=np.float64)
    my = np.empty(count, dtype=np.float64)
    ca = np.empty(count, dtype=np.float64)
    cb = np.empty(count, dtype=np.float64)
    cc = np.empty(count, dtype=np.float64)
    op = np.empty(count, dtype=np.float64)
    cut = np.empty(count, dtype=np.float64)
    col = np.empty((count, channels), dtype=np.float64)
    for k in range(count):
        n = flatten_ids[start + k]
        mx[k] = means2d[c, n, 0]
        my[k] = means2d[c, n, 1]
        ca[k] = conics[c, n, 0]
        cb[k] = conics[c, n, 1]
        cc[k] = conics[c, n, 2]
        op[k] = opacities[c, n]
        cut[k] = _sigma_cutoff(opacities[c, n])
        for d in range(channels):
            col[k, d] = colors[c, n, d]
    return mx, my, ca, cb, cc, op, cut, col


@numba.njit(parallel=True, **_JIT)
def rasterize_forward(
    means2d,  # [C,N,2]
    conics,  # [C,N,3]
    colors,  # [C,N,D]
    opacities,  # [C,N]
    backgrounds,  # [C,D]
    tile_offsets,  # [C*T+1]
    flatten_ids,  # [P]
    width,
    height,
    tile_size,
    tiles_w,
    tiles_h,
    out_colors,  # [C,H,W,D] written
    out_alphas,  # [C,H,W] written
    last_counts,  # [C,H,W] int32 written: pairs of the tile list a pixel went through
    max_ids,  # [C,H,W] int32 written: Gaussian with the largest weight alpha*T, -1 if none
):
    """Front-to-back compositing, Gaussian-major within a tile: each Gaussian visits only the pixels of its box
    (where alpha >= 1/255 is possible), in depth order, updating per-pixel state; a pixel that reaches the
    transmittance cut-off is marked done. Same result as gsplat's pixel-major loop, less work for small splats."""
    num_tiles = tiles_w * tiles_h
    num_cameras = means2d.shape[0]
    channels = colors.shape[2]
    for job in numba.prange(num_cameras * num_tiles):
        c = job // num_tiles
        tile = job % num_tiles
        x0 = (tile % tiles_w) * tile_size
        y0 = (tile // tiles_w) * tile_size
        x1 = min(width, x0 + tile_size) - 1
        y1 = min(height, y0 + tile_size) - 1
        tw = x1 - x0 + 1
        pixels = tw * (y1 - y0 + 1)
        start = tile_offsets[job]
        count = tile_offsets[job + 1] - start
        mx, my, ca, cb, cc, op, cut, col = _gather_tile(
            means2d, conics, colors, opacities, flatten_ids, c, start, count
        )
        transmittance = np.ones(pixels, dtype=np.float64)
        accum = np.zeros((pixels, channels), dtype=np.float64)
        last = np.zeros(pixels, dtype=np.int32)
        best_weight = np.zeros(pixels, dtype=np.float64)
        best = np.full(pixels, -1, dtype=np.int32)
        done = np.zeros(pixels, dtype=np.bool_)
        finished = 0
        for k in range(count):
            if finished == pixels:
                break
            det = ca[k] * cc[k] - cb[k] * cb[k]
            xa, xb = _pixel_range(mx[k], cc[k], det, cut[k], x0, x1)
            ya, yb = _pixel_range(my[k], ca[k], det, cut[k], y0, y1)
            for py in range(ya, yb + 1):
                dy = my[k] - (py + 0.5)
                for px in range(xa, xb + 1):
                    p = (py - y0) * tw + (px - x0)
                    if done[p]:
                        continue
                    dx = mx[k] - (px + 0.5)
                    sigma = 0.5 * (ca[k] * dx * dx + cc[k] * dy * dy) + cb[k] * dx * dy
                    if sigma < 0.0 or sigma > cut[k]:
                        continue
                    alpha = min(ALPHA_MAX, op[k] * math.exp(-sigma))
                    if alpha < ALPHA_MIN:
                        continue
                    next_t = transmittance[p] * (1.0 - alpha)
                    if next_t <= TRANSMITTANCE_MIN:
                        done[p] = True
                        finished += 1
                        continue
                    weight = alpha * transmittance[p]
                    for d in range(channels):
                        accum[p, d] += weight * col[k, d]
                    if weight > best_weight[p]:
                        best_weight[p] = weight
                        best[p] = flatten_ids[start + k]
                    transmittance[p] = next_t
                    last[p] = k + 1
        for py in range(y0, y1 + 1):
            for px in range(x0, x1 + 1):
                p = (py - y0) * tw + (px - x0)
                for d in range(channels):
                    out_colors[c, py, px, d] = accum[p, d] + transmittance[p] * backgrounds[c, d]
                out_alphas[c, py, px] = 1.0 - transmittance[p]
                last_counts[c, py, px] = last[p]
                max_ids[c, py, px] = best[p]


@numba.njit(parallel=True, **_JIT)
def rasterize_backward(
    means2d,  # [C,N,2]
    conics,  # [C,N,3]
    colors,  # [C,N,D]
    opacities,  # [C,N]
    backgrounds,  # [C,D]
    tile_offsets,
    flatten_ids,
    width,
    height,
    tile_size,
    tiles_w,
    tiles_h,
    out_alphas,  # [C,H,W] from the forward pass
    last_counts,  # [C,H,W] from the forward pass
    v_out_colors,  # [C,H,W,D]
    v_out_alphas,  # [C,H,W]
    pair_v_means2d,  # [P,2] written
    pair_v_conics,  # [P,3] written
    pair_v_colors,  # [P,D] written
    pair_v_opacities,  # [P] written
):
    """Gradients of the forward pass, Gaussian-major back to front within a tile (each pixel sees its Gaussians
    in reverse depth order, recovering T by division as gsplat does); one write per (tile, Gaussian) pair."""
    num_tiles = tiles_w * tiles_h
    num_cameras = means2d.shape[0]
    channels = colors.shape[2]
    for job in numba.prange(num_cameras * num_tiles):
        c = job // num_tiles
        tile = job % num_tiles
        x0 = (tile % tiles_w) * tile_size
        y0 = (tile // tiles_w) * tile_size
        x1 = min(width, x0 + tile_size) - 1
        y1 = min(height, y0 + tile_size) - 1
        tw = x1 - x0 + 1
        pixels = tw * (y1 - y0 + 1)
        start = tile_offsets[job]
        count = tile_offsets[job + 1] - start
        mx, my, ca, cb, cc, op, cut, col = _gather_tile(
            means2d, conics, colors, opacities, flatten_ids, c, start, count
        )
        t_final = np.empty(pixels, dtype=np.float64)
        transmittance = np.empty(pixels, dtype=np.float64)
        v_alpha_out = np.empty(pixels, dtype=np.float64)
        v_background = np.zeros(pixels, dtype=np.float64)
        v_out = np.empty((pixels, channels), dtype=np.float64)
        last = np.empty(pixels, dtype=np.int64)
        behind = np.zeros((pixels, channels), dtype=np.float64)
        for py in range(y0, y1 + 1):
            for px in range(x0, x1 + 1):
                p = (py - y0) * tw + (px - x0)
                t_final[p] = 1.0 - out_alphas[c, py, px]
                transmittance[p] = t_final[p]
                v_alpha_out[p] = v_out_alphas[c, py, px]
                last[p] = last_counts[c, py, px]
                for d in range(channels):
                    v_out[p, d] = v_out_colors[c, py, px, d]
                    v_background[p] += backgrounds[c, d] * v_out[p, d]
        g_color = np.empty(channels, dtype=np.float64)
        for k in range(count - 1, -1, -1):
            g_mx = g_my = g_ca = g_cb = g_cc = g_op = 0.0
            g_color[:] = 0.0
            det = ca[k] * cc[k] - cb[k] * cb[k]
            xa, xb = _pixel_range(mx[k], cc[k], det, cut[k], x0, x1)
            ya, yb = _pixel_range(my[k], ca[k], det, cut[k], y0, y1)
            for py in range(ya, yb + 1):
                dy = my[k] - (py + 0.5)
                for px in range(xa, xb + 1):
                    p = (py - y0) * tw + (px - x0)
                    if k >= last[p]:
                        continue
                    dx = mx[k] - (px + 0.5)
                    sigma = 0.5 * (ca[k] * dx * dx + cc[k] * dy * dy) + cb[k] * dx * dy
                    if sigma < 0.0 or sigma > cut[k]:
                        continue
                    vis = math.exp(-sigma)
                    raw_alpha = op[k] * vis
                    alpha = min(ALPHA_MAX, raw_alpha)
                    if alpha < ALPHA_MIN:
                        continue
                    inv_one_minus = 1.0 / (1.0 - alpha)
                    transmittance[p] *= inv_one_minus  # transmittance in front of Gaussian k
                    weight = alpha * transmittance[p]
                    v_alpha = 0.0
                    for d in range(channels):
                        g_color[d] += weight * v_out[p, d]
                        v_alpha += (col[k, d] * transmittance[p] - behind[p, d] * inv_one_minus) * v_out[p, d]
                    v_alpha += t_final[p] * inv_one_minus * (v_alpha_out[p] - v_background[p])
                    if raw_alpha <= ALPHA_MAX:
                        v_sigma = -raw_alpha * v_alpha
                        g_ca += 0.5 * v_sigma * dx * dx
                        g_cb += v_sigma * dx * dy
                        g_cc += 0.5 * v_sigma * dy * dy
                        g_mx += v_sigma * (ca[k] * dx + cb[k] * dy)
                        g_my += v_sigma * (cb[k] * dx + cc[k] * dy)
                        g_op += vis * v_alpha
                    for d in range(channels):
                        behind[p, d] += col[k, d] * weight
            slot = start + k
            pair_v_means2d[slot, 0] = g_mx
            pair_v_means2d[slot, 1] = g_my
            pair_v_conics[slot, 0] = g_ca
            pair_v_conics[slot, 1] = g_cb
            pair_v_conics[slot, 2] = g_cc
            pair_v_opacities[slot] = g_op
            for d in range(channels):
                pair_v_colors[slot, d] = g_color[d]


@numba.njit(**_JIT)
def scatter_pair_gradients(
    tile_offsets,
    flatten_ids,
    num_tiles,
    pair_v_means2d,
    pair_v_conics,
    pair_v_colors,
    pair_v_opacities,
    v_means2d,  # [C,N,2] accumulated
    v_conics,  # [C,N,3] accumulated
    v_colors,  # [C,N,D] accumulated
    v_opacities,  # [C,N] accumulated
):
    """Sum the per-pair gradients into per-Gaussian gradients (sequential: pairs of one Gaussian span tiles)."""
    num_cameras = v_means2d.shape[0]
    channels = v_colors.shape[2]
    for c in range(num_cameras):
        for k in range(tile_offsets[c * num_tiles], tile_offsets[(c + 1) * num_tiles]):
            n = flatten_ids[k]
            v_means2d[c, n, 0] += pair_v_means2d[k, 0]
            v_means2d[c, n, 1] += pair_v_means2d[k, 1]
            v_conics[c, n, 0] += pair_v_conics[k, 0]
            v_conics[c, n, 1] += pair_v_conics[k, 1]
            v_conics[c, n, 2] += pair_v_conics[k, 2]
            v_opacities[c, n] += pair_v_opacities[k]
            for d in range(channels):
                v_colors[c, n, d] += pair_v_colors[k, d]


@numba.njit(**_JIT)
def _ray_depth(rays, c, n, u, v, intrinsics):  # noqa: ANN001, ANN201
    """Camera z where the ray through pixel (u, v) meets Gaussian n's maximum (see :func:`rasterize_ray_depth`)."""
    rx = (u - intrinsics[c, 2]) / intrinsics[c, 0]
    ry = (v - intrinsics[c, 3]) / intrinsics[c, 1]
    num = rays[c, n, 6] * rx + rays[c, n, 7] * ry + rays[c, n, 8]
    den = (
        rays[c, n, 0] * rx * rx
        + rays[c, n, 3] * ry * ry
        + rays[c, n, 5]
        + 2.0 * (rays[c, n, 1] * rx * ry + rays[c, n, 2] * rx + rays[c, n, 4] * ry)
    )
    return num / den


@numba.njit(parallel=True, **_JIT)
def rasterize_ray_depth(
    means2d,  # [C,N,2]
    conics,  # [C,N,3]
    opacities,  # [C,N]
    rays,  # [C,N,9]: M = Sigma_c^-1 up to scale (m00 m01 m02 m11 m12 m22) and b = M mu_c
    intrinsics,  # [C,4] fx fy cx cy
    tile_offsets,
    flatten_ids,
    width,
    height,
    tile_size,
    tiles_w,
    tiles_h,
    out_expected,  # [C,H,W] written: sum_i w_i t_i (not yet divided by alpha)
    out_median,  # [C,H,W] written: t of the Gaussian where the accumulated alpha passes 0.5, 0 if never
    out_alphas,  # [C,H,W] written
):
    """Ray-Gaussian depth compositing (forward only): the blending weights of :func:`rasterize_forward`, but each
    Gaussian contributes the depth where the pixel's ray meets its maximum rather than its centre's depth.

    The ray x(t) = t d with d = ((u - cx) / fx, (v - cy) / fy, 1) (so t is camera z) meets the maximum of a
    Gaussian N(mu, Sigma) at t* = d^T M mu / d^T M d with M = Sigma^-1 (GOF's / RaDe-GS's ray-maximum depth); for
    a flat disc (one scale -> 0) this is the ray's intersection with the disc's plane (2DGS)."""
    num_tiles = tiles_w * tiles_h
    num_cameras = means2d.shape[0]
    for job in numba.prange(num_cameras * num_tiles):
        c = job // num_tiles
        tile = job % num_tiles
        x0 = (tile % tiles_w) * tile_size
        y0 = (tile // tiles_w) * tile_size
        x1 = min(width, x0 + tile_size) - 1
        y1 = min(height, y0 + tile_size) - 1
        tw = x1 - x0 + 1
        pixels = tw * (y1 - y0 + 1)
        start = tile_offsets[job]
        count = tile_offsets[job + 1] - start
        transmittance = np.ones(pixels, dtype=np.float64)
        accum = np.zeros(pixels, dtype=np.float64)
        median = np.zeros(pixels, dtype=np.float64)
        done = np.zeros(pixels, dtype=np.bool_)
        finished = 0
        for k in range(count):
            if finished == pixels:
                break
            n = flatten_ids[start + k]
            mx = means2d[c, n, 0]
            my = means2d[c, n, 1]
            ca = conics[c, n, 0]
            cb = conics[c, n, 1]
            cc = conics[c, n, 2]
            op = opacities[c, n]
            cut = _sigma_cutoff(op)
            det = ca * cc - cb * cb
            xa, xb = _pixel_range(mx, cc, det, cut, x0, x1)
            ya, yb = _pixel_range(my, ca, det, cut, y0, y1)
            for py in range(ya, yb + 1):
                dy = my - (py + 0.5)
                for px in range(xa, xb + 1):
                    p = (py - y0) * tw + (px - x0)
                    if done[p]:
                        continue
                    dx = mx - (px + 0.5)
                    sigma = 0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                    if sigma < 0.0 or sigma > cut:
                        continue
                    alpha = min(ALPHA_MAX, op * math.exp(-sigma))
                    if alpha < ALPHA_MIN:
                        continue
                    next_t = transmittance[p] * (1.0 - alpha)
                    if next_t <= TRANSMITTANCE_MIN:
                        done[p] = True
                        finished += 1
                        continue
                    depth = _ray_depth(rays, c, n, px + 0.5, py + 0.5, intrinsics)
                    accum[p] += alpha * transmittance[p] * depth
                    if transmittance[p] > 0.5 and next_t <= 0.5:
                        median[p] = depth
                    transmittance[p] = next_t
        for py in range(y0, y1 + 1):
            for px in range(x0, x1 + 1):
                p = (py - y0) * tw + (px - x0)
                out_expected[c, py, px] = accum[p]
                out_median[c, py, px] = median[p]
                out_alphas[c, py, px] = 1.0 - transmittance[p]


@numba.njit(parallel=True, **_JIT)
def project_ray_gaussians(
    means,  # [N,3]
    quats,  # [N,4] wxyz (normalised here)
    scales,  # [N,3]
    viewmats,  # [C,4,4]
    intrinsics,  # [C,4] fx fy cx cy
    width,
    height,
    eps2d,
    near_plane,
    far_plane,
    radius_clip,
    fov_clamp_margin,
    out_means2d,  # [C,N,2] written
    out_conics,  # [C,N,3] written
    out_depths,  # [C,N] written
    out_radii,  # [C,N] int32 written
    out_compensations,  # [C,N] written
    out_rays,  # [C,N,9] written: M = Sigma_c^-1 up to scale (m00 m01 m02 m11 m12 m22) and M mu_c
):
    """The projection of :func:`splattwin.render._projection.project_gaussians` (same formulas, float64, no
    gradient) fused with the ray-depth coefficients of :func:`rasterize_ray_depth`, one (camera, Gaussian) pair
    at a time. The torch version builds [C, N, 3, 3] tensors through several einsums: for a 1M-Gaussian scene
    that was most of the surface-depth rendering's time (docs/surfaces.md), this is a few float operations per
    pair with nothing allocated.

    M is Sigma^-1 scaled by the smallest variance, R diag(s_min^2 / s^2) R^T: its largest eigenvalue is 1, so a
    flat disc (s_min -> 0) stays finite and t* tends to the ray's intersection with the disc's plane."""
    num_cameras = viewmats.shape[0]
    count = means.shape[0]
    for job in numba.prange(num_cameras * count):
        c = job // count
        n = job % count
        qw, qx, qy, qz = quats[n, 0], quats[n, 1], quats[n, 2], quats[n, 3]
        qn = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        qw, qx, qy, qz = qw / qn, qx / qn, qy / qn, qz / qn
        q00, q01, q02 = 1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qw * qz), 2 * (qx * qz + qw * qy)
        q10, q11, q12 = 2 * (qx * qy + qw * qz), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qw * qx)
        q20, q21, q22 = 2 * (qx * qz - qw * qy), 2 * (qy * qz + qw * qx), 1 - 2 * (qx * qx + qy * qy)
        v = viewmats[c]
        # the Gaussian's axes in the camera frame (columns of R_view @ R_q)
        r00 = v[0, 0] * q00 + v[0, 1] * q10 + v[0, 2] * q20
        r01 = v[0, 0] * q01 + v[0, 1] * q11 + v[0, 2] * q21
        r02 = v[0, 0] * q02 + v[0, 1] * q12 + v[0, 2] * q22
        r10 = v[1, 0] * q00 + v[1, 1] * q10 + v[1, 2] * q20
        r11 = v[1, 0] * q01 + v[1, 1] * q11 + v[1, 2] * q21
        r12 = v[1, 0] * q02 + v[1, 1] * q12 + v[1, 2] * q22
        r20 = v[2, 0] * q00 + v[2, 1] * q10 + v[2, 2] * q20
        r21 = v[2, 0] * q01 + v[2, 1] * q11 + v[2, 2] * q21
        r22 = v[2, 0] * q02 + v[2, 1] * q12 + v[2, 2] * q22
        x = v[0, 0] * means[n, 0] + v[0, 1] * means[n, 1] + v[0, 2] * means[n, 2] + v[0, 3]
        y = v[1, 0] * means[n, 0] + v[1, 1] * means[n, 1] + v[1, 2] * means[n, 2] + v[1, 3]
        z = v[2, 0] * means[n, 0] + v[2, 1] * means[n, 1] + v[2, 2] * means[n, 2] + v[2, 3]
        s0, s1, s2 = scales[n, 0], scales[n, 1], scales[n, 2]
        v0, v1, v2 = s0 * s0, s1 * s1, s2 * s2
        s_min = max(min(s0, min(s1, s2)), 1e-12)
        i0 = (s_min / max(s0, 1e-12)) ** 2
        i1 = (s_min / max(s1, 1e-12)) ** 2
        i2 = (s_min / max(s2, 1e-12)) ** 2
        c00 = r00 * v0 * r00 + r01 * v1 * r01 + r02 * v2 * r02
        c01 = r00 * v0 * r10 + r01 * v1 * r11 + r02 * v2 * r12
        c02 = r00 * v0 * r20 + r01 * v1 * r21 + r02 * v2 * r22
        c11 = r10 * v0 * r10 + r11 * v1 * r11 + r12 * v2 * r12
        c12 = r10 * v0 * r20 + r11 * v1 * r21 + r12 * v2 * r22
        c22 = r20 * v0 * r20 + r21 * v1 * r21 + r22 * v2 * r22
        m00 = r00 * i0 * r00 + r01 * i1 * r01 + r02 * i2 * r02
        m01 = r00 * i0 * r10 + r01 * i1 * r11 + r02 * i2 * r12
        m02 = r00 * i0 * r20 + r01 * i1 * r21 + r02 * i2 * r22
        m11 = r10 * i0 * r10 + r11 * i1 * r11 + r12 * i2 * r12
        m12 = r10 * i0 * r20 + r11 * i1 * r21 + r12 * i2 * r22
        m22 = r20 * i0 * r20 + r21 * i1 * r21 + r22 * i2 * r22
        out_rays[c, n, 0] = m00
        out_rays[c, n, 1] = m01
        out_rays[c, n, 2] = m02
        out_rays[c, n, 3] = m11
        out_rays[c, n, 4] = m12
        out_rays[c, n, 5] = m22
        out_rays[c, n, 6] = m00 * x + m01 * y + m02 * z
        out_rays[c, n, 7] = m01 * x + m11 * y + m12 * z
        out_rays[c, n, 8] = m02 * x + m12 * y + m22 * z
        fx, fy, cx, cy = intrinsics[c, 0], intrinsics[c, 1], intrinsics[c, 2], intrinsics[c, 3]
        out_depths[c, n] = z
        in_depth = near_plane < z < far_plane
        zs = z if in_depth else 1.0
        tan_fovx = 0.5 * width / fx
        tan_fovy = 0.5 * height / fy
        lim_x_pos = (width - cx) / fx + fov_clamp_margin * tan_fovx
        lim_x_neg = cx / fx + fov_clamp_margin * tan_fovx
        lim_y_pos = (height - cy) / fy + fov_clamp_margin * tan_fovy
        lim_y_neg = cy / fy + fov_clamp_margin * tan_fovy
        xc = zs * min(max(x / zs, -lim_x_neg), lim_x_pos)
        yc = zs * min(max(y / zs, -lim_y_neg), lim_y_pos)
        j00 = fx / zs
        j02 = -fx * xc / (zs * zs)
        j11 = fy / zs
        j12 = -fy * yc / (zs * zs)
        # cov2d = J cov J^T with J = [[j00, 0, j02], [0, j11, j12]]
        a = j00 * (j00 * c00 + j02 * c02) + j02 * (j00 * c02 + j02 * c22)
        b = j00 * (j11 * c01 + j12 * c02) + j02 * (j11 * c12 + j12 * c22)
        cc = j11 * (j11 * c11 + j12 * c12) + j12 * (j11 * c12 + j12 * c22)
        mx = fx * x / zs + cx
        my = fy * y / zs + cy
        out_means2d[c, n, 0] = mx
        out_means2d[c, n, 1] = my
        det_raw = a * cc - b * b
        a += eps2d
        cc += eps2d
        det = a * cc - b * b
        valid = in_depth and det > 0.0
        det_safe = det if valid else 1.0
        out_conics[c, n, 0] = cc / det_safe
        out_conics[c, n, 1] = -b / det_safe
        out_conics[c, n, 2] = a / det_safe
        out_compensations[c, n] = math.sqrt(max(det_raw / det_safe, 0.0))
        half_trace = 0.5 * (a + cc)
        radius = math.ceil(3.0 * math.sqrt(half_trace + math.sqrt(max(half_trace * half_trace - det, 0.01))))
        keep = (
            valid
            and math.isfinite(radius)
            and radius > radius_clip
            and mx + radius > 0
            and mx - radius < width
            and my + radius > 0
            and my - radius < height
        )
        out_radii[c, n] = int(radius) if keep else 0
