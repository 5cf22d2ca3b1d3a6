"""Antipodal grasp candidates for the Panda's parallel gripper, sampled over an object's collision mesh.

A parallel gripper holds an object between two flat pads: a pair of surface points whose connecting line lies
inside both friction cones (the antipodal condition, Nguyen 1988) can be squeezed without sliding. The embedded
runtime holds the hand top-down at one closing direction (across the object's narrowest width,
:func:`~splattwin_tasks.robots.franka.closing_yaw`), so a candidate must also close along that axis. Candidates are in
the object's body frame (metres), so a trial can place them at any pose of the object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from splattwin.errors import InputError
from splattwin_tasks.robots.franka import MAX_OPENING_M

__all__ = ["GraspCandidates", "SamplerCounts", "sample_antipodal", "surface_points"]

_INSIDE_EPS_M = 1e-5


@dataclass(frozen=True)
class GraspCandidates:
    """Antipodal pairs in the object's body frame.

    Attributes:
        contacts: the two pad contacts [K, 2, 3] m.
        centres: the grasp centres (midpoints) [K, 3] m.
        widths: the pads' distance [K] m.
        axes: unit closing axes, contact 0 to contact 1 [K, 3].
    """

    contacts: np.ndarray
    centres: np.ndarray
    widths: np.ndarray
    axes: np.ndarray

    def __len__(self) -> int:
        return len(self.centres)


@dataclass(frozen=True)
class SamplerCounts:
    """What became of the sampled surface points (reported with the candidates and in errors)."""

    sampled: int
    no_opposite: int
    outside_cone: int
    too_wide: int
    too_narrow: int
    off_axis: int
    kept: int

    def describe(self) -> str:
        """One line: the counts by reason."""
        return (
            f"{self.sampled} surface points sampled: {self.kept} antipodal candidates kept, {self.too_wide} too wide, "
            f"{self.too_narrow} too narrow, {self.off_axis} off the gripper's closing axis, {self.outside_cone} "
            f"outside the friction cone, {self.no_opposite} with no opposite surface"
        )


def _mesh(vertices: np.ndarray, faces: np.ndarray, *, hull: bool):  # noqa: ANN202 - trimesh is imported lazily
    import trimesh  # noqa: PLC0415

    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) < 4:
        raise InputError("vertices", f"expected [V >= 4, 3] metres, got shape {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) < 4:
        raise InputError("faces", f"expected [F >= 4, 3] triangles, got shape {faces.shape}")
    mesh = trimesh.Trimesh(vertices, faces, process=True)
    return mesh.convex_hull if hull else mesh


def _exit_points(mesh, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Where rays from inside a convex mesh leave it, and that face's outward normal ([K, 3] each; NaN: no exit).

    A convex solid is the intersection of its faces' half-spaces, so a ray from inside leaves through the face plane
    it reaches first: no ray-casting structure (trimesh's needs rtree) is needed.
    """
    normals = mesh.face_normals  # [F, 3]
    offsets = np.einsum("fj,fj->f", normals, mesh.triangles[:, 0])  # n . x = b on each face's plane
    toward = directions @ normals.T  # [K, F]
    distance = (offsets[None] - origins @ normals.T) / np.where(toward > 1e-12, toward, np.nan)
    distance = np.where(distance > 0, distance, np.nan)
    valid = np.isfinite(distance).any(1)
    face = np.where(valid, np.nanargmin(np.where(valid[:, None], distance, 0.0), axis=1), 0)
    t = np.where(valid, distance[np.arange(len(origins)), face], np.nan)
    return origins + t[:, None] * directions, np.where(valid[:, None], normals[face], np.nan)


def surface_points(vertices: np.ndarray, faces: np.ndarray, count: int, *, seed: int = 0) -> np.ndarray:
    """``count`` points spread uniformly (by area) over the mesh's convex hull [count, 3] (the policy's input: the
    runtime collides the hull, so the hull is what a grasp touches)."""
    import trimesh  # noqa: PLC0415

    mesh = _mesh(vertices, faces, hull=True)
    points, _ = trimesh.sample.sample_surface_even(mesh, count, seed=seed)
    if len(points) < count:  # the even sampler may return fewer; top up with plain area sampling
        extra, _ = trimesh.sample.sample_surface(mesh, count - len(points), seed=seed + 1)
        points = np.concatenate([points, extra])
    return np.asarray(points[:count], dtype=np.float32)


