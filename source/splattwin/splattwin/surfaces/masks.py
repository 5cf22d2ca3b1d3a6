"""An object cut out of a whole-scene splat by 2D masks of posed images (``extract-mesh --mask-images``).

A user holds the images a splat was fitted from, their cameras, and per image a mask of one object (what SAM
gives: the object's VISIBLE pixels). :func:`render_views` renders the whole scene's depth and opacity from the
real cameras (the ray-Gaussian depth of :func:`splattwin.surfaces.depth.render_surface_depth`). A pixel outside a
mask says "not the object" only up to the surface seen there: what lies behind that surface (the part of the
object another object hides) is unknown. So:

- :func:`masked_region` takes as the object the opaque Gaussians that fall inside the mask of every camera in
  whose image they are VISIBLE (not behind the seen surface), seen by at least two cameras;
- :func:`fuse_masked_views` fuses the pixels inside the masks as a plain TSDF (the same
  :func:`splattwin.surfaces.tsdf.fuse_depth_views` the virtual views use), then adds an empty-space vote (+1, the
  fusion's vote for a transparent pixel) to every voxel in front of the surface seen at a pixel outside the mask
  (all along the ray where that pixel is transparent), cuts at the table and meshes. The table and the
  neighbouring objects are carved; the part of the object they hide is kept.

A voxel no camera sees counts as inside (the fusion's rule for a voxel hidden from every view); the cameras must
see the whole object (a capture around it does).
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.render.camera import Camera
from splattwin.surfaces.extract import ExtractionConfig, ExtractionResult, largest_hole
from splattwin.surfaces.tsdf import TSDFVolume

__all__ = ["fuse_masked_views", "masked_region", "render_views"]

logger = logging.getLogger(__name__)

_MIN_VIEWS = 2
"""A Gaussian of the object must fall inside the images of at least this many cameras."""


def _pixels(camera: Camera, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(column, row) int pixel of each point and whether it is in front of the camera and inside its image."""
    in_camera = points @ camera.viewmat[:3, :3].T + camera.viewmat[:3, 3]
    z = in_camera[:, 2]
    front = z > max(camera.near, 1e-6)
    safe = np.where(front, z, 1.0)
    u = np.floor(camera.K[0, 0] * in_camera[:, 0] / safe + camera.K[0, 2])
    v = np.floor(camera.K[1, 1] * in_camera[:, 1] / safe + camera.K[1, 2])
    inside = front & (u >= 0) & (v >= 0) & (u < camera.width) & (v < camera.height)
    return np.where(inside, u, 0).astype(np.int64), np.where(inside, v, 0).astype(np.int64), inside


def _check(cameras: list[Camera], masks: list[np.ndarray], names: list[str], source: str) -> None:
    if len(cameras) != len(masks) or len(cameras) != len(names):
        raise InputError(source, f"{len(cameras)} cameras, {len(masks)} masks and {len(names)} names differ")
    if len(cameras) < _MIN_VIEWS:
        raise InputError(source, f"needs at least {_MIN_VIEWS} posed masks, got {len(cameras)}")
    for camera, mask, name in zip(cameras, masks, names, strict=True):
        if mask.shape != (camera.height, camera.width):
            raise InputError(source, f"mask of {name} is {mask.shape[1]}x{mask.shape[0]}, its camera "
                             f"{camera.width}x{camera.height}")  # fmt: skip
        if not mask.any():
            raise InputError(source, f"the mask of {name} is empty: that camera sees none of the object")


def render_views(gaussians: Gaussians, cameras: list[Camera], *, mode: str = "RD") -> tuple[np.ndarray, np.ndarray]:
    """Depth and opacity [V, H, W] of the whole scene from the real cameras (all of one size)."""
    from splattwin.surfaces.depth import render_surface_depth  # noqa: PLC0415

    sizes = {(c.width, c.height) for c in cameras}
    if len(sizes) != 1:
        raise InputError("--mask-images", f"the cameras have {len(sizes)} image sizes {sorted(sizes)}; use one size")
    return render_surface_depth(gaussians, cameras, mode=mode)


