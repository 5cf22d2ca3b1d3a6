"""A surface from Gaussians alone (Robo-GS, seed 000, section III-B): depth views -> TSDF -> marching cubes.

:func:`extract_surface` renders depth and opacity of the Gaussians in a box from views spread around it
(:mod:`splattwin.surfaces.depth`: the ray-Gaussian depth by default), fuses them into a TSDF
(:mod:`splattwin.surfaces.tsdf`), cuts it at the table plane when one is given, and returns the marching-cubes
mesh with what was done (cleaning and validation are :func:`splattwin.mesh.clean_mesh`'s and the pipeline's).
:func:`find_table_z` finds the region's own table: the highest level plane of up-facing flat Gaussians that
reaches every side of the region (a box's top face lies inside the region, a table is cut by its sides).
:func:`largest_hole` measures holes in the splat's opaque silhouettes, which a splat too sparse to close a
surface shows; one whose silhouettes its far side closes is caught after fusion, by the views that see through
its surface voxels (:attr:`ExtractionConfig.max_seen_through_share`). :func:`curvature_corrected` moves flat
discs on a curved surface by their planes' sag before rendering; views into pockets the first views left
unobserved follow the fusion (:func:`splattwin.surfaces.depth.pocket_views`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import trimesh

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.surfaces.tsdf import TSDFVolume

__all__ = [
    "ExtractionConfig",
    "ExtractionResult",
    "curvature_corrected",
    "extract_surface",
    "find_table_z",
    "in_box",
    "largest_hole",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ExtractionConfig:
    """Options of :func:`extract_surface`.

    Attributes:
        voxel_m: TSDF voxel edge [m]; the views' pixels are half of it at the region's centre.
        views: number of virtual views.
        depth_mode: "RD" (expected ray-Gaussian depth), "MD" (median ray depth) or "ED" (expected centre depth,
            gsplat's: biased in front of the surface, kept for comparison).
        alpha_min: a pixel with less opacity is empty space.
        trunc_voxels: TSDF truncation distance [voxels] (1: a wider band inflates convex edges and corners, by
            about 0.1 mm per voxel of band on 1-2 mm discs, which thin walls turn into volume; docs/surfaces.md).
        curvature: render the Gaussians moved by :func:`curvature_corrected` (flat discs on a curved surface).
        pocket_views: at most this many extra views into pockets the first views left unobserved next to free
            space (:func:`splattwin.surfaces.depth.pocket_views`: a cup's deep inside), 0 for none.
        max_hole_share: refuse a splat whose silhouettes are more than this share holes (a too sparse splat).
        max_seen_through_share: refuse a splat seen through at more than this share of its surface voxels (those
            some view puts just behind a surface seen face-on, that four or more other views see through to a
            surface more than three bands farther: rays slipping between the Gaussians of a splat too sparse for
            the voxel, which carve it into a perforated shell whose silhouettes stay closed). Dense splats stay
            at 0.003-0.04, the demo's sparse block is at 0.06 at 6 mm and 0.15 at 2 mm (docs/surfaces.md).
        source: what to name in errors (a flag or file).
    """

    voxel_m: float = 0.002
    views: int = 40
    depth_mode: str = "RD"
    alpha_min: float = 0.5
    trunc_voxels: float = 1.0
    curvature: bool = True
    pocket_views: int = 10
    max_hole_share: float = 0.02
    max_seen_through_share: float = 0.1
    source: str = "--region"

    def validate(self) -> None:
        """Refuse impossible values (one-line InputErrors naming the flag)."""
        from splattwin.surfaces.depth import DEPTH_MODES  # noqa: PLC0415

        if not (np.isfinite(self.voxel_m) and 1e-4 <= self.voxel_m <= 0.5):
            raise InputError("--voxel", f"must be a voxel edge in metres in [0.0001, 0.5], got {self.voxel_m}")
        if not (np.isfinite(self.trunc_voxels) and 0.5 <= self.trunc_voxels <= 8):
            raise InputError("--band", f"must be a truncation band of 0.5..8 voxels, got {self.trunc_voxels}")
        if not 6 <= self.views <= 500:
            raise InputError("--views", f"must be 6..500 views, got {self.views}")
        if self.depth_mode not in DEPTH_MODES:
            raise InputError("--depth", f"must be one of {', '.join(DEPTH_MODES)}, got {self.depth_mode!r}")


@dataclass
class ExtractionResult:
    """What :func:`extract_surface` made.

    Attributes:
        mesh: the marching-cubes mesh, world frame [m] (closed; not yet cleaned).
        gaussians_used: Gaussians rendered (those in the region).
        views: number of views (the extra ones included); image_px: their side [px].
        pocket_views: of those, the extra views into unobserved pockets; pocket_voxels: the pockets' voxels.
        grid: voxel counts [3]; observed_fraction: share of voxels some view updated.
        table_z: the cut plane's height [m], or None.
        hole_m: the largest hole seen in a silhouette [m] (its equivalent diameter); hole_share: the share of the
            silhouettes that are holes (median over views).
        tsdf: the fused grid (after the table cut), for diagnostics (the benchmark's ``--regions``).
        seen_through_share: the share of surface voxels seen through by four or more views
            (:attr:`ExtractionConfig.max_seen_through_share`).
        region: the Gaussians rendered, as given (before the curvature correction): what
            :func:`splattwin.surfaces.support.surface_support` checks the mesh against; None where not kept.
        seconds: wall time per step (views, render, holes, fuse, pockets, mesh).
    """

    mesh: trimesh.Trimesh
    gaussians_used: int
    views: int
    image_px: int
    pocket_views: int
    pocket_voxels: int
    grid: tuple[int, int, int]
    observed_fraction: float
    table_z: float | None
    hole_m: float
    hole_share: float
    seen_through_share: float
    tsdf: TSDFVolume | None = None
    region: Gaussians | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def in_box(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """[N] bool: points [N, 3] inside the box [lo, hi] (inclusive)."""
    return np.all((points >= lo) & (points <= hi), axis=1)


def _disc_normals(gaussians: Gaussians) -> np.ndarray:
    """[N, 3] unit axis of each Gaussian's smallest scale (a flat Gaussian's normal, up to sign)."""
    from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: PLC0415

    rotation = quat_wxyz_to_matrix(gaussians.quats_wxyz.astype(np.float64))
    axis = np.argmin(gaussians.scales, axis=1)
    return rotation[np.arange(len(gaussians)), :, axis]


def curvature_corrected(gaussians: Gaussians, *, neighbours: int = 16) -> Gaussians:
    """The Gaussians with each flat one moved along its normal by its plane's sag over its footprint on a curved
    surface, so that the ray depth of tangent discs lies on the surface rather than outside a convex one.

    Flat discs centred on a curved surface lie in its tangent planes: away from its centre a disc is off the
    surface by about kappa rho^2 / 2 (outside a convex surface), and the ray depth, the front-most discs' planes,
    sits outside it by about kappa (s_u^2 + s_v^2) / 2 (E[rho^2] over the disc's Gaussian): 0.3 mm on the
    bench's mug handle (a 7 mm tube of 1-2 mm discs), half a mug's volume error (docs/surfaces.md). kappa is fitted per
    disc from its ``neighbours`` nearest centres' offsets from its plane, o_j = -kappa rho_j^2 / 2 (least squares,
    rho_j the in-plane distance); the disc moves by -kappa (s_u^2 + s_v^2) / 2 along its normal (inwards on a
    convex surface, outwards on a concave one, nothing on a plane; the normal's sign does not matter), at most
    half its smaller in-plane sigma. Neighbours whose normals are more than 25 degrees off are left out of the
    fit (across a box's edge they are another face); Gaussians that are not flat (smallest scale over 0.3 x the
    middle one), or with fewer than half their neighbours on their own surface, stay.
    """
    from scipy.spatial import cKDTree  # noqa: PLC0415

    if len(gaussians) <= neighbours:
        return gaussians
    means = gaussians.means.astype(np.float64)
    normals = _disc_normals(gaussians)
    _, index = cKDTree(means).query(means, k=neighbours + 1)
    delta = means[index[:, 1:]] - means[:, None, :]  # [N, k, 3]
    offset = np.einsum("nkd,nd->nk", delta, normals)
    rho2 = np.einsum("nkd,nkd->nk", delta, delta) - offset**2
    # Neighbours across an edge (normals more than 25 degrees apart) are another surface, not a curve of this one.
    same = np.abs(np.einsum("nkd,nd->nk", normals[index[:, 1:]], normals)) >= np.cos(np.radians(25.0))
    kappa = -2.0 * np.sum(same * offset * rho2, axis=1) / np.maximum(np.sum(same * rho2 * rho2, axis=1), 1e-30)
    scales = np.sort(gaussians.scales.astype(np.float64), axis=1)
    flat = (scales[:, 0] < 0.3 * scales[:, 1]) & (same.sum(axis=1) >= neighbours // 2)
    # at most half the disc's smaller in-plane sigma (a sag the fit cannot trust beyond that)
    shift = np.clip(-0.5 * kappa * (scales[:, 1] ** 2 + scales[:, 2] ** 2), -0.5 * scales[:, 1], 0.5 * scales[:, 1])
    shift = np.where(flat, shift, 0.0)
    moved = means + shift[:, None] * normals
    return Gaussians(
        means=moved.astype(gaussians.means.dtype), quats_wxyz=gaussians.quats_wxyz, scales=gaussians.scales,
        opacities=gaussians.opacities, sh=gaussians.sh,
    )  # fmt: skip


def find_table_z(
    gaussians: Gaussians, lo: np.ndarray, hi: np.ndarray, *, band_m: float = 0.002, min_count: int = 50
) -> float | None:
    """Height [m] of the region's table top, or None when the region holds none.

    Candidates are peaks of the heights of the flat, up-facing Gaussians in the region (smallest axis within 25
    degrees of z) in ``band_m`` bins with at least ``min_count`` Gaussians; a candidate is a table when one
    connected piece of it reaches within 5 % of the region's width of all four vertical sides (a table runs under
    the region's walls and around the objects on it; an object's top face lies inside them, and the tops of
    several equal-height objects side by side are separate pieces). The highest such plane wins (a floor, or the
    underside of a table slab, is below the table). The height is the median of that plane's Gaussians.
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    inside = in_box(gaussians.means, lo, hi)
    if not inside.any():
        return None
    region = gaussians.subset(inside)
    flat = np.min(region.scales, axis=1) < 0.3 * np.median(region.scales, axis=1)
    up = np.abs(_disc_normals(region)[:, 2]) > np.cos(np.radians(25.0))
    points = region.means[flat & up].astype(np.float64)
    if len(points) < min_count:
        return None
    edges = np.arange(lo[2], hi[2] + band_m, band_m)
    counts, _ = np.histogram(points[:, 2], bins=edges)
    for b in np.argsort(-edges[:-1]):  # highest first
        if (
            counts[b] < min_count
            or (b > 0 and counts[b - 1] > counts[b])
            or (b + 1 < len(counts) and counts[b + 1] > counts[b])
        ):
            continue
        plane = points[np.abs(points[:, 2] - 0.5 * (edges[b] + edges[b + 1])) <= band_m]
        if _a_piece_reaches_every_side(plane[:, :2], lo[:2], hi[:2]):
            return float(np.median(plane[:, 2]))
    return None


def _a_piece_reaches_every_side(xy: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether one 8-connected piece of a plane's Gaussians reaches within 5 % of all four sides of [lo, hi].

    The pieces are those of an occupancy grid whose cells are twice the Gaussians' median spacing, closed by one
    cell's dilation: a sparse table still forms one piece, objects a few spacings apart stay apart.
    """
    from scipy import ndimage  # noqa: PLC0415
    from scipy.spatial import cKDTree  # noqa: PLC0415

    spacing = float(np.median(cKDTree(xy).query(xy, k=2)[0][:, 1]))
    cell = max(2.0 * spacing, float(np.max(hi - lo)) / 256.0)
    shape = np.clip(np.ceil((hi - lo) / cell).astype(np.int64), 4, 256)
    cells = np.clip(np.floor((xy - lo) / (hi - lo) * shape).astype(np.int64), 0, shape - 1)
    grid = np.zeros(tuple(shape), dtype=bool)
    grid[cells[:, 0], cells[:, 1]] = True
    grid = ndimage.binary_dilation(grid, structure=np.ones((3, 3), dtype=bool))
    pieces, _ = ndimage.label(grid, structure=np.ones((3, 3), dtype=bool))
    ex, ey = np.maximum(1, np.ceil(0.05 * shape).astype(np.int64))
    common = set(np.unique(pieces[:ex, :])) - {0}
    for side in (pieces[-ex:, :], pieces[:, :ey], pieces[:, -ey:]):
        common &= set(np.unique(side))
    return bool(common)


def largest_hole(alpha: np.ndarray, depth: np.ndarray, focal_px: np.ndarray, alpha_min: float) -> tuple[float, float]:
    """Holes in the opaque silhouettes: pixels below ``alpha_min`` enclosed by opaque ones.

    Args:
        alpha, depth: [V, H, W] per view; focal_px: [V] focal lengths [px].
        alpha_min: the opacity of a surface.

    Returns:
        (largest hole's equivalent diameter [m] over all views, at the median depth of its view's surface;
        the median over views of the share of the filled silhouette that is holes).
    """
    from scipy import ndimage  # noqa: PLC0415

    largest = 0.0
    shares = []
    for v in range(alpha.shape[0]):
        opaque = alpha[v] >= alpha_min
        if not opaque.any():
            continue
        holes = ndimage.binary_fill_holes(opaque) & ~opaque
        shares.append(holes.sum() / max(1, (opaque | holes).sum()))
        if holes.any():
            labels, count = ndimage.label(holes)
            biggest = np.bincount(labels.ravel())[1:].max()
            pixel_m = float(np.median(depth[v][opaque])) / float(focal_px[v])
            largest = max(largest, 2.0 * np.sqrt(biggest / np.pi) * pixel_m)
    return largest, float(np.median(shares)) if shares else 0.0


def _largest_see_through_hole(
    alpha: np.ndarray, depth: np.ndarray, focal_px: np.ndarray, alpha_min: float, voxel_m: float, step_m: float
) -> float:
    """The largest hole a view sees through to a farther surface [m] (equivalent diameter at its depth), or 0.

    A see-through pixel is opaque and more than ``step_m`` farther than every pixel on a ring two voxels in
    radius around it (the near surface it shows through); the ring, rather than a neighbourhood, keeps a
    steep grazing face (whose depth rises towards one side only) from counting.
    """
    from scipy import ndimage  # noqa: PLC0415

    largest = 0.0
    for v in range(alpha.shape[0]):
        opaque = alpha[v] >= alpha_min
        if not opaque.any():
            continue
        far = np.where(opaque, depth[v], 10.0 * float(depth[v][opaque].max()))  # nothing drawn: far away
        pixel_m = float(np.median(depth[v][opaque])) / float(focal_px[v])
        radius = max(2, round(2.0 * voxel_m / pixel_m))
        yy, xx = np.mgrid[-radius - 1 : radius + 2, -radius - 1 : radius + 2]
        ring = np.abs(np.hypot(xx, yy) - radius) <= 0.5
        holes = opaque & (far - ndimage.grey_dilation(far, footprint=ring) > step_m)
        if holes.any():
            labels, _ = ndimage.label(holes)
            biggest = np.bincount(labels.ravel())[1:].max()
            largest = max(largest, 2.0 * np.sqrt(biggest / np.pi) * pixel_m)
    return largest


def _coarser_voxel(voxel_m: float, hole_m: float) -> float:
    """A voxel to suggest for a splat seen through at ``voxel_m``: three times it, and at least the hole's size
    (rounded to a millimetre)."""
    return max(round(max(3.0 * voxel_m, hole_m), 3), 0.001)


def extract_surface(
    gaussians: Gaussians,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    config: ExtractionConfig | None = None,
    table_z: float | None = None,
) -> ExtractionResult:
    """Extract the surface of the Gaussians inside the box [lo, hi] (world frame [m]).

    Args:
        gaussians: world frame [m] (only those inside the box are rendered).
        lo, hi: the region's corners [3] [m].
        config: the options (:class:`ExtractionConfig`).
        table_z: cut everything below this height [m] and look only from above it; None: no cut, views all
            around.

    Returns:
        The :class:`ExtractionResult`.

    Raises:
        InputError: an empty region, a region no view sees an opaque surface in, or a splat too sparse to close
            a surface (with the hole's size).
    """
    from splattwin.surfaces.depth import pocket_views, render_surface_depth, surface_views  # noqa: PLC0415
    from splattwin.surfaces.tsdf import (  # noqa: PLC0415
        add_depth_views,
        cut_below_plane,
        fuse_depth_views,
        marching_cubes_mesh,
    )

    config = ExtractionConfig() if config is None else config
    config.validate()
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all() and np.all(hi > lo)):
        raise InputError(config.source, f"needs finite corners with max > min, got {lo.tolist()} .. {hi.tolist()}")
    inside = in_box(gaussians.means, lo, hi)
    if not inside.any():
        raise InputError(
            config.source, f"holds no Gaussians (box {np.round(lo, 4).tolist()} .. {np.round(hi, 4).tolist()} m)"
        )
    region = gaussians.subset(inside)
    if table_z is not None:
        region = region.subset(region.means[:, 2] >= table_z - config.voxel_m)
    # The grid: the Gaussians' bounds (within the region), padded by the truncation band and two voxels.
    pad = (config.trunc_voxels + 2) * config.voxel_m
    grid_lo = np.maximum(region.means.min(axis=0) - pad, lo - pad)
    grid_hi = np.minimum(region.means.max(axis=0) + pad, hi + pad)
    if table_z is not None:
        grid_lo[2] = max(grid_lo[2], table_z - pad)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    given = region
    if config.curvature:
        region = curvature_corrected(region)
        seconds["curvature"] = time.perf_counter() - start
        start = time.perf_counter()
    cameras = surface_views(grid_lo, grid_hi, config.views, pixel_m=config.voxel_m / 2, above_z=table_z)
    seconds["views"] = time.perf_counter() - start
    start = time.perf_counter()
    depth, alpha = render_surface_depth(region, cameras, mode=config.depth_mode)
    seconds["render"] = time.perf_counter() - start
    seen = alpha >= config.alpha_min
    if not seen.any():
        raise InputError(
            config.source,
            f"no view sees an opaque surface in it: its {len(region)} Gaussians reach an opacity of at most "
            f"{float(alpha.max()):.2f} in {len(cameras)} views (a surface needs {config.alpha_min})",
        )
    start = time.perf_counter()
    focal = np.array([c.K[0, 0] for c in cameras])
    hole_m, hole_share = largest_hole(alpha, depth, focal, config.alpha_min)
    seconds["holes"] = time.perf_counter() - start
    if hole_share > config.max_hole_share:
        raise InputError(
            config.source,
            f"the splat is too sparse to close a surface: {100 * hole_share:.0f} % of its silhouette is holes, the "
            f"largest {1000 * hole_m:.1f} mm across (Gaussians too small or too far apart for --voxel "
            f"{config.voxel_m:g} m; a larger --voxel may close it)",
        )
    start = time.perf_counter()
    volume = fuse_depth_views(
        depth, alpha, cameras, grid_lo, grid_hi, voxel_m=config.voxel_m,
        trunc_voxels=config.trunc_voxels, alpha_min=config.alpha_min, plane_z=table_z,
    )  # fmt: skip
    seconds["fuse"] = time.perf_counter() - start
    start = time.perf_counter()
    # Rounds: carving a pocket's rim can expose more of it to the next round's views.
    extra: list = []
    pocket_voxels = 0
    for _ in range(3):
        more, found = pocket_views(
            volume, grid_lo, grid_hi, pixel_m=config.voxel_m / 2, above_z=table_z,
            budget=config.pocket_views - len(extra),
        )  # fmt: skip
        pocket_voxels = max(pocket_voxels, found)
        if not more:
            break
        more_depth, more_alpha = render_surface_depth(region, more, mode=config.depth_mode)
        add_depth_views(volume, more_depth, more_alpha, more, alpha_min=config.alpha_min)
        extra += more
    seconds["pockets"] = time.perf_counter() - start
    surface = volume.near >= 1.0
    seen_through = float(np.mean(volume.through[surface] >= 4.0)) if surface.any() else 0.0
    if seen_through > config.max_seen_through_share:
        through_m = _largest_see_through_hole(
            alpha, depth, focal, config.alpha_min, config.voxel_m, volume.trunc_m + config.voxel_m
        )
        raise InputError(
            config.source,
            f"the splat is too sparse to close a surface at --voxel {config.voxel_m:g} m: the views see through "
            f"{100 * seen_through:.0f} % of it between its Gaussians, holes up to {1000 * through_m:.1f} mm across "
            f"(a larger --voxel, e.g. {_coarser_voxel(config.voxel_m, through_m):g} m, may close it)",
        )
    if table_z is not None:
        volume = cut_below_plane(volume, table_z)
    start = time.perf_counter()
    mesh = marching_cubes_mesh(volume)
    seconds["mesh"] = time.perf_counter() - start
    if len(mesh.faces) == 0:
        raise InputError(
            config.source,
            f"no surface above the table at z = {table_z:.4f} m"
            if table_z is not None
            else "no surface came out of the fusion (nothing opaque enough in the region)",
        )
    logger.info(
        "extracted %d faces from %d Gaussians (%d views of %d px, grid %s) in %.1f s", len(mesh.faces), len(region),
        len(cameras) + len(extra), cameras[0].width, volume.values.shape, sum(seconds.values()),
    )  # fmt: skip
    return ExtractionResult(
        mesh=mesh,
        gaussians_used=len(region),
        views=len(cameras) + len(extra),
        image_px=cameras[0].width,
        pocket_views=len(extra),
        pocket_voxels=pocket_voxels,
        grid=tuple(int(s) for s in volume.values.shape),
        observed_fraction=volume.observed_fraction,
        table_z=table_z,
        hole_m=hole_m,
        hole_share=hole_share,
        seen_through_share=seen_through,
        tsdf=volume,
        region=given,
        seconds=seconds,
    )