def sample_antipodal(
    vertices: np.ndarray,
    faces: np.ndarray,
    *,
    samples: int = 2000,
    friction: float,
    closing_axis: np.ndarray | None = None,
    axis_tolerance_deg: float = 10.0,
    max_width_m: float = MAX_OPENING_M,
    min_width_m: float = 0.01,
    seed: int = 0,
) -> tuple[GraspCandidates, SamplerCounts]:
    """Antipodal contact pairs for a parallel gripper on the mesh (body frame).

    Each of ``samples`` points on the convex hull (what MuJoCo collides; area-uniform) is paired with the surface
    point straight behind it (a ray along the inward normal). The pair is kept when the line between them is inside
    both friction cones (half-angle ``atan(friction)``), its length fits the opening (``min_width_m`` to
    ``max_width_m``) and, with a ``closing_axis`` (body frame), it is within ``axis_tolerance_deg`` of that axis
    (either sign).

    Args:
        vertices: collision mesh vertices, body frame [V, 3] m.
        faces: its triangles [F, 3].
        samples: surface points to try.
        friction: the pads' Coulomb friction coefficient (> 0).
        closing_axis: the gripper's closing direction in the body frame [3]; None: any direction.
        axis_tolerance_deg: how far a pair's line may turn from ``closing_axis``.
        max_width_m: the gripper's widest opening.
        min_width_m: the narrowest width the pads can hold (thinner: too thin for the gripper).
        seed: sampling seed.

    Returns:
        The candidates and the counts by reason.

    Raises:
        InputError: bad arguments, or no feasible grasp (the message gives the counts: too wide, too thin, ...).
    """
    import trimesh  # noqa: PLC0415

    if not friction > 0:
        raise InputError("friction", f"must be > 0, got {friction}")
    if not 0 < min_width_m < max_width_m:
        raise InputError("min_width_m", f"must be in (0, max_width_m={max_width_m}), got {min_width_m}")
    mesh = _mesh(vertices, faces, hull=True)  # what MuJoCo collides
    points, face_ids = trimesh.sample.sample_surface(mesh, samples, seed=seed)
    normals = mesh.face_normals[face_ids]
    origins = points - _INSIDE_EPS_M * normals
    opposite, opposite_normal = _exit_points(mesh, origins, -normals)
    found = np.isfinite(opposite[:, 0])
    line = opposite - points
    width = np.linalg.norm(line, axis=1)
    width = np.where(found, width, 0.0)
    axis = np.where(found[:, None], line / np.maximum(width, 1e-12)[:, None], 0.0)
    cos_cone = math.cos(math.atan(friction))
    # Contact 0 pushes along -normal0 (into the object), contact 1 along -normal1; the line must lie in both cones.
    in_cone = found & (np.sum(-normals * axis, 1) >= cos_cone) & (np.sum(opposite_normal * axis, 1) >= cos_cone)
    if closing_axis is None:
        aligned = in_cone
    else:
        direction = np.asarray(closing_axis, dtype=np.float64)
        direction = direction / np.linalg.norm(direction)
        aligned = in_cone & (np.abs(axis @ direction) >= math.cos(math.radians(axis_tolerance_deg)))
    # Widths are judged on the pairs the hand can close along: those are the ones too wide or too thin for it.
    too_wide = aligned & (width > max_width_m)
    too_narrow = aligned & (width < min_width_m)
    on_axis = aligned & ~too_wide & ~too_narrow
    counts = SamplerCounts(
        sampled=samples,
        no_opposite=int((~found).sum()),
        outside_cone=int((found & ~in_cone).sum()),
        too_wide=int(too_wide.sum()),
        too_narrow=int(too_narrow.sum()),
        off_axis=int((in_cone & ~aligned).sum()),
        kept=int(on_axis.sum()),
    )
    if counts.kept == 0:
        why = ""
        if counts.too_wide and not counts.too_narrow:
            why = f": the object is too large for the gripper's {max_width_m:.3f} m opening"
        elif counts.too_narrow and not counts.too_wide:
            why = f": the object is too thin for the pads (under {min_width_m:.3f} m)"
        raise InputError("mesh", f"no feasible grasp found{why} ({counts.describe()})")
    contacts = np.stack([points[on_axis], opposite[on_axis]], 1)
    candidates = GraspCandidates(
        contacts=contacts.astype(np.float64),
        centres=contacts.mean(1),
        widths=width[on_axis],
        axes=axis[on_axis],
    )
    return candidates, counts
