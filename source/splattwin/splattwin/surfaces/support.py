"""Is an extracted mesh backed by the Gaussians it came from? The gate for a partly sparse splat.

A splat too sparse for the voxel everywhere is refused during fusion (:mod:`splattwin.surfaces.extract`: holes
in its silhouettes, views seeing through it). One sparse only in places passes those and can still give a mesh
the Gaussians do not support: rays slipping between its Gaussians carve its inside (missing volume), or the
fusion bridges a gap no Gaussian covers (unbacked area, extra volume). :func:`surface_support` measures that
against the Gaussians alone, independently of the depth views and the TSDF:

- the **support** of a Gaussian is its ellipsoid at :attr:`SupportConfig.sigmas` standard deviations, each axis
  grown by a tolerance in voxels (where the mesh may lie off it: marching cubes, the band, the table cut);
- **unbacked area**: the share of the mesh's area (uniform samples; the table cut's face left out: the table
  makes it, not the splat) outside every opaque Gaussian's support (grown by ``area_tolerance_voxels``);
- the **reference solid**: on a grid of half-voxel cells, the cells inside some support (grown by
  ``volume_tolerance_voxels``) form a shell; what the shell (with the half-space below the table) encloses is
  filled. Its volume is the enclosed core plus half the shell (the Gaussians sit midway in it);
- **missing volume**: the core (deeper inside than the shell reaches) that the mesh does not hold;
  **extra volume**: what the mesh holds outside the shell and its core. Both are shares of the reference.

:func:`validate_surface` turns the numbers into a refusal or a warning (thresholds in :class:`SupportConfig`,
measured in docs/surfaces.md).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import trimesh

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians

__all__ = ["SupportConfig", "SurfaceSupport", "surface_support", "validate_surface"]


@dataclass(frozen=True, kw_only=True)
class SupportConfig:
    """Options and thresholds of :func:`surface_support` and :func:`validate_surface`.

    Attributes:
        sigmas: a Gaussian's support is its ellipsoid at this many standard deviations (3: where the rasterizer
            draws it at all, alpha >= 1/255 for opacity 0.9, is 3.3).
        area_tolerance_voxels: the support's axes grown by this many voxels for the area test (the mesh lies up
            to about a voxel off the Gaussians: marching cubes, the band's rounding of edges, the cut's flare).
        volume_tolerance_voxels: the same for the reference solid's shell.
        closing_voxels: gaps in the shell up to twice this many voxels across are bridged before its inside is
            filled (a sparse splat's supports leave small gaps the fusion closes; without it the demo's sample
            block, at 4 mm, encloses nothing). The bridged cells count as shell (the core's inner edges are
            rounded by this radius, which only makes the missing share err low).
        min_opacity: Gaussians below this opacity back nothing (a surface needs accumulated alpha 0.5).
        samples: points sampled on the mesh for the area test.
        neighbours: the nearest Gaussian centres tested per point (a farther, larger Gaussian is not tried: the
            test can only err towards "unbacked").
        cell_voxels: the reference grid's cell [voxels]; max_cells: coarser cells beyond this many.
        max_unbacked_share, max_missing_share: refuse above these; warn_extra_share: warn above this.
    """

    sigmas: float = 3.0
    area_tolerance_voxels: float = 1.0
    volume_tolerance_voxels: float = 0.5
    closing_voxels: float = 1.0
    min_opacity: float = 0.1
    samples: int = 40000
    neighbours: int = 16
    cell_voxels: float = 0.5
    max_cells: int = 12_000_000
    max_unbacked_share: float = 0.10
    max_missing_share: float = 0.03
    warn_extra_share: float = 0.05


@dataclass(frozen=True)
class SurfaceSupport:
    """What :func:`surface_support` measured.

    Attributes:
        unbacked_share: share of the mesh's area (the table cut's face left out) outside every support.
        missing_share: share of the reference volume inside the Gaussians' shell that the mesh does not hold.
        extra_share: share of the reference volume that the mesh holds outside the shell and what it encloses.
        reference_volume_m3: the Gaussians' enclosed core plus half their shell [m^3].
        mesh_volume_m3: the mesh's volume on the same grid [m^3] (its cells inside).
        cut_share: share of the mesh's area left out as the table cut's face.
        area_tolerance_m, volume_tolerance_m, cell_m: the tolerances and the grid's cell [m].
        gaussians: opaque Gaussians used; seconds: wall time.
    """

    unbacked_share: float
    missing_share: float
    extra_share: float
    reference_volume_m3: float
    mesh_volume_m3: float
    cut_share: float
    area_tolerance_m: float
    volume_tolerance_m: float
    cell_m: float
    gaussians: int
    seconds: float

    def to_dict(self) -> dict[str, float]:
        """Plain numbers (the stage's provenance, the benchmark)."""
        return {key: float(value) for key, value in asdict(self).items()}


def _axes_and_scales(gaussians: Gaussians, sigmas: float, tolerance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotations [N, 3, 3] (columns: the Gaussians' axes) and the supports' radii [N, 3] [m]."""
    from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: PLC0415

    rotation = quat_wxyz_to_matrix(np.asarray(gaussians.quats_wxyz, dtype=np.float64))
    return rotation, sigmas * np.asarray(gaussians.scales, dtype=np.float64) + tolerance_m


def _backed(
    points: np.ndarray, means: np.ndarray, rotation: np.ndarray, radii: np.ndarray, neighbours: int
) -> np.ndarray:
    """[P] bool: points inside the ellipsoid (axes ``rotation``, half-axes ``radii``) of one of their nearest
    ``neighbours`` centres."""
    from scipy.spatial import cKDTree  # noqa: PLC0415

    k = min(neighbours, len(means))
    _, index = cKDTree(means).query(points, k=k)
    index = index.reshape(len(points), k)
    backed = np.zeros(len(points), dtype=bool)
    for start in range(0, len(points), 8192):
        idx = index[start : start + 8192]
        offset = points[start : start + 8192, None, :] - means[idx]  # [P, k, 3]
        local = np.einsum("pkji,pkj->pki", rotation[idx], offset)  # R^T (p - mu)
        backed[start : start + 8192] = np.any(np.sum((local / radii[idx]) ** 2, axis=2) <= 1.0, axis=1)
    return backed


def _shell(
    origin: np.ndarray, cell: float, shape: tuple[int, int, int], means: np.ndarray, rotation: np.ndarray,
    radii: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """[X, Y, Z] bool: the cells whose centres lie inside some support ellipsoid."""
    from splattwin.surfaces._support_kernels import mark_ellipsoids  # noqa: PLC0415

    precisions = np.einsum("nij,nj,nkj->nik", rotation, 1.0 / radii**2, rotation)
    half_extents = np.sqrt(np.einsum("nij,nj->ni", rotation**2, radii**2))
    out = np.zeros(shape, dtype=bool)
    mark_ellipsoids(
        origin, float(cell), np.asarray(shape, dtype=np.int64), np.ascontiguousarray(means),
        np.ascontiguousarray(precisions), np.ascontiguousarray(half_extents), out,
    )  # fmt: skip
    return out


def surface_support(
    mesh: trimesh.Trimesh,
    gaussians: Gaussians,
    *,
    voxel_m: float,
    table_z: float | None = None,
    config: SupportConfig | None = None,
) -> SurfaceSupport:
    """Measure how far the closed ``mesh`` is backed by ``gaussians`` (both world frame [m]; see the module).

    Args:
        mesh: the extracted, cleaned mesh (closed, outward wound).
        gaussians: the Gaussians it was extracted from (those in the region).
        voxel_m: the fusion's voxel [m]: the tolerances and the grid are in voxels.
        table_z: the table cut's height [m], or None: the cut's face is left out of the area test, and the
            half-space below it closes the shell of an object standing on it (whose bottom has no Gaussians).
        config: :class:`SupportConfig`.
    """
    from scipy import ndimage  # noqa: PLC0415

    from splattwin.surfaces._support_kernels import solid_cells  # noqa: PLC0415

    config = SupportConfig() if config is None else config
    start = time.perf_counter()
    opaque = gaussians.subset(np.asarray(gaussians.opacities) >= config.min_opacity)
    means = np.asarray(opaque.means, dtype=np.float64)
    area_tol = config.area_tolerance_voxels * voxel_m
    volume_tol = config.volume_tolerance_voxels * voxel_m

    # (a) the area: uniform samples on the mesh, the table cut's face (facing down, on the plane) left out.
    points, face = trimesh.sample.sample_surface(mesh, config.samples, seed=0)
    keep = np.ones(len(points), dtype=bool)
    if table_z is not None:
        normal_z = np.asarray(mesh.face_normals)[face, 2]
        keep = ~((normal_z < -0.9) & (np.abs(points[:, 2] - table_z) <= area_tol))
    if len(means) == 0:
        unbacked = 1.0
    elif keep.any():
        rotation, radii = _axes_and_scales(opaque, config.sigmas, area_tol)
        unbacked = float(1.0 - _backed(points[keep], means, rotation, radii, config.neighbours).mean())
    else:
        unbacked = 0.0

    # (b, c) the volumes, on one grid over the mesh and the Gaussians' centres. The table's own Gaussians (flat,
    # facing up, on its plane) are left out: the half-space below it closes the object's shell in their stead,
    # and their shell above the plane is no part of the object.
    if table_z is not None and len(means):
        rotation, _ = _axes_and_scales(opaque, config.sigmas, 0.0)
        scales = np.asarray(opaque.scales, dtype=np.float64)
        thin = np.argmin(scales, axis=1)
        up = np.abs(rotation[np.arange(len(means)), 2, thin]) > np.cos(np.radians(25.0))
        near = np.abs(means[:, 2] - table_z) <= volume_tol + config.sigmas * scales[np.arange(len(means)), thin]
        opaque = opaque.subset(~(up & near))
        means = np.asarray(opaque.means, dtype=np.float64)
    rotation, radii = _axes_and_scales(opaque, config.sigmas, volume_tol)
    reach = float(np.max(radii)) if len(radii) else 0.0
    pad = min(reach, 10 * voxel_m) + voxel_m
    lo = np.minimum(mesh.bounds[0], means.min(axis=0) if len(means) else mesh.bounds[0]) - pad
    hi = np.maximum(mesh.bounds[1], means.max(axis=0) if len(means) else mesh.bounds[1]) + pad
    cell = config.cell_voxels * voxel_m
    cell = max(cell, float(np.prod(hi - lo) / config.max_cells) ** (1 / 3))
    shape = tuple(int(n) for n in np.ceil((hi - lo) / cell).astype(np.int64) + 1)
    # Cell centres off the fusion's lattice (an irrational fraction of a cell), so that no column of the parity
    # fill runs exactly along a marching-cubes edge.
    origin = lo + cell * (np.sqrt(2.0) - 1.0) * np.array([0.31, 0.53, 0.17])
    shell = _shell(origin, cell, shape, means, rotation, radii) if len(means) else np.zeros(shape, dtype=bool)
    below = np.zeros(shape, dtype=bool)
    if table_z is not None:
        below[:, :, : max(0, int(np.ceil((table_z - origin[2]) / cell)))] = True
    closed = shell
    if config.closing_voxels > 0 and shell.any():
        # Gaps between supports narrower than the closing's diameter are bridged for the enclosure (the fusion
        # bridges them too): a Euclidean closing by distance transforms, whose cost does not grow with its radius.
        radius = config.closing_voxels * voxel_m / cell
        dilated = ndimage.distance_transform_edt(~shell) <= radius
        closed = shell | (ndimage.distance_transform_edt(dilated) > radius)
    filled = ndimage.binary_fill_holes(closed | below) & ~below
    # the bridges belong to the shell, not the core: the closing also fills the notches between the supports
    # sticking out past a box's edges, which are no part of the object
    core = filled & ~closed
    solid = np.zeros(shape, dtype=bool)
    triangles = np.ascontiguousarray(np.asarray(mesh.triangles, dtype=np.float64))
    solid_cells(origin, float(cell), np.asarray(shape, dtype=np.int64), triangles, solid)
    cell3 = cell**3
    reference = cell3 * (np.count_nonzero(core) + 0.5 * np.count_nonzero(filled & closed))
    missing = cell3 * np.count_nonzero(core & ~solid)
    extra = cell3 * np.count_nonzero(solid & ~filled)
    return SurfaceSupport(
        unbacked_share=unbacked,
        missing_share=float(missing / reference) if reference > 0 else 1.0,
        extra_share=float(extra / reference) if reference > 0 else 0.0,
        reference_volume_m3=float(reference),
        mesh_volume_m3=float(cell3 * np.count_nonzero(solid)),
        cut_share=float(1.0 - keep.mean()),
        area_tolerance_m=float(area_tol),
        volume_tolerance_m=float(volume_tol),
        cell_m=float(cell),
        gaussians=len(means),
        seconds=time.perf_counter() - start,
    )


def validate_surface(
    support: SurfaceSupport, *, what: str, voxel_m: float, source: str, config: SupportConfig | None = None
) -> list[str]:
    """Refuse a mesh its Gaussians do not support (one-line InputError naming ``what``, the voxel and the
    numbers); return the warnings (extra volume above :attr:`SupportConfig.warn_extra_share`)."""
    config = SupportConfig() if config is None else config
    numbers = (
        f"{100 * support.unbacked_share:.1f} % of its area unbacked (bar {100 * config.max_unbacked_share:g} %), "
        f"{100 * support.missing_share:.1f} % of their volume missing (bar {100 * config.max_missing_share:g} %), "
        f"{100 * support.extra_share:.1f} % extra"
    )
    if support.unbacked_share > config.max_unbacked_share or support.missing_share > config.max_missing_share:
        raise InputError(
            source,
            f"the mesh extracted from {what} at --voxel {voxel_m:g} m is not supported by its Gaussians: {numbers} "
            f"(the splat is too sparse in places for this voxel: a larger --voxel or --band may close it)",
        )
    if support.extra_share > config.warn_extra_share:
        return [
            f"the mesh extracted from {what} at --voxel {voxel_m:g} m holds {100 * support.extra_share:.1f} % more "
            f"volume than its Gaussians enclose (bar {100 * config.warn_extra_share:g} %): a bridged gap or an "
            f"inflated surface ({100 * support.unbacked_share:.1f} % of its area unbacked)"
        ]
    return []
