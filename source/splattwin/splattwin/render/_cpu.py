"""The CPU compositing step as a torch autograd Function over the numba kernels.

:class:`RasterizeToPixels` is gsplat's ``rasterize_to_pixels`` for the CPU: projected Gaussians (means2d, conics,
per-camera colours and opacities) -> images, with a hand-written backward pass. Tile lists are built here with a
stable depth sort per camera followed by a counting sort into tiles, which yields the same per-tile front-to-back
order as gsplat's radix sort of (tile, depth) keys without sorting the pair list itself.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["TileLists", "build_tile_lists", "project_for_ray_depth", "rasterize_ray_depth", "rasterize_to_pixels"]


@dataclass
class TileLists:
    """Per-tile Gaussian lists of C cameras.

    Attributes:
        tile_size: tile edge [px].
        tiles_w, tiles_h: number of tiles across and down.
        tile_offsets: [C * tiles_h * tiles_w + 1] int64, start of each tile's list in ``flatten_ids``.
        flatten_ids: [P] int32 Gaussian index of each (tile, Gaussian) pair, front to back within a tile.
    """

    tile_size: int
    tiles_w: int
    tiles_h: int
    tile_offsets: np.ndarray
    flatten_ids: np.ndarray

    @property
    def num_pairs(self) -> int:
        """Number of (tile, Gaussian) pairs."""
        return int(self.flatten_ids.shape[0])


def build_tile_lists(
    means2d: np.ndarray, radii: np.ndarray, depths: np.ndarray, width: int, height: int, tile_size: int = 16
) -> TileLists:
    """Intersect projected Gaussians with image tiles and sort each tile's list by depth.

    Args:
        means2d: [C, N, 2] pixel coordinates.
        radii: [C, N] pixel radii, 0 for culled Gaussians.
        depths: [C, N] camera-frame depth [m].
        width, height: image size [px].
        tile_size: tile edge [px].

    Returns:
        The :class:`TileLists`.
    """
    from splattwin.render import _cpu_kernels as kernels  # noqa: PLC0415

    tiles_w = math.ceil(width / tile_size)
    tiles_h = math.ceil(height / tile_size)
    radii = np.ascontiguousarray(radii, dtype=np.float64)
    means2d = np.ascontiguousarray(means2d, dtype=np.float64)
    with _keep_torch_threads():
        counts = kernels.count_tiles(means2d, radii, tile_size, tiles_w, tiles_h)
    per_tile = _pairs_per_tile(means2d, radii, counts, tile_size, tiles_w, tiles_h)
    tile_offsets = np.zeros(per_tile.size + 1, dtype=np.int64)
    np.cumsum(per_tile, out=tile_offsets[1:])
    depth_order = np.argsort(depths, axis=1, kind="stable").astype(np.int64)
    flatten_ids = kernels.fill_tile_lists(means2d, radii, depth_order, tile_size, tiles_w, tiles_h, tile_offsets)
    return TileLists(tile_size, tiles_w, tiles_h, tile_offsets, flatten_ids)


def _pairs_per_tile(
    means2d: np.ndarray, radii: np.ndarray, counts: np.ndarray, tile_size: int, tiles_w: int, tiles_h: int
) -> np.ndarray:
    """[C * tiles_h * tiles_w] number of Gaussians overlapping each tile (a 2D difference array per camera)."""
    num_cameras = radii.shape[0]
    diff = np.zeros((num_cameras, tiles_h + 1, tiles_w + 1), dtype=np.int64)
    cams, gaussians = np.nonzero(counts)
    r = radii[cams, gaussians]
    mx = means2d[cams, gaussians, 0]
    my = means2d[cams, gaussians, 1]
    x0 = np.clip(np.floor((mx - r) / tile_size), 0, tiles_w).astype(np.int64)
    x1 = np.clip(np.ceil((mx + r) / tile_size), 0, tiles_w).astype(np.int64)
    y0 = np.clip(np.floor((my - r) / tile_size), 0, tiles_h).astype(np.int64)
    y1 = np.clip(np.ceil((my + r) / tile_size), 0, tiles_h).astype(np.int64)
    np.add.at(diff, (cams, y0, x0), 1)
    np.add.at(diff, (cams, y0, x1), -1)
    np.add.at(diff, (cams, y1, x0), -1)
    np.add.at(diff, (cams, y1, x1), 1)
    return diff.cumsum(axis=1).cumsum(axis=2)[:, :tiles_h, :tiles_w].reshape(-1)


@contextlib.contextmanager
def _keep_torch_threads() -> Iterator[None]:
    """Numba's OpenMP layer shares libgomp with torch and resets its thread count on launch; restore it."""
    import torch  # noqa: PLC0415

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy())


