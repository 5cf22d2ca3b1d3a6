"""An object's Gaussians without a hand-made mesh: connected components of the splat's support above the table.

:func:`segment_gaussians` drops the low-opacity floaters and everything at or below the table plane, links the
remaining Gaussians that lie close together, and returns one connected component: the one nearest a picked point,
or the largest inside a box. Two objects standing on the same table are separate components because the table's
own Gaussians, which would bridge them, are not candidates.

How the table is cut. A Gaussian is *clear* of the table when its support, ``SUPPORT_SIGMAS`` times its largest
scale, stays above ``table_z + table_tol``; only clear Gaussians are linked. The Gaussians low on an object's
walls reach down to the table without being part of it: those whose centre is above ``table_z + table_tol`` (the
*fringe*) join the component of the nearest labelled Gaussian within ``link_radius``, growing the components down
link by link, and are dropped when none is that close; a fringe Gaussian never merges two components.
``table_tol`` is the table's own thickness in the splat: three robust standard deviations (1.4826 MAD) of the
heights of the Gaussians within 3 mm of the plane, at least 0.25 mm.

How Gaussians are linked. The clear Gaussians' centres are binned into cubic cells of edge ``link_radius``; two
occupied cells that touch (the 26-neighbourhood) are linked, and :func:`scipy.sparse.csgraph.connected_components`
labels the cell graph, whose edges come from :meth:`scipy.spatial.cKDTree.query_pairs` on the occupied cells'
integer coordinates. Two Gaussians closer than ``link_radius`` are always in one component; two farther apart than
``2 sqrt(3) link_radius`` are never linked directly. Why cells and not the Gaussians themselves or a dense grid:
``query_pairs`` on a million raw Gaussians returns every pair within the radius, tens of millions on a dense
surface; a dense occupancy grid for :func:`scipy.ndimage.label` costs the scene's bounding volume (a 2 m room at
2 mm cells is 10^9 voxels); the occupied cells are at most the Gaussians' count and in practice a fraction of it,
so time and memory follow the splat, not the room (docs/surfaces.md, "Segmentation", for the 1M-Gaussian time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians

__all__ = ["SUPPORT_SIGMAS", "Segment", "find_selection_table", "segment_gaussians", "segment_object"]

SUPPORT_SIGMAS = 3.0
"""A Gaussian's support reaches this many of its largest scale from its centre."""

_MIN_TABLE_TOL_M = 0.00025
_TABLE_BAND_M = 0.003
_POINT_TABLE_REACH_M = (0.1, 0.05, 0.025)  # a point's table: searched within these half-widths around it, widest first


@dataclass(frozen=True)
class Segment:
    """One object's Gaussians, as :func:`segment_gaussians` found them.

    Attributes:
        mask: [N] bool over the input Gaussians: the component's.
        count: Gaussians in the component.
        lo, hi: the component's centres' bounds [3], world frame [m].
        label: the component's label among ``components``.
        components: connected components among the candidates (clear of the table, opaque, in the box).
        next_largest: Gaussians in the largest other component (0 when there is none).
        candidates: Gaussians that were candidates (opaque, above the table, in the box).
        table_z: the table plane used [m], or None.
        table_tol: the table's thickness tolerance used [m] (0 without a table).
        link_radius: the link radius used [m].
    """

    mask: np.ndarray
    count: int
    lo: np.ndarray
    hi: np.ndarray
    label: int
    components: int
    next_largest: int
    candidates: int
    table_z: float | None
    table_tol: float
    link_radius: float


def _default_link_radius(scales: np.ndarray) -> float:
    """Three times the median of the largest scales, within [1 mm, 2 cm]."""
    return float(np.clip(3.0 * np.median(scales.max(axis=1)), 0.001, 0.02))


def _table_tolerance(z: np.ndarray, table_z: float) -> float:
    """Three robust standard deviations of the heights near the plane (the table's thickness), at least 0.25 mm."""
    near = z[np.abs(z - table_z) <= _TABLE_BAND_M] - table_z
    if len(near) < 10:
        return _MIN_TABLE_TOL_M
    mad = float(np.median(np.abs(near - np.median(near))))
    return max(_MIN_TABLE_TOL_M, 3.0 * 1.4826 * mad)


