"""Frame unification of a reconstruction: up axis, metric scale, gravity from the table plane, origin.

A reconstruction comes in an arbitrary SfM frame (often y-up, at an unknown scale, slightly tilted). Each step
here returns a :class:`~splattwin.geometry.transforms.Similarity`; :func:`unify_frame` composes them in the order
the Robo-GS pipeline uses (axis, scale, orientation, origin at the robot base) and records every step so the
composed transform can be stored on the stage and inverted. Only the math lives here: baking the transform into
splats and meshes is the caller's job.

The world frame is Isaac's: z up, metres.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from splattwin.errors import InputError
from splattwin.geometry.transforms import Similarity, rotation_between

__all__ = [
    "DEFAULT_MIN_INLIER_FRACTION",
    "MIN_TABLE_SIDE_M",
    "MIN_TABLE_RELATIVE_AREA",
    "PlaneFit",
    "WeakTableError",
    "fit_table_plane",
    "gravity_alignment",
    "origin_shift",
    "scale_from_distance",
    "suggest_up_axis",
    "unify_frame",
    "up_axis_rotation",
]

# Proper rotations taking each source up axis onto world +z: the quarter turn about the perpendicular source
# axis (the smallest rotation), and for -z the half turn about x. See up_axis_rotation for which axis ends as +x.
_UP_AXIS_ROTATIONS: dict[str, tuple[tuple[float, ...], ...]] = {
    "z": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "y": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),  # +90 deg about x: the USD/Isaac y-up -> z-up change
    "-y": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),  # -90 deg about x
    "x": ((0, 0, -1), (0, 1, 0), (1, 0, 0)),  # -90 deg about y
    "-x": ((0, 0, 1), (0, 1, 0), (-1, 0, 0)),  # +90 deg about y
    "-z": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),  # 180 deg about x
}

_DEFAULT_THRESHOLD_FRACTION = 0.01
"""Default inlier threshold as a fraction of the robust scene size (median distance to the median point)."""

_SCORING_SAMPLE = 20_000
"""RANSAC hypotheses are drawn and scored on a random subset of this many points; the final fit uses all."""

DEFAULT_MIN_INLIER_FRACTION = 0.05
"""A table plane holds at least this share of the fitted points; a weaker plane is a wall slice, an object's face
or the sign of a wrong up axis (the sample capture's table holds 14.5%, a tabletop scan's far more)."""

MIN_TABLE_SIDE_M = 0.25
"""In metres: a plane whose inliers span less than this along their shorter side is an object's face (a box
top), not a table (a small side table is 0.4 m across; the boxes an arm handles are under 0.2 m)."""

MIN_TABLE_RELATIVE_AREA = 0.05
"""Without metric units: a plane spanning less than this share of the largest candidate plane's area is an
object's face, not the table (an 8 x 6 cm box top on a 0.6 x 0.4 m table spans 2%, the sample's table 12% of its
floor)."""

_HYPOTHESIS_CHUNK = 128
"""Hypotheses scored per vectorised batch (bounds the [sample, chunk] distance matrix to a few MB)."""


def up_axis_rotation(up_axis: str) -> Similarity:
    """The rotation taking a source frame's up axis onto world +z.

    Rule (right-handed, proper, the smallest rotation doing the job):

    ====== ================================ ========================
    up     rotation                         source axis -> world +x
    ====== ================================ ========================
    ``z``  identity                         +x
    ``y``  +90 deg about x (USD/Isaac y-up) +x  (+z -> -y)
    ``-y`` -90 deg about x                  +x  (+z -> +y)
    ``x``  -90 deg about y                  -z  (+y stays +y)
    ``-x`` +90 deg about y                  +z  (+y stays +y)
    ``-z`` 180 deg about x                  +x  (+y -> -y)
    ====== ================================ ========================

    Args:
        up_axis: one of ``x, y, z, -x, -y, -z`` (case-insensitive, a leading ``+`` allowed).

    Returns:
        A pure rotation (scale 1, no translation).

    Raises:
        InputError: an unknown axis name.
    """
    key = str(up_axis).strip().lower().removeprefix("+")
    if key not in _UP_AXIS_ROTATIONS:
        raise InputError("up_axis", f"must be one of x, y, z, -x, -y, -z, got {up_axis!r}")
    return Similarity(rotation=np.array(_UP_AXIS_ROTATIONS[key], dtype=np.float64))


def scale_from_distance(p1: ArrayLike, p2: ArrayLike, metres: float) -> Similarity:
    """Uniform scale about the origin that makes the distance between two points ``metres``.

    Args:
        p1: a point [3] in the source frame (source units).
        p2: another point [3] in the same frame.
        metres: the real distance between them, > 0.

    Returns:
        A pure scale ``metres / |p1 - p2|`` (identity rotation, no translation).

    Raises:
        InputError: NaN or Inf, coincident points, or ``metres`` <= 0.
    """
    a = _as_point(p1, "p1")
    b = _as_point(p2, "p2")
    length = _as_positive(metres, "metres")
    source_distance = float(np.linalg.norm(a - b))
    if not source_distance > 0:
        raise InputError("p1, p2", f"the two points coincide ({a.tolist()}), so they give no scale")
    return Similarity(scale=length / source_distance)


def origin_shift(point: ArrayLike) -> Similarity:
    """The translation moving ``point`` [3] (the frame's units, e.g. the robot base) to the origin."""
    return Similarity(translation=-_as_point(point, "point"))


@dataclass(frozen=True, eq=False)
class PlaneFit:
    """A plane fitted to a point cloud: ``normal . x = offset``.

    Attributes:
        normal: unit normal [3], in the frame of the fitted points, oriented along the up hint.
        offset: signed distance of the plane from the origin along ``normal``, in the points' units.
        inliers: boolean mask [N] of the points within ``threshold`` of the plane.
        rmse: root-mean-square distance of the inliers to the plane, in the points' units.
        inlier_fraction: inliers / N.
        threshold: the inlier distance used, in the points' units.
        sides: (longer, shorter) side of the region the inliers cover, in the points' units (a rectangle
            covered uniformly: its side lengths).
    """

    normal: np.ndarray
    offset: float
    inliers: np.ndarray
    rmse: float
    inlier_fraction: float
    threshold: float
    sides: tuple[float, float] = (float("nan"), float("nan"))

    def signed_distances(self, points: ArrayLike) -> np.ndarray:
        """Signed distances [...] of points [..., 3] (same frame) to the plane, positive along ``normal``."""
        return np.asarray(points, dtype=np.float64) @ self.normal - self.offset

    def transformed(self, transform: Similarity) -> PlaneFit:
        """The same plane after ``transform`` (normal turned, offset and distances scaled); the mask is kept."""
        normal = transform.rotation @ self.normal
        # A point x on the plane goes to s R x + t, so the new offset is s * offset + normal' . t.
        offset = transform.scale * self.offset + float(normal @ transform.translation)
        return PlaneFit(
            normal=normal,
            offset=float(offset),
            inliers=self.inliers,
            rmse=self.rmse * transform.scale,
            inlier_fraction=self.inlier_fraction,
            threshold=self.threshold * transform.scale,
            sides=(self.sides[0] * transform.scale, self.sides[1] * transform.scale),
        )


class WeakTableError(InputError):
    """No plane within the tilt limit holds enough of the points to be a table.

    Attributes:
        best: the best plane found (None when there was none within the tilt limit).
        count: the number of points fitted.
    """

    def __init__(self, problem: str, *, best: PlaneFit | None, count: int) -> None:
        super().__init__("points", problem)
        self.best = best
        self.count = count


def _sides(points: np.ndarray) -> tuple[float, float]:
    """(longer, shorter) side of the rectangle uniform points [M, 3] on a plane would fill: sqrt(12) x the spread
    along their two principal axes (robust to a few strays, exact for a uniformly covered rectangle)."""
    if len(points) < 3:
        return 0.0, 0.0
    centred = points - points.mean(axis=0)
    spread = np.sqrt(np.clip(np.linalg.eigvalsh(centred.T @ centred / len(points)), 0.0, None))
    return float(math.sqrt(12) * spread[2]), float(math.sqrt(12) * spread[1])


def fit_table_plane(
    points: ArrayLike,
    *,
    up_hint: ArrayLike = (0.0, 0.0, 1.0),
    max_tilt_deg: float = 30.0,
    inlier_threshold: float | None = None,
    iterations: int = 1000,
    prefer: Literal["highest", "largest"] = "highest",
    min_relative_support: float = 0.2,
    max_planes: int = 4,
    parallel_tol_deg: float = 3.0,
    min_inlier_fraction: float = DEFAULT_MIN_INLIER_FRACTION,
    min_side: float | None = None,
    min_relative_area: float = MIN_TABLE_RELATIVE_AREA,
    seed: int = 0,
) -> PlaneFit:
    """Fit the table top: a large plane within ``max_tilt_deg`` of ``up_hint``.

    Sequential RANSAC finds up to ``max_planes`` near-horizontal planes (each time the best-supported one among
    ``iterations`` random point triples whose normal is within the tilt limit, refined by least squares, then
    removed with a band of 3 thresholds around it). Planes with fewer than ``min_relative_support`` times the
    inliers of the best-supported one, more than ``parallel_tol_deg`` off parallel to it (tables, floors and box
    tops are parallel; a slanted slice through clutter is not), or whose inliers span a line rather than an
    area, are dropped. So are object faces: a box top is as flat and level as a table and higher, so a plane
    whose inliers span less than ``min_side`` along their shorter side (given when the points are metric:
    :data:`MIN_TABLE_SIDE_M`) or, without ``min_side``, less than ``min_relative_area`` of the largest
    candidate's area is no table. Of the rest, ``prefer="highest"`` (default) takes the one highest along
    ``up_hint``: in a workcell capture the floor under the table often holds more points than the table top.
    ``prefer="largest"`` takes the one with the most inliers. The chosen plane is refined by least squares
    (SVD) on its inliers among all points; if it then holds under ``min_inlier_fraction`` of the points it is
    refused (a wall slice or the wrong up axis: 23 degrees of "tilt" fitted on 2% of a y-up scene given as
    z-up).

    The default threshold is 1% of the robust scene size (median distance to the median point), so the fit
    works at any (unknown, off-metric) scale. Deterministic for a given ``seed``.

    Args:
        points: [N, 3] any frame, any unit (e.g. splat means and mesh vertices).
        up_hint: [3] roughly the up direction in the points' frame; the normal is oriented along it.
        max_tilt_deg: largest angle between the plane normal and ``up_hint``, degrees, in (0, 90].
        inlier_threshold: inlier distance in the points' units; None for the scale-free default.
        iterations: random triples tried per plane.
        prefer: ``"highest"`` or ``"largest"``, see above.
        min_relative_support: in (0, 1]; the support a candidate needs relative to the best-supported one.
        max_planes: most near-horizontal planes extracted before choosing.
        parallel_tol_deg: a candidate must be this parallel (degrees) to the best-supported plane to be chosen.
        min_inlier_fraction: in [0, 1); the least share of all points the chosen plane must hold.
        min_side: in the points' units; the shorter side a table spans at least (None: scale-free rule).
        min_relative_area: in [0, 1]; without ``min_side``, the least area relative to the largest candidate.
        seed: random seed.

    Returns:
        The fitted plane, in the points' frame and units.

    Raises:
        InputError: fewer than 3 points, NaN or Inf, all points on a line, bad options.
        WeakTableError: no plane within the tilt limit, or the chosen one holds under ``min_inlier_fraction``.
    """
    pts = _as_points(points, "points")
    up = _as_point(up_hint, "up_hint")
    if not np.linalg.norm(up) > 0:
        raise InputError("up_hint", "must be a nonzero direction, got [0, 0, 0]")
    up = up / np.linalg.norm(up)
    if not (math.isfinite(max_tilt_deg) and 0 < max_tilt_deg <= 90):
        raise InputError("max_tilt_deg", f"must be in (0, 90] degrees, got {max_tilt_deg}")
    if prefer not in ("highest", "largest"):
        raise InputError("prefer", f"must be 'highest' or 'largest', got {prefer!r}")
    if not (math.isfinite(min_relative_support) and 0 < min_relative_support <= 1):
        raise InputError("min_relative_support", f"must be in (0, 1], got {min_relative_support}")
    if not (math.isfinite(parallel_tol_deg) and 0 < parallel_tol_deg <= 90):
        raise InputError("parallel_tol_deg", f"must be in (0, 90] degrees, got {parallel_tol_deg}")
    if not (math.isfinite(min_inlier_fraction) and 0 <= min_inlier_fraction < 1):
        raise InputError("min_inlier_fraction", f"must be in [0, 1), got {min_inlier_fraction}")
    if min_side is not None and not (math.isfinite(min_side) and min_side >= 0):
        raise InputError("min_side", f"must be finite and >= 0, got {min_side}")
    if not (math.isfinite(min_relative_area) and 0 <= min_relative_area <= 1):
        raise InputError("min_relative_area", f"must be in [0, 1], got {min_relative_area}")
    if int(iterations) < 1 or int(max_planes) < 1:
        raise InputError("iterations, max_planes", f"must be >= 1, got {iterations} and {max_planes}")

    centroid = pts.mean(axis=0)
    centred = pts - centroid
    spread = np.linalg.eigvalsh(centred.T @ centred / len(pts))  # ascending
    if not spread[1] > 1e-12 * spread[2]:
        raise InputError("points", f"all {len(pts)} points lie on a line (or coincide); they define no plane")
    if inlier_threshold is None:
        median_point = np.median(pts, axis=0)
        scene_size = float(np.median(np.linalg.norm(pts - median_point, axis=1)))
        if not scene_size > 0:  # more than half the points coincide: fall back to the mean distance
            scene_size = float(np.mean(np.linalg.norm(pts - median_point, axis=1)))
        threshold = _DEFAULT_THRESHOLD_FRACTION * scene_size
    else:
        threshold = _as_positive(inlier_threshold, "inlier_threshold")
    cos_max_tilt = math.cos(math.radians(max_tilt_deg))

    rng = np.random.default_rng(seed)
    sample = pts if len(pts) <= _SCORING_SAMPLE else pts[rng.choice(len(pts), _SCORING_SAMPLE, replace=False)]
    candidates: list[tuple[np.ndarray, float, int, float, tuple[float, float]]] = []
    # (normal, offset, support, height, (longer, shorter) side)
    remaining = sample
    for _ in range(int(max_planes)):
        found = _ransac_plane(remaining, up, cos_max_tilt, threshold, int(iterations), rng)
        if found is None:
            break
        normal, offset = found
        distances = np.abs(remaining @ normal - offset)
        inliers = remaining[distances < threshold]
        # A band around a line (e.g. where a tilted plane cuts a wall) is no table: require an area.
        if _second_spread(inliers) > 2 * threshold:
            candidates.append((normal, offset, len(inliers), float(np.mean(inliers @ up)), _sides(inliers)))
        remaining = remaining[distances >= 3 * threshold]
        if len(remaining) < 3:
            break
    if not candidates:
        raise WeakTableError(
            f"no plane within {max_tilt_deg:g} deg of up_hint {up.tolist()} found among {len(pts)} points",
            best=None,
            count=len(pts),
        )
    most = max(c[2] for c in candidates)
    supported = [c for c in candidates if c[2] >= min_relative_support * most]
    # Tables, floors and box tops are parallel; a well-supported plane at another tilt is a slice through
    # the clutter (or the walls) and never the table, however high it is. The reference is the plane spanning
    # the largest area (its normal is the best determined; a small dense box top's is not).
    reference = max(supported, key=lambda c: c[4][0] * c[4][1])
    cos_parallel = math.cos(math.radians(parallel_tol_deg))
    kept = [c for c in supported if abs(float(c[0] @ reference[0])) >= cos_parallel]
    # A box top is parallel to the table and higher: too small to work on, it is an object's face. Metric
    # points are judged by the side length; otherwise by area against the largest plane (the floor or table).
    if min_side is not None:
        tables = [c for c in kept if c[4][1] >= min_side]
    else:
        largest_area = max(c[4][0] * c[4][1] for c in kept)
        tables = [c for c in kept if c[4][0] * c[4][1] >= min_relative_area * largest_area]
    kept = tables or [max(kept, key=lambda c: c[4][0] * c[4][1])]
    chosen = max(kept, key=(lambda c: c[3]) if prefer == "highest" else (lambda c: c[2]))
    normal, offset = chosen[0], chosen[1]

    inliers = np.abs(pts @ normal - offset) < threshold
    for _ in range(2):  # least squares on the inliers, then once more on the refined inlier set
        refined = _least_squares_plane(pts[inliers], up)
        if refined is None or refined[0] @ up < cos_max_tilt:
            break
        normal, offset = refined
        inliers = np.abs(pts @ normal - offset) < threshold
    residuals = pts[inliers] @ normal - offset
    plane = PlaneFit(
        normal=normal,
        offset=float(offset),
        inliers=inliers,
        rmse=float(np.sqrt(np.mean(residuals**2))) if len(residuals) else float("nan"),
        inlier_fraction=float(inliers.mean()),
        threshold=float(threshold),
        sides=_sides(pts[inliers]),
    )
    if plane.inlier_fraction < min_inlier_fraction:
        tilt = float(np.degrees(np.arccos(np.clip(normal @ up, -1.0, 1.0))))
        raise WeakTableError(
            f"the best plane within {max_tilt_deg:g} deg of up ({tilt:.1f} deg off it) holds "
            f"{int(inliers.sum()):,} of {len(pts):,} points ({100 * plane.inlier_fraction:.1f}%), too few for a "
            f"table (at least {100 * min_inlier_fraction:g}%)",
            best=plane,
            count=len(pts),
        )
    return plane


def suggest_up_axis(points: ArrayLike, *, iterations: int = 300, seed: int = 0) -> list[tuple[str, float]]:
    """Which up axis gives the points a table: ``(axis, inlier fraction)`` for x, y and z, best first.

    Each axis is tried as the up axis (:func:`up_axis_rotation`) with :func:`fit_table_plane`; its sign is the
    side the scene reaches out to (a scene stands on its floor and table: little lies below them, walls and
    objects rise above). For the message of a
    refused table fit, so it can say "--up-axis y gives a plane holding 14% of the points".

    Args:
        points: [N, 3] the input frame (before the up-axis step), any unit.
        iterations: random triples tried per plane (a suggestion needs fewer than a fit).
        seed: random seed.
    """
    pts = _as_points(points, "points")
    found = []
    for axis in ("z", "y", "x"):
        turned = up_axis_rotation(axis).apply_points(pts)
        try:
            plane = fit_table_plane(turned, iterations=iterations, min_inlier_fraction=0.0, seed=seed)
        except InputError:
            continue
        # A scene stands on its floor and table: nothing much below them, walls and objects reaching up.
        low, median, high = np.percentile(plane.signed_distances(turned), [1, 50, 99])
        found.append((axis if median - low <= high - median else f"-{axis}", plane.inlier_fraction))
    return sorted(found, key=lambda item: -item[1])


def gravity_alignment(plane: PlaneFit, *, table_height: float = 0.0) -> Similarity:
    """The smallest rotation turning the plane normal onto +z, then a z shift putting the plane at ``table_height``.

    Args:
        plane: the table plane, in the frame the returned transform applies to.
        table_height: z of the table top after the transform, in that frame's units (metres once scaled).
    """
    height = float(table_height)
    if not math.isfinite(height):
        raise InputError("table_height", f"must be finite, got {table_height}")
    rotation = rotation_between(plane.normal, np.array([0.0, 0.0, 1.0]))
    # After the rotation the plane is z = offset (R n = z and n . x = offset).
    return Similarity(rotation=rotation, translation=np.array([0.0, 0.0, height - plane.offset]))


def unify_frame(
    points: ArrayLike | None,
    *,
    up_axis: str = "z",
    scale_from: tuple[ArrayLike, ArrayLike, float] | None = None,
    table: Literal["auto"] | PlaneFit | None = None,
    table_height: float = 0.0,
    table_options: Mapping[str, Any] | None = None,
    origin: ArrayLike | None = None,
) -> tuple[Similarity, dict[str, Any]]:
    """Compose the frame unification: up axis, metric scale, gravity from the table plane, origin.

    Every user-given point (``scale_from``, ``origin``, a given ``table`` plane) is in the INPUT frame; it is
    carried through the steps before its own. The origin shift comes last, so the table ends at
    ``table_height`` minus the height of ``origin`` above z = 0 after the gravity step (a robot standing on
    the table puts the table at z = 0).

    Args:
        points: [N, 3] input frame and units, the scene (splat means, mesh vertices) the table plane is fitted
            on after the up-axis and scale steps; only needed for ``table="auto"``.
        up_axis: the input's up axis, see :func:`up_axis_rotation`.
        scale_from: ``(p1, p2, metres)``: two input-frame points [3] and their real distance in metres.
        table: None (no gravity step), ``"auto"`` (fit with :func:`fit_table_plane`, up hint +z), or a plane
            already fitted in the input frame.
        table_height: z of the table top after the gravity step, metres (input units without ``scale_from``).
        table_options: keyword options for :func:`fit_table_plane` (``prefer``, ``max_tilt_deg``, ...).
        origin: input-frame point [3] that becomes the world origin (e.g. the robot base).

    Returns:
        The composed transform (input frame -> world) and a JSON-friendly record: ``steps`` (each with
        ``name``, its parameters and ``matrix``, a 4x4 column-vector list), ``matrix`` and ``scale`` of the
        composition.
    """
    total = up_axis_rotation(up_axis)
    # Only the steps asked for are recorded (z up is no step: nothing turns).
    steps: list[dict[str, Any]] = []
    if not total.is_identity():
        steps.append({"name": "up_axis", "up_axis": str(up_axis), "matrix": _matrix_list(total)})

    if scale_from is not None:
        if len(scale_from) != 3:
            raise InputError("scale_from", f"must be (p1, p2, metres), got {len(scale_from)} items")
        p1, p2 = _as_point(scale_from[0], "scale_from[0]"), _as_point(scale_from[1], "scale_from[1]")
        step = scale_from_distance(total.apply_points(p1), total.apply_points(p2), scale_from[2])
        total = total.then(step)
        steps.append(
            {
                "name": "scale",
                "p1": p1.tolist(),
                "p2": p2.tolist(),
                "metres": float(scale_from[2]),
                "source_distance": float(np.linalg.norm(p1 - p2)),
                "scale": step.scale,
                "matrix": _matrix_list(step),
            }
        )

    if table is not None:
        if isinstance(table, PlaneFit):
            plane, method = table.transformed(total), "given"
        elif table == "auto":
            if points is None:
                raise InputError("points", "table='auto' needs the scene points to fit the table plane on")
            plane = fit_table_plane(total.apply_points(_as_points(points, "points")), **dict(table_options or {}))
            method = "ransac"
        else:
            raise InputError("table", f"must be None, 'auto' or a PlaneFit, got {table!r}")
        step = gravity_alignment(plane, table_height=table_height)
        total = total.then(step)
        steps.append(
            {
                "name": "table",
                "method": method,
                "normal": plane.normal.tolist(),
                "offset": plane.offset,
                "tilt_deg": float(np.degrees(np.arccos(np.clip(plane.normal[2], -1.0, 1.0)))),
                "rmse": plane.rmse,
                "inlier_fraction": plane.inlier_fraction,
                "inliers": int(np.count_nonzero(plane.inliers)),
                "threshold": plane.threshold,
                "sides": [float(v) for v in plane.sides],
                "table_height": float(table_height),
                "matrix": _matrix_list(step),
            }
        )

    if origin is not None:
        point = _as_point(origin, "origin")
        step = origin_shift(total.apply_points(point))
        total = total.then(step)
        steps.append({"name": "origin", "point": point.tolist(), "matrix": _matrix_list(step)})

    record = {
        "convention": "4x4 column-vector matrices [[s R, t], [0, 1]]; input frame -> world (z up, metres)",
        "steps": steps,
        "matrix": _matrix_list(total),
        "scale": total.scale,
    }
    return total, record


def _ransac_plane(
    points: np.ndarray, up: np.ndarray, cos_max_tilt: float, threshold: float, iterations: int, rng: np.random.Generator
) -> tuple[np.ndarray, float] | None:
    """Best-supported plane (normal along ``up``, within the tilt limit) among random triples, LS-refined."""
    if len(points) < 3:
        return None
    triples = points[rng.integers(0, len(points), size=(iterations, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    usable = lengths > 1e-12 * threshold**2
    normals = normals[usable] / lengths[usable, None]
    normals *= np.where(normals @ up < 0, -1.0, 1.0)[:, None]
    within = normals @ up >= cos_max_tilt
    normals = normals[within]
    if len(normals) == 0:
        return None
    offsets = np.einsum("ij,ij->i", normals, triples[usable][within][:, 0])
    support = np.empty(len(normals), dtype=np.int64)
    for start in range(0, len(normals), _HYPOTHESIS_CHUNK):
        block = slice(start, start + _HYPOTHESIS_CHUNK)
        support[block] = (np.abs(points @ normals[block].T - offsets[block]) < threshold).sum(axis=0)
    best = int(np.argmax(support))
    normal, offset = normals[best], float(offsets[best])
    refined = _least_squares_plane(points[np.abs(points @ normal - offset) < threshold], up)
    if refined is not None and refined[0] @ up >= cos_max_tilt:
        normal, offset = refined
    return normal, offset


def _least_squares_plane(points: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Total-least-squares plane (normal along ``up``) through points [M, 3]; None for fewer than 3."""
    if len(points) < 3:
        return None
    centroid = points.mean(axis=0)
    centred = points - centroid
    _, vectors = np.linalg.eigh(centred.T @ centred)
    normal = vectors[:, 0]  # eigenvector of the smallest eigenvalue
    if normal @ up < 0:
        normal = -normal
    return normal, float(normal @ centroid)


def _second_spread(points: np.ndarray) -> float:
    """Standard deviation of points [M, 3] along their second principal axis (0 for fewer than 3)."""
    if len(points) < 3:
        return 0.0
    centred = points - points.mean(axis=0)
    return float(np.sqrt(max(np.linalg.eigvalsh(centred.T @ centred / len(points))[1], 0.0)))


def _matrix_list(transform: Similarity) -> list[list[float]]:
    return transform.matrix().tolist()


def _as_points(value: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise InputError(name, f"must have shape [N, 3], got {array.shape}")
    if len(array) < 3:
        raise InputError(name, f"needs at least 3 points to define a plane, got {len(array)}")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise InputError(name, f"{int(bad.sum())} point(s) hold NaN or Inf (first at index {np.flatnonzero(bad)[0]})")
    return array


def _as_point(value: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (3,):
        raise InputError(name, f"must be a point of shape [3], got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(name, f"must be finite, got {array.tolist()}")
    return array


def _as_positive(value: float, name: str) -> float:
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise InputError(name, f"must be finite and > 0, got {value}")
    return number