def _make_function() -> Any:
    import torch  # noqa: PLC0415

    from splattwin.render import _cpu_kernels as kernels  # noqa: PLC0415

    class RasterizeToPixels(torch.autograd.Function):
        """means2d [C,N,2], conics [C,N,3], colors [C,N,D], opacities [C,N] -> colors [C,H,W,D], alphas [C,H,W,1]."""

        @staticmethod
        def forward(
            ctx,
            means2d,
            conics,
            colors,
            opacities,
            backgrounds,
            tiles,
            width,
            height,
        ):
            num_cameras, _, channels = colors.shape
            dtype = np.float64 if colors.dtype == torch.float64 else np.float32
            arrays = [_numpy(t).astype(dtype, copy=False) for t in (means2d, conics, colors, opacities, backgrounds)]
            out_colors = np.empty((num_cameras, height, width, channels), dtype=dtype)
            out_alphas = np.empty((num_cameras, height, width), dtype=dtype)
            last_counts = np.empty((num_cameras, height, width), dtype=np.int32)
            max_ids = np.empty((num_cameras, height, width), dtype=np.int32)
            with _keep_torch_threads():
                kernels.rasterize_forward(
                    *arrays,
                    tiles.tile_offsets,
                    tiles.flatten_ids,
                    width,
                    height,
                    tiles.tile_size,
                    tiles.tiles_w,
                    tiles.tiles_h,
                    out_colors,
                    out_alphas,
                    last_counts,
                    max_ids,
                )
            ctx.arrays = arrays
            ctx.tiles = tiles
            ctx.size = (width, height)
            ctx.out_alphas = out_alphas
            ctx.last_counts = last_counts
            ctx.max_ids = max_ids
            out_colors_t = torch.from_numpy(out_colors).to(colors.dtype)
            out_alphas_t = torch.from_numpy(out_alphas[..., None].copy()).to(colors.dtype)
            max_ids_t = torch.from_numpy(max_ids)
            ctx.mark_non_differentiable(max_ids_t)
            return out_colors_t, out_alphas_t, max_ids_t

        @staticmethod
        def backward(ctx, v_out_colors, v_out_alphas, _v_max_ids):
            means2d, conics, colors, opacities, backgrounds = ctx.arrays
            tiles = ctx.tiles
            width, height = ctx.size
            dtype = colors.dtype
            pairs = tiles.num_pairs
            channels = colors.shape[2]
            pair_v_means2d = np.empty((pairs, 2), dtype=dtype)
            pair_v_conics = np.empty((pairs, 3), dtype=dtype)
            pair_v_colors = np.empty((pairs, channels), dtype=dtype)
            pair_v_opacities = np.empty(pairs, dtype=dtype)
            v_colors_np = _numpy(v_out_colors).astype(dtype, copy=False)
            v_alphas_np = np.ascontiguousarray(_numpy(v_out_alphas)[..., 0]).astype(dtype, copy=False)
            with _keep_torch_threads():
                kernels.rasterize_backward(
                    means2d,
                    conics,
                    colors,
                    opacities,
                    backgrounds,
                    tiles.tile_offsets,
                    tiles.flatten_ids,
                    width,
                    height,
                    tiles.tile_size,
                    tiles.tiles_w,
                    tiles.tiles_h,
                    ctx.out_alphas,
                    ctx.last_counts,
                    v_colors_np,
                    v_alphas_np,
                    pair_v_means2d,
                    pair_v_conics,
                    pair_v_colors,
                    pair_v_opacities,
                )
            v_means2d = np.zeros_like(means2d)
            v_conics = np.zeros_like(conics)
            v_colors = np.zeros_like(colors)
            v_opacities = np.zeros_like(opacities)
            kernels.scatter_pair_gradients(
                tiles.tile_offsets,
                tiles.flatten_ids,
                tiles.tiles_w * tiles.tiles_h,
                pair_v_means2d,
                pair_v_conics,
                pair_v_colors,
                pair_v_opacities,
                v_means2d,
                v_conics,
                v_colors,
                v_opacities,
            )
            grads = [torch.from_numpy(g) for g in (v_means2d, v_conics, v_colors, v_opacities)]
            return (*grads, None, None, None, None)

    return RasterizeToPixels


_FUNCTION: Any = None


