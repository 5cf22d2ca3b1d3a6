"""Numba kernels of the CPU splat rasterizer (tile intersection, forward and backward compositing).

Only kernels live here; :mod:`splattwin.render._cpu` calls them. The semantics are gsplat's
(``rasterize_to_pixels_fwd.cu`` / ``_bwd.cu``): pixel centres at ``(x + 0.5, y + 0.5)``,
``sigma = 0.5 (a dx^2 + c dy^2) + b dx dy`` with the conic ``(a, b, c)``, ``alpha = min(0.999, opacity exp(-sigma))``,
Gaussians with ``sigma < 0`` or ``alpha < 1/255`` skipped, and a pixel stops before the Gaussian that would bring
its transmittance to ``<= 1e-4``. Work is split over (camera, tile) pairs with ``prange``; each tile's Gaussians
are gathered into contiguous arrays first so the per-pixel loop reads memory in order.

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
    "rasterize_backward",
    "rasterize_forward",
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
    num_tiles = tiles_w * tiles_h
    num_cameras = means2d.shape[0]
    channels = colors.shape[2]
    for job in numba.prange(num_cameras * num_tiles):
        c = job // num_tiles
        tile = job % num_tiles
        tile_y = tile // tiles_w
        tile_x = tile % tiles_w
        start = tile_offsets[job]
        count = tile_offsets[job + 1] - start
        # Gather this tile's Gaussians into contiguous arrays (front to back).
        mx = np.empty(count, dtype=means2d.dtype)
        my = np.empty(count, dtype=means2d.dtype)
        ca = np.empty(count, dtype=means2d.dtype)
        cb = np.empty(count, dtype=means2d.dtype)
        cc = np.empty(count, dtype=means2d.dtype)
        op = np.empty(count, dtype=means2d.dtype)
        col = np.empty((count, channels), dtype=means2d.dtype)
        cut = np.empty(count, dtype=np.float64)
        for k in range(count):
            n = flatten_ids[start + k]
            cut[k] = _sigma_cutoff(opacities[c, n])
            mx[k] = means2d[c, n, 0]
            my[k] = means2d[c, n, 1]
            ca[k] = conics[c, n, 0]
            cb[k] = conics[c, n, 1]
            cc[k] = conics[c, n, 2]
            op[k] = opacities[c, n]
            for d in range(channels):
                col[k, d] = colors[c, n, d]
        pixel = np.zeros(channels, dtype=means2d.dtype)
        for py in range(tile_y * tile_size, min(height, (tile_y + 1) * tile_size)):
            for px in range(tile_x * tile_size, min(width, (tile_x + 1) * tile_size)):
                fx = px + 0.5
                fy = py + 0.5
                transmittance = 1.0
                pixel[:] = 0.0
                last = 0
                best_weight = 0.0
                best = -1
                for k in range(count):
                    dx = mx[k] - fx
                    dy = my[k] - fy
                    sigma = 0.5 * (ca[k] * dx * dx + cc[k] * dy * dy) + cb[k] * dx * dy
                    if sigma < 0.0 or sigma > cut[k]:
                        continue
                    alpha = min(ALPHA_MAX, op[k] * math.exp(-sigma))
                    if alpha < ALPHA_MIN:
                        continue
                    next_t = transmittance * (1.0 - alpha)
                    if next_t <= TRANSMITTANCE_MIN:
                        break
                    weight = alpha * transmittance
                    for d in range(channels):
                        pixel[d] += weight * col[k, d]
                    if weight > best_weight:
                        best_weight = weight
                        best = flatten_ids[start + k]
                    transmittance = next_t
                    last = k + 1
                for d in range(channels):
                    out_colors[c, py, px, d] = pixel[d] + transmittance * backgrounds[c, d]
                out_alphas[c, py, px] = 1.0 - transmittance
                last_counts[c, py, px] = last
                max_ids[c, py, px] = best


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
    num_tiles = tiles_w * tiles_h
    num_cameras = means2d.shape[0]
    channels = colors.shape[2]
    for job in numba.prange(num_cameras * num_tiles):
        c = job // num_tiles
        tile = job % num_tiles
        tile_y = tile // tiles_w
        tile_x = tile % tiles_w
        start = tile_offsets[job]
        count = tile_offsets[job + 1] - start
        mx = np.empty(count, dtype=means2d.dtype)
        my = np.empty(count, dtype=means2d.dtype)
        ca = np.empty(count, dtype=means2d.dtype)
        cb = np.empty(count, dtype=means2d.dtype)
        cc = np.empty(count, dtype=means2d.dtype)
        op = np.empty(count, dtype=means2d.dtype)
        col = np.empty((count, channels), dtype=means2d.dtype)
        cut = np.empty(count, dtype=np.float64)
        for k in range(count):
            n = flatten_ids[start + k]
            cut[k] = _sigma_cutoff(opacities[c, n])
            mx[k] = means2d[c, n, 0]
            my[k] = means2d[c, n, 1]
            ca[k] = conics[c, n, 0]
            cb[k] = conics[c, n, 1]
            cc[k] = conics[c, n, 2]
            op[k] = opacities[c, n]
            for d in range(channels):
                col[k, d] = colors[c, n, d]
            pair_v_means2d[start + k, 0] = 0.0
            pair_v_means2d[start + k, 1] = 0.0
            pair_v_conics[start + k, 0] = 0.0
            pair_v_conics[start + k, 1] = 0.0
            pair_v_conics[start + k, 2] = 0.0
            pair_v_opacities[start + k] = 0.0
            for d in range(channels):
                pair_v_colors[start + k, d] = 0.0
        behind = np.zeros(channels, dtype=means2d.dtype)
        for py in range(tile_y * tile_size, min(height, (tile_y + 1) * tile_size)):
            for px in range(tile_x * tile_size, min(width, (tile_x + 1) * tile_size)):
                fx = px + 0.5
                fy = py + 0.5
                t_final = 1.0 - out_alphas[c, py, px]
                transmittance = t_final
                v_alpha_out = v_out_alphas[c, py, px]
                v_background = 0.0
                for d in range(channels):
                    v_background += backgrounds[c, d] * v_out_colors[c, py, px, d]
                behind[:] = 0.0
                for k in range(last_counts[c, py, px] - 1, -1, -1):
                    dx = mx[k] - fx
                    dy = my[k] - fy
                    sigma = 0.5 * (ca[k] * dx * dx + cc[k] * dy * dy) + cb[k] * dx * dy
                    if sigma < 0.0 or sigma > cut[k]:
                        continue
                    vis = math.exp(-sigma)
                    raw_alpha = op[k] * vis
                    alpha = min(ALPHA_MAX, raw_alpha)
                    if alpha < ALPHA_MIN:
                        continue
                    inv_one_minus = 1.0 / (1.0 - alpha)
                    transmittance *= inv_one_minus  # transmittance in front of Gaussian k
                    weight = alpha * transmittance
                    slot = start + k
                    v_alpha = 0.0
                    for d in range(channels):
                        v_out = v_out_colors[c, py, px, d]
                        pair_v_colors[slot, d] += weight * v_out
                        v_alpha += (col[k, d] * transmittance - behind[d] * inv_one_minus) * v_out
                    v_alpha += t_final * inv_one_minus * v_alpha_out
                    v_alpha -= t_final * inv_one_minus * v_background
                    if raw_alpha <= ALPHA_MAX:
                        v_sigma = -raw_alpha * v_alpha
                        pair_v_conics[slot, 0] += 0.5 * v_sigma * dx * dx
                        pair_v_conics[slot, 1] += v_sigma * dx * dy
                        pair_v_conics[slot, 2] += 0.5 * v_sigma * dy * dy
                        pair_v_means2d[slot, 0] += v_sigma * (ca[k] * dx + cb[k] * dy)
                        pair_v_means2d[slot, 1] += v_sigma * (cb[k] * dx + cc[k] * dy)
                        pair_v_opacities[slot] += vis * v_alpha
                    for d in range(channels):
                        behind[d] += col[k, d] * weight


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
