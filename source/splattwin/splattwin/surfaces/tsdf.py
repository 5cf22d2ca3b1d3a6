"""TSDF fusion of depth views into a dense voxel grid, a half-space cut, and marching cubes.

Why our own fusion rather than Open3D's ``ScalableTSDFVolume`` / ``VoxelBlockGrid`` (the maintained choice):
open3d 0.20 installs (no installed package changes version) but does not import on this platform
(``libusb-1.0.so.0`` missing, a system library pip cannot bring), and it pulls some forty packages (dash, flask,
ipython) into the venv. Its integration also treats a pixel without depth as unknown, while a splat's
transparent pixels are evidence of empty space: carving them (below) is what closes the silhouette, and with
it the mesh, of a splat whose bottom or inside no view sees. The fusion is a numba kernel over a dense grid
(:mod:`splattwin.surfaces._tsdf_kernels`: an object at 2 mm is ~10^5-10^6 voxels, a 2 m scene at 1 cm ~10^7),
marching cubes is scikit-image's (Lewiner).

Sign convention: positive outside (in front of the surface), negative inside, in units of the truncation
distance, clamped to [-1, 1]. A voxel no view ever sees free and none sees near a surface is hidden behind
surfaces from everywhere: it counts as inside (-1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from splattwin.render.camera import Camera

__all__ = ["TSDFVolume", "add_depth_views", "cut_below_plane", "fuse_depth_views", "marching_cubes_mesh"]


@dataclass
class TSDFVolume:
    """A dense truncated signed-distance grid.

    Attributes:
        origin: [3] world position of voxel (0, 0, 0)'s centre [m].
        voxel_m: voxel edge [m].
        trunc_m: truncation distance [m]; ``values`` are signed distances divided by it.
        values: [X, Y, Z] float32 in [-1, 1].
        weights: [X, Y, Z] float32, number of views that updated each voxel (0 = never observed).
        near, through: [X, Y, Z] float32 view counts: views that put the voxel just behind a surface, and views
            that saw more than three bands past it (see :func:`splattwin.surfaces._tsdf_kernels.integrate_views`).
    """

    origin: np.ndarray
    voxel_m: float
    trunc_m: float
    values: np.ndarray
    weights: np.ndarray
    near: np.ndarray | None = None
    through: np.ndarray | None = None

    @property
    def observed_fraction(self) -> float:
        """Share of voxels at least one view updated."""
        return float(np.mean(self.weights > 0))


def fuse_depth_views(
    depth: np.ndarray,
    alpha: np.ndarray,
    cameras: list[Camera],
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    voxel_m: float,
    trunc_voxels: float = 1.0,
    alpha_min: float = 0.5,
    plane_z: float | None = None,
) -> TSDFVolume:
    """Fuse depth views into a TSDF over the box [lo, hi].

    Args:
        depth, alpha: [V, H, W] camera z [m] and opacity per view (from
            :func:`~splattwin.surfaces.depth.render_surface_depth`).
        cameras: the V views.
        lo, hi: box corners [3] in the world frame [m].
        voxel_m: voxel edge [m].
        trunc_voxels: truncation distance in voxels.
        alpha_min: a pixel with less opacity is empty space.
        plane_z: a height [m] (the table :func:`cut_below_plane` will cut at) to put midway between two voxel
            layers (the grid moves up by less than a voxel): a layer on the plane would hold the table's own zero
            and the cut's at once, and their noise makes fragments.

    Returns:
        The :class:`TSDFVolume` (unobserved voxels set to -1, see the module docstring).
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    shape = np.maximum(np.ceil((hi - lo) / voxel_m).astype(np.int64) + 1, 2)
    origin = 0.5 * (lo + hi) - 0.5 * (shape - 1) * voxel_m
    if plane_z is not None:
        origin[2] += voxel_m * (((plane_z - origin[2]) / voxel_m - 0.5) % 1.0)
    grids = [np.zeros(tuple(shape), dtype=np.float32) for _ in range(4)]
    volume = TSDFVolume(
        origin=origin, voxel_m=float(voxel_m), trunc_m=float(trunc_voxels * voxel_m), values=grids[0],
        weights=grids[1], near=grids[2], through=grids[3],
    )  # fmt: skip
    add_depth_views(volume, depth, alpha, cameras, alpha_min=alpha_min)
    return volume


def add_depth_views(
    volume: TSDFVolume, depth: np.ndarray, alpha: np.ndarray, cameras: list[Camera], *, alpha_min: float = 0.5
) -> None:
    """Fuse more depth views into ``volume`` in place (as :func:`fuse_depth_views`; a voxel no view has observed
    yet counts for nothing, so the -1 of unobserved voxels is no vote; those still unobserved stay -1)."""
    from splattwin.surfaces._tsdf_kernels import integrate_views  # noqa: PLC0415

    viewmats = np.ascontiguousarray(np.stack([c.viewmat for c in cameras]), dtype=np.float64)
    intrinsics = np.array([[c.K[0, 0], c.K[1, 1], c.K[0, 2], c.K[1, 2]] for c in cameras], dtype=np.float64)
    integrate_views(
        volume.origin,
        volume.voxel_m,
        np.array(volume.values.shape, dtype=np.int64),
        np.ascontiguousarray(depth, dtype=np.float32),
        np.ascontiguousarray(alpha, dtype=np.float32),
        viewmats,
        intrinsics,
        volume.trunc_m,
        float(alpha_min),
        volume.values,
        volume.weights,
        volume.near,
        volume.through,
    )
    volume.values[volume.weights == 0] = -1.0


def cut_below_plane(volume: TSDFVolume, z_m: float) -> TSDFVolume:
    """Intersect the solid with the half-space above z = ``z_m`` (max of the two signed distances): a table top
    and everything below it go, and an object standing on it is closed by a flat face at ``z_m``."""
    z = volume.origin[2] + np.arange(volume.values.shape[2]) * volume.voxel_m
    below = np.clip((z_m - z) / volume.trunc_m, -1.0, 1.0).astype(np.float32)
    values = np.maximum(volume.values, below[None, None, :])
    return TSDFVolume(
        volume.origin, volume.voxel_m, volume.trunc_m, values, volume.weights, volume.near, volume.through
    )


def marching_cubes_mesh(volume: TSDFVolume) -> trimesh.Trimesh:
    """The zero level set as a closed triangle mesh in the world frame [m] (the grid is padded with empty space,
    so every surface closes; winding is left to :func:`splattwin.mesh.clean_mesh`). Empty when there is none."""
    from skimage.measure import marching_cubes  # noqa: PLC0415

    padded = np.pad(volume.values, 1, constant_values=1.0)
    # A value at or near 0 (a voxel with as many +1 as -1 votes, common with a narrow band) puts the vertices of
    # all the cubes around that grid point within a hair of it: zero-area faces, which cleaning's weld turns into
    # holes. Values are kept at least 1e-3 (a thousandth of the band) away from the level.
    near = np.abs(padded) < 1e-3
    padded[near] = np.where(padded[near] < 0.0, -1e-3, 1e-3)
    if padded.min() >= 0.0:
        return trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), process=False)
    verts, faces, _, _ = marching_cubes(padded, level=0.0, spacing=(volume.voxel_m,) * 3)
    verts = verts + volume.origin - volume.voxel_m
    return trimesh.Trimesh(verts.astype(np.float64), faces.astype(np.int64), process=False)