def rasterize_to_pixels(
    means2d: torch.Tensor,
    conics: torch.Tensor,
    colors: torch.Tensor,
    opacities: torch.Tensor,
    backgrounds: torch.Tensor,
    tiles: TileLists,
    width: int,
    height: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Composite projected Gaussians front to back on the CPU (differentiable in the first four arguments).

    Args:
        means2d: [C, N, 2] pixel coordinates.
        conics: [C, N, 3] inverse 2D covariances (a, b, c) [px^-2].
        colors: [C, N, D] per-camera colours (any channels, e.g. RGB plus depth).
        opacities: [C, N] in [0, 1].
        backgrounds: [C, D] colour behind everything (no gradient).
        tiles: the tile lists of these projections (:func:`build_tile_lists`).
        width, height: image size [px].

    Returns:
        colors [C, H, W, D], alphas [C, H, W, 1], and max_ids [C, H, W] int32: per pixel the Gaussian with the
        largest blending weight alpha * T (-1 where none contributes).
    """
    global _FUNCTION  # noqa: PLW0603 (built once, lazily, so importing this module does not import torch)
    if _FUNCTION is None:
        _FUNCTION = _make_function()
    return _FUNCTION.apply(means2d, conics, colors, opacities, backgrounds, tiles, width, height)


def project_for_ray_depth(
    means: np.ndarray,
    quats: np.ndarray,
    scales: np.ndarray,
    viewmats: np.ndarray,
    intrinsics: np.ndarray,
    width: int,
    height: int,
    *,
    eps2d: float,
    near_plane: float,
    far_plane: float,
    radius_clip: float,
) -> tuple[Any, np.ndarray]:
    """:func:`splattwin.render._projection.project_gaussians` (no gradient, float64) and the ray coefficients of
    :func:`rasterize_ray_depth`, by one numba kernel (:func:`_cpu_kernels.project_ray_gaussians`).

    Args:
        means, quats, scales: [N, 3], [N, 4] wxyz, [N, 3]; viewmats: [C, 4, 4]; intrinsics: [C, 4] fx fy cx cy.
        width, height, eps2d, near_plane, far_plane, radius_clip: as ``project_gaussians``.

    Returns:
        The :class:`~splattwin.render._projection.Projection` (torch tensors over the kernel's arrays) and
        rays [C, N, 9].
    """
    import torch  # noqa: PLC0415

    from splattwin.render import _cpu_kernels as kernels  # noqa: PLC0415
    from splattwin.render._projection import _FOV_CLAMP_MARGIN, Projection  # noqa: PLC0415

    num_cameras, count = viewmats.shape[0], means.shape[0]
    means2d = np.empty((num_cameras, count, 2))
    conics = np.empty((num_cameras, count, 3))
    depths = np.empty((num_cameras, count))
    radii = np.empty((num_cameras, count), dtype=np.int32)
    compensations = np.empty((num_cameras, count))
    rays = np.empty((num_cameras, count, 9))
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (means, quats, scales, viewmats, intrinsics)]
    with _keep_torch_threads():
        kernels.project_ray_gaussians(
            *arrays, width, height, float(eps2d), float(near_plane), float(far_plane), float(radius_clip),
            _FOV_CLAMP_MARGIN, means2d, conics, depths, radii, compensations, rays,
        )  # fmt: skip
    projection = Projection(
        means2d=torch.from_numpy(means2d),
        conics=torch.from_numpy(conics),
        depths=torch.from_numpy(depths),
        radii=torch.from_numpy(radii),
        compensations=torch.from_numpy(compensations),
    )
    return projection, rays


def rasterize_ray_depth(
    means2d: np.ndarray,
    conics: np.ndarray,
    opacities: np.ndarray,
    rays: np.ndarray,
    intrinsics: np.ndarray,
    tiles: TileLists,
    width: int,
    height: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-Gaussian depth of C cameras (forward only, no gradient; :func:`_cpu_kernels.rasterize_ray_depth`).

    Args:
        means2d: [C, N, 2] pixel coordinates; conics: [C, N, 3] [px^-2]; opacities: [C, N].
        rays: [C, N, 9] per Gaussian and camera: the camera-frame inverse covariance up to scale
            (m00, m01, m02, m11, m12, m22) and ``M @ mu_c`` (3).
        intrinsics: [C, 4] fx, fy, cx, cy [px].
        tiles: the tile lists of these projections; width, height: image size [px].

    Returns:
        expected [C, H, W] (sum of w_i t_i, not divided by alpha), median [C, H, W] [m] (0 where the accumulated
        alpha never reaches 0.5), alphas [C, H, W].
    """
    from splattwin.render import _cpu_kernels as kernels  # noqa: PLC0415

    num_cameras = means2d.shape[0]
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (means2d, conics, opacities, rays, intrinsics)]
    expected = np.empty((num_cameras, height, width), dtype=np.float64)
    median = np.empty_like(expected)
    alphas = np.empty_like(expected)
    with _keep_torch_threads():
        kernels.rasterize_ray_depth(
            *arrays,
            tiles.tile_offsets,
            tiles.flatten_ids,
            width,
            height,
            tiles.tile_size,
            tiles.tiles_w,
            tiles.tiles_h,
            expected,
            median,
            alphas,
        )
    return expected, median, alphas