def _cell_components(points: np.ndarray, cell_m: float) -> tuple[np.ndarray, int]:
    """Labels [N] of the connected components of the points' occupied cells (26-neighbourhood), and their count."""
    from scipy.sparse import coo_matrix  # noqa: PLC0415
    from scipy.sparse.csgraph import connected_components  # noqa: PLC0415
    from scipy.spatial import cKDTree  # noqa: PLC0415

    cells = np.floor((points - points.min(axis=0)) / cell_m).astype(np.int64)
    occupied, inverse = np.unique(cells, axis=0, return_inverse=True)
    pairs = cKDTree(occupied.astype(np.float64)).query_pairs(np.sqrt(3.0) + 1e-6, output_type="ndarray")
    n = len(occupied)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    return labels[inverse.ravel()], int(count)


def segment_gaussians(
    means: np.ndarray,
    scales: np.ndarray,
    opacities: np.ndarray,
    *,
    table_z: float | None = None,
    box: tuple[np.ndarray, np.ndarray] | None = None,
    seed_point: np.ndarray | None = None,
    link_radius: float | None = None,
    seed_radius: float = 0.01,
    min_opacity: float = 0.1,
    source: str = "--point",
) -> Segment:
    """The Gaussians of one object: the component nearest ``seed_point``, or the largest one in ``box``.

    Args:
        means: world frame [m], shape [N, 3]; scales: standard deviations [m], [N, 3]; opacities: [N] in [0, 1].
        table_z: the table plane's height [m]; Gaussians at or below it are not candidates (see the module
            docstring for the margin). None: no table.
        box: (min corner, max corner) [3] each [m]: only Gaussians whose centres lie inside are candidates.
        seed_point: [3] [m]: return the component of the candidate nearest to it.
        link_radius: Gaussians closer than this are linked [m]; None: three times the median largest scale,
            within [1 mm, 2 cm].
        seed_radius: the nearest candidate must lie within this of ``seed_point`` [m].
        min_opacity: Gaussians less opaque are floaters, never candidates.
        source: the flag named in errors.

    Returns:
        The :class:`Segment`.

    Raises:
        InputError: neither a box nor a point, a box with no candidates, a point on the table or in empty space
            (no candidate within ``seed_radius``), impossible parameters.
    """
    means = np.asarray(means, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    opacities = np.asarray(opacities, dtype=np.float64)
    n = len(means)
    if box is None and seed_point is None:
        raise InputError(source, "give a box or a point to segment an object by")
    if n == 0:
        raise InputError(source, "the splat holds no Gaussians")
    if means.shape != (n, 3) or scales.shape != (n, 3) or opacities.shape != (n,):
        raise InputError(source, f"needs means [N, 3], scales [N, 3], opacities [N]; got {means.shape}, "
                                 f"{scales.shape}, {opacities.shape}")  # fmt: skip
    if link_radius is not None and not (np.isfinite(link_radius) and link_radius > 0):
        raise InputError("--link", f"must be a distance > 0 in metres, got {link_radius}")
    if not (np.isfinite(seed_radius) and seed_radius > 0):
        raise InputError(source, f"the seed radius must be a distance > 0 in metres, got {seed_radius}")
    if seed_point is not None:
        seed_point = np.asarray(seed_point, dtype=np.float64)
        if seed_point.shape != (3,) or not np.isfinite(seed_point).all():
            raise InputError(source, "needs three finite numbers X Y Z (metres)")
    candidate = opacities >= min_opacity
    if box is not None:
        lo, hi = (np.asarray(c, dtype=np.float64) for c in box)
        if lo.shape != (3,) or hi.shape != (3,) or not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            raise InputError("--box", "needs six finite numbers: xmin ymin zmin xmax ymax zmax (metres)")
        if not np.all(hi > lo):
            raise InputError("--box", f"max corner {hi.tolist()} must exceed min corner {lo.tolist()}")
        candidate &= np.all((means >= lo) & (means <= hi), axis=1)
    link = _default_link_radius(scales) if link_radius is None else float(link_radius)
    table_tol = 0.0
    clear = candidate.copy()
    fringe = np.zeros(n, dtype=bool)
    if table_z is not None:
        table_tol = _table_tolerance(means[:, 2], float(table_z))
        above = means[:, 2] > table_z + table_tol
        clear &= means[:, 2] - SUPPORT_SIGMAS * scales.max(axis=1) > table_z + table_tol
        fringe = candidate & above & ~clear
        candidate &= above
    where = "in the box" if box is not None else "in the splat"
    if not clear.any():
        above_note = "" if table_z is None else f" above the table at z = {table_z:.4f} m"
        raise InputError("--box" if box is not None else source, f"no opaque Gaussians {where}{above_note}")
    clear_index = np.flatnonzero(clear)
    clear_labels, components = _cell_components(means[clear_index], link)
    labels = np.full(n, -1, dtype=np.int64)
    labels[clear_index] = clear_labels
    if fringe.any():
        from scipy.spatial import cKDTree  # noqa: PLC0415

        # Grow the components down into the fringe, one link at a time: a fringe Gaussian takes the label of
        # the nearest labelled Gaussian within the link radius (fringe Gaussians never merge two components).
        pending = np.flatnonzero(fringe)
        while len(pending):
            labelled = np.flatnonzero(labels >= 0)
            distance, nearest = cKDTree(means[labelled]).query(means[pending], distance_upper_bound=link)
            joined = np.isfinite(distance)
            if not joined.any():
                break
            labels[pending[joined]] = labels[labelled[nearest[joined]]]
            pending = pending[~joined]
    sizes = np.bincount(labels[labels >= 0], minlength=components)
    if seed_point is not None:
        assigned = np.flatnonzero(labels >= 0)
        distances = np.linalg.norm(means[assigned] - seed_point, axis=1)
        best = int(np.argmin(distances))
        if distances[best] > seed_radius:
            table_note = ""
            if table_z is not None and seed_point[2] <= table_z + max(table_tol, 0.002):
                table_note = f"lies on the table (z = {table_z:.4f} m) and "
            raise InputError(
                source,
                f"{np.round(seed_point, 4).tolist()} {table_note}has no object within {seed_radius:g} m: the "
                f"nearest opaque Gaussian above the table {where} is {distances[best]:.3f} m away"
                + ("" if table_note else " (empty space)"),
            )
        label = int(labels[assigned[best]])
    else:
        label = int(np.argmax(sizes))
    mask = labels == label
    others = np.delete(sizes, label)
    chosen = means[mask]
    return Segment(
        mask=mask,
        count=int(mask.sum()),
        lo=chosen.min(axis=0),
        hi=chosen.max(axis=0),
        label=label,
        components=components,
        next_largest=int(others.max()) if len(others) else 0,
        candidates=int(candidate.sum()),
        table_z=None if table_z is None else float(table_z),
        table_tol=table_tol,
        link_radius=link,
    )


def find_selection_table(
    gaussians: Gaussians, *, point: np.ndarray | None = None, box: tuple[np.ndarray, np.ndarray] | None = None
) -> float | None:
    """The table under a selection [m], by :func:`splattwin.surfaces.extract.find_table_z`, or None.

    A box's table is searched in the box, lowered to the splat's bottom (a box drawn above the table still finds
    it); a point's in squares 20, 10 then 5 cm wide around it, from the splat's bottom to 5 mm over the point,
    (a table reaches every side of its region in one piece; an object's top face reaches none, the tops of
    several equal-height objects side by side are separate pieces).
    """
    from splattwin.surfaces.extract import find_table_z  # noqa: PLC0415

    bottom = float(gaussians.means[:, 2].min()) if len(gaussians) else 0.0
    if box is not None:
        lo, hi = (np.asarray(c, dtype=np.float64) for c in box)
        return find_table_z(gaussians, np.array([lo[0], lo[1], min(lo[2], bottom)]), hi)
    if point is None:
        return None
    point = np.asarray(point, dtype=np.float64)
    for reach in _POINT_TABLE_REACH_M:
        lo = np.array([point[0] - reach, point[1] - reach, min(bottom, point[2] - 0.005)])
        hi = np.array([point[0] + reach, point[1] + reach, point[2] + 0.005])
        table_z = find_table_z(gaussians, lo, hi)
        if table_z is not None:
            return table_z
    return None


def segment_object(
    gaussians: Gaussians,
    *,
    point: np.ndarray | None = None,
    box: tuple[np.ndarray, np.ndarray] | None = None,
    table: str | float = "auto",
    link_radius: float | None = None,
    source: str = "--point",
) -> Segment:
    """:func:`segment_gaussians` on a splat, its table found (``table="auto"``), none (``"none"``) or given [m].

    Args:
        gaussians: world frame [m].
        point, box, link_radius, source: as :func:`segment_gaussians` (``point`` is its ``seed_point``).
        table: "auto" (:func:`find_selection_table`), "none", or the table's height [m].
    """
    if isinstance(table, str):
        if table not in ("auto", "none"):
            raise InputError("--table", f"must be auto, none or a height in metres, got {table!r}")
        table_z = find_selection_table(gaussians, point=point, box=box) if table == "auto" else None
    else:
        if not np.isfinite(table):
            raise InputError("--table", f"must be a finite height in metres, got {table}")
        table_z = float(table)
    return segment_gaussians(
        gaussians.means, gaussians.scales, gaussians.opacities,
        table_z=table_z, box=box, seed_point=point, link_radius=link_radius, source=source,
    )  # fmt: skip