def masked_region(
    gaussians: Gaussians,
    cameras: list[Camera],
    masks: list[np.ndarray],
    depth: np.ndarray,
    alpha: np.ndarray,
    *,
    names: list[str],
    source: str = "--mask-images",
    alpha_min: float = 0.5,
    behind_m: float = 0.004,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The object's Gaussians: those inside every mask of a camera that sees them (see the module docstring).

    Args:
        gaussians: the scene, world frame [m].
        cameras: the posed cameras (world frame); masks: per camera [H, W] bool, True on the object.
        depth, alpha: [V, H, W] the scene seen from the cameras (:func:`render_views`).
        names: per camera a name for messages (the image); source: what errors name.
        alpha_min: opacity of a surface (pixels) and of a candidate Gaussian.
        behind_m: a Gaussian more than this behind the surface its pixel sees is hidden there (no evidence).

    Returns:
        (lo, hi) corners [3] [m] of the selected Gaussians' centres and the [N] bool selection.

    Raises:
        InputError: a mask of the wrong size or empty, no Gaussian inside every mask, or a camera that sees
            none of the selected Gaussians (naming it).
    """
    _check(cameras, masks, names, source)
    points = gaussians.means.astype(np.float64)
    keep = gaussians.opacities >= alpha_min
    seen = np.zeros(len(points), dtype=np.int64)
    for v, (camera, mask) in enumerate(zip(cameras, masks, strict=True)):
        u, row, inside = _pixels(camera, points)
        z = points @ camera.viewmat[2, :3] + camera.viewmat[2, 3]
        visible = inside & ((alpha[v, row, u] < alpha_min) | (z <= depth[v, row, u] + behind_m))
        seen += visible
        keep &= ~visible | mask[row, u]
    keep &= seen >= _MIN_VIEWS
    if not keep.any():
        raise InputError(source, f"no Gaussian of the splat falls inside the masks of all {len(cameras)} cameras "
                         "that see it (are the cameras in the splat's frame?)")  # fmt: skip
    selected = points[keep]
    for camera, name in zip(cameras, names, strict=True):
        if not _pixels(camera, selected)[2].any():
            raise InputError(source, f"camera {name} sees none of the masked region (it looks elsewhere)")
    return selected.min(axis=0), selected.max(axis=0), keep


def _carve_outside_masks(
    volume: TSDFVolume, cameras: list[Camera], masks: np.ndarray, depth: np.ndarray, alpha: np.ndarray, alpha_min: float
) -> TSDFVolume:
    """One empty-space vote per view for each voxel in front of the surface seen at a pixel outside the mask."""
    nx, ny, nz = volume.values.shape
    grid = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij"), axis=-1)
    centres = (volume.origin + grid.reshape(-1, 3) * volume.voxel_m).astype(np.float64)
    votes = np.zeros(len(centres), dtype=np.float32)
    for v, camera in enumerate(cameras):
        u, row, inside = _pixels(camera, centres)
        z = centres @ camera.viewmat[2, :3] + camera.viewmat[2, 3]
        empty = alpha[v, row, u] < alpha_min
        votes += inside & ~masks[v, row, u] & (empty | (z < depth[v, row, u]))
    votes = votes.reshape(volume.values.shape)
    weights = volume.weights + votes
    total = np.where(volume.weights > 0, volume.values * volume.weights, 0.0) + votes
    values = np.where(weights > 0, total / np.maximum(weights, 1.0), -1.0).astype(np.float32)
    return dataclasses.replace(volume, values=values, weights=weights.astype(np.float32))


def fuse_masked_views(
    depth: np.ndarray,
    alpha: np.ndarray,
    masks: list[np.ndarray],
    cameras: list[Camera],
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    config: ExtractionConfig | None = None,
    table_z: float | None = None,
    gaussians_used: int = 0,
) -> ExtractionResult:
    """Fuse the real cameras' views with the masks (see the module docstring) over the box [lo, hi].

    Args:
        depth, alpha: [V, H, W] the scene from the cameras (:func:`render_views`).
        masks: per camera [H, W] bool; cameras: the V cameras.
        lo, hi: the object's box [3] [m] (from :func:`masked_region`).
        config: voxel, band and opacity threshold (``views`` is not used: the cameras are).
        table_z: cut below this height [m], or None.
        gaussians_used: the number of Gaussians rendered (for the record).

    Returns:
        The :class:`~splattwin.surfaces.extract.ExtractionResult` (``views``: the cameras used).

    Raises:
        InputError: nothing opaque inside the masks, no surface.
    """
    from splattwin.surfaces.tsdf import cut_below_plane, fuse_depth_views, marching_cubes_mesh  # noqa: PLC0415

    config = ExtractionConfig(source="--mask-images") if config is None else config
    config.validate()
    stacked = np.stack(masks)
    if not (alpha[stacked] >= config.alpha_min).any():
        raise InputError(config.source, f"nothing inside the masks is opaque (at most {float(alpha.max()):.2f})")
    pad = (config.trunc_voxels + 2) * config.voxel_m
    grid_lo, grid_hi = np.asarray(lo, np.float64) - pad, np.asarray(hi, np.float64) + pad
    if table_z is not None:
        grid_lo[2] = max(grid_lo[2], table_z - pad)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    # Inside the masks: the plain TSDF. Outside: no vote here (an opaque pixel infinitely far in front of every
    # voxel puts them all behind it, which the fusion skips); the carving below votes for what they show empty.
    inside_depth = np.where(stacked, depth, np.float32(-1e30)).astype(np.float32)
    inside_alpha = np.where(stacked, alpha, np.float32(1.0)).astype(np.float32)
    volume = fuse_depth_views(
        inside_depth, inside_alpha, cameras, grid_lo, grid_hi, voxel_m=config.voxel_m,
        trunc_voxels=config.trunc_voxels, alpha_min=config.alpha_min, plane_z=table_z,
    )  # fmt: skip
    volume = _carve_outside_masks(volume, cameras, stacked, depth, alpha, config.alpha_min)
    if table_z is not None:
        volume = cut_below_plane(volume, table_z)
    seconds["fuse"] = time.perf_counter() - start
    focal = np.array([c.K[0, 0] for c in cameras])
    hole_m, hole_share = largest_hole(np.where(stacked, alpha, 0.0), depth, focal, config.alpha_min)
    start = time.perf_counter()
    mesh = marching_cubes_mesh(volume)
    seconds["mesh"] = time.perf_counter() - start
    if len(mesh.faces) == 0:
        raise InputError(config.source, "no surface came out of the masked fusion")
    logger.info("masked fusion: %d faces, %d cameras, grid %s", len(mesh.faces), len(cameras), volume.values.shape)
    return ExtractionResult(
        mesh=mesh,
        gaussians_used=int(gaussians_used),
        views=len(cameras),
        image_px=cameras[0].width,
        pocket_views=0,  # the cameras are given: no extra views into unobserved pockets
        pocket_voxels=0,
        grid=tuple(int(s) for s in volume.values.shape),
        observed_fraction=volume.observed_fraction,
        table_z=table_z,
        hole_m=hole_m,
        hole_share=hole_share,
        seen_through_share=float("nan"),  # not measured on masked views
        tsdf=volume,
        seconds=seconds,
    )
