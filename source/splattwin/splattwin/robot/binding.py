"""Gaussian-link binding (Robo-GS's Gaussian-Mesh binding, seed 000) and Gaussians made from link meshes (Dr. Robot).

Each Gaussian of a robot splat captured at a known configuration is assigned to the link whose posed surface is
nearest (nearest triangle of the link meshes); Gaussians farther than a threshold from every link stay unbound and
are counted. A bound Gaussian is stored in its link's frame, with the binding:

- ``triangle``: index into the link's triangles (its visual meshes' faces concatenated in prim order, see
  :func:`splattwin.robot.usd_robot.link_meshes`);
- ``barycentric`` (b0, b1, b2), summing to 1: the projection of the mean onto the triangle's plane; outside
  [0, 1] only when the mean lies beyond an edge of its nearest triangle;
- ``normal_offset``: signed distance (m) from that plane along the face normal (right-handed winding).

So ``mean = b0 v0 + b1 v1 + b2 v2 + normal_offset * n`` exactly, in the link frame, for every pose.

The nearest-triangle search is our own vectorised code: trimesh's ``closest_point`` needs ``rtree``, which the
project does not depend on. Candidates come from a scipy cKDTree over points covering every triangle, the exact
point-triangle distance (Ericson, Real-Time Collision Detection 5.1.5) picks among them, and a ball query
settles the few points where the candidates do not provably contain the nearest triangle (see
:func:`nearest_triangles`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splattwin.gaussians import Gaussians, rgb_to_sh0
from splattwin.robot.usd_robot import LinkMesh

__all__ = [
    "Binding",
    "bind_gaussians",
    "closest_points_on_triangles",
    "nearest_triangles",
    "plane_binding",
    "sample_link_gaussians",
]

_CHUNK = 16_384


def closest_points_on_triangles(points: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest point on triangle (a, b, c) to each point; all arrays [..., 3], same frame and unit."""
    ab, ac, ap = b - a, c - a, points - a
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    bp = points - b
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    cp = points - c
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):  # degenerate triangles: fixed just below
        denom = 1.0 / (va + vb + vc)
        v_in, w_in = np.nan_to_num(vb * denom), np.nan_to_num(vc * denom)
        t_ab = d1 / (d1 - d3)
        t_ac = d2 / (d2 - d6)
        t_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
    out = a + ab * v_in[..., None] + ac * w_in[..., None]  # inside the face
    # Ericson tests A, B, AB, C, AC, BC in turn and returns at the first match; later entries win here.
    regions = [
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), b + (c - b) * np.nan_to_num(t_bc)[..., None]),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), a + ac * np.nan_to_num(t_ac)[..., None]),
        ((d6 >= 0) & (d5 <= d6), c),
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), a + ab * np.nan_to_num(t_ab)[..., None]),
        ((d3 >= 0) & (d4 <= d3), b),
        ((d1 <= 0) & (d2 <= 0), a),
    ]
    for mask, value in regions:
        out = np.where(mask[..., None], value, out)
    return out


def _cover_samples(tris: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Points on every triangle such that each point of a triangle is within ``cover`` of one of its own samples.

    Returns (samples [S, 3], their triangle [S], cover radius in the mesh's unit).
    """
    edges = np.linalg.norm(tris - np.roll(tris, 1, axis=1), axis=2)
    longest = edges.max(axis=1)
    cover = max(float(np.median(longest)), 1e-9)
    steps = np.maximum(1, np.ceil(longest / cover).astype(np.int64))
    samples, owners = [], []
    for n in np.unique(steps):
        rows = np.flatnonzero(steps == n)
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = (i + j) <= n
        b1, b2 = i[keep] / n, j[keep] / n
        bary = np.stack([1 - b1 - b2, b1, b2], axis=1)  # [G, 3]
        samples.append(np.einsum("gk,tkd->tgd", bary, tris[rows]).reshape(-1, 3))
        owners.append(np.repeat(rows, len(bary)))
    # A grid of step longest/n leaves every point within longest/n <= cover of a grid node.
    return np.concatenate(samples), np.concatenate(owners), cover


def nearest_triangles(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest triangle of a mesh to each point, exactly.

    Every triangle is covered by its own sample points (no point of it farther than ``cover`` from one). The
    triangle of a point's nearest sample gives an upper bound ``d0`` on the distance to the mesh; the nearest
    triangle then has a sample within ``d0 + cover`` of the point, so checking the triangles of every sample in
    that ball (one batched ball query) finds it.

    Args:
        points: query points [N, 3] (mesh frame, metres).
        vertices: [V, 3]; faces: [F, 3] vertex indices.

    Returns:
        (triangle index [N] int64, distance [N] float64 in metres).
    """
    import itertools  # noqa: PLC0415

    from scipy.spatial import cKDTree  # noqa: PLC0415

    points = np.asarray(points, np.float64)
    tris = np.asarray(vertices, np.float64)[faces]  # [F, 3, 3]
    samples, owners, cover = _cover_samples(tris)
    tree = cKDTree(samples)
    best = np.empty(len(points), np.int64)
    dist = np.empty(len(points))
    for start in range(0, len(points), _CHUNK):
        chunk = points[start : start + _CHUNK]
        _, nearest = tree.query(chunk)
        first = tris[owners[nearest]]
        bound = np.linalg.norm(
            closest_points_on_triangles(chunk, first[:, 0], first[:, 1], first[:, 2]) - chunk, axis=1
        )
        balls = tree.query_ball_point(chunk, bound + cover * (1 + 1e-9), return_sorted=False)
        lengths = np.fromiter(map(len, balls), np.int64, count=len(balls))
        flat = np.fromiter(itertools.chain.from_iterable(balls), np.int64, count=int(lengths.sum()))
        keys = np.unique(np.repeat(np.arange(len(chunk), dtype=np.int64), lengths) * len(tris) + owners[flat])
        point_of, tri_of = keys // len(tris), keys % len(tris)
        cand = tris[tri_of]
        d = np.linalg.norm(
            closest_points_on_triangles(chunk[point_of], cand[:, 0], cand[:, 1], cand[:, 2]) - chunk[point_of], axis=1
        )
        order = np.lexsort((d, point_of))  # by point, then distance: the first entry of each point is its nearest
        heads = order[np.r_[True, point_of[order][1:] != point_of[order][:-1]]]
        best[start + point_of[heads]] = tri_of[heads]
        dist[start + point_of[heads]] = d[heads]
    return best, dist


@dataclass
class Binding:
    """Result of :func:`bind_gaussians`; arrays per input Gaussian unless said otherwise.

    Attributes:
        link: index of the bound link in the ``meshes`` order, -1 when unbound.
        distance: distance to the nearest link surface, metres.
        triangle: triangle index within the bound link's mesh (-1 when unbound).
        barycentric: [N, 3] barycentric coordinates of the projection on the triangle's plane.
        normal_offset: signed distance from the triangle's plane along its normal, metres.
        threshold: the distance threshold used, metres.
    """

    link: np.ndarray
    distance: np.ndarray
    triangle: np.ndarray
    barycentric: np.ndarray
    normal_offset: np.ndarray
    threshold: float

    @property
    def unbound(self) -> int:
        """Number of Gaussians farther than the threshold from every link."""
        return int((self.link < 0).sum())


def plane_binding(points: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric coordinates [N, 3] of each point's projection on its triangle's plane, and the normal offset [N].

    Args:
        points: [N, 3]; tris: the matching triangles [N, 3, 3] (same frame, metres).
    """
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    normal = np.cross(b - a, c - a)
    area2 = np.linalg.norm(normal, axis=1)
    unit = normal / np.maximum(area2, 1e-300)[:, None]
    offset = ((points - a) * unit).sum(1)
    projected = points - offset[:, None] * unit
    # Barycentric coordinates from signed sub-triangle areas (exact for points in the plane).
    w0 = (np.cross(c - b, projected - b) * unit).sum(1) / np.maximum(area2, 1e-300)
    w1 = (np.cross(a - c, projected - c) * unit).sum(1) / np.maximum(area2, 1e-300)
    return np.stack([w0, w1, 1.0 - w0 - w1], axis=1), offset


def bind_gaussians(
    means_world: np.ndarray, meshes: list[LinkMesh | None], link_poses: np.ndarray, *, threshold: float
) -> Binding:
    """Assign each Gaussian to the link whose posed surface is nearest.

    Args:
        means_world: Gaussian centres [N, 3], world frame, metres.
        meshes: each link's surface in its own frame (None: a link without geometry, never bound).
        link_poses: [L, 4, 4] link -> world at the capture configuration (column-vector).
        threshold: largest distance (m) from a link surface at which a Gaussian is still bound.

    Returns:
        The :class:`Binding`; barycentric coordinates and offsets are in each bound link's own frame.
    """
    means_world = np.asarray(means_world, np.float64)
    n = len(means_world)
    best_link = np.full(n, -1, np.int64)
    best_dist = np.full(n, np.inf)
    best_tri = np.full(n, -1, np.int64)
    local_points = np.zeros((n, 3))
    for index, (mesh, pose) in enumerate(zip(meshes, link_poses, strict=True)):
        if mesh is None or len(mesh.faces) == 0:
            continue
        inverse = np.linalg.inv(pose)
        local = means_world @ inverse[:3, :3].T + inverse[:3, 3]
        # Only points near this link's bounding box can bind to it; skip the rest cheaply.
        lo, hi = mesh.vertices.min(0) - threshold, mesh.vertices.max(0) + threshold
        near = np.flatnonzero(((local >= lo) & (local <= hi)).all(1))
        if len(near) == 0:
            continue
        tri, dist = nearest_triangles(local[near], mesh.vertices, mesh.faces)
        better = dist < best_dist[near]
        chosen = near[better]
        best_dist[chosen] = dist[better]
        best_link[chosen] = index
        best_tri[chosen] = tri[better]
        local_points[chosen] = local[chosen]
    bound = best_dist <= threshold
    best_link[~bound] = -1
    best_tri[~bound] = -1
    bary = np.zeros((n, 3))
    offset = np.zeros(n)
    for index, mesh in enumerate(meshes):
        rows = np.flatnonzero(best_link == index)
        if len(rows):
            tris = mesh.vertices[mesh.faces[best_tri[rows]]]
            bary[rows], offset[rows] = plane_binding(local_points[rows], tris)
    return Binding(best_link, best_dist, best_tri, bary, offset, float(threshold))


def _frames_from_normals(normals: np.ndarray) -> np.ndarray:
    """Unit quaternions (w, x, y, z) [N, 4] of rotations taking +z onto each unit normal [N, 3]."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(np.broadcast_to(z, normals.shape), normals)
    w = 1.0 + normals[:, 2]
    quat = np.concatenate([w[:, None], axis], axis=1)
    flipped = w < 1e-9  # normal = -z: a half turn about x
    quat[flipped] = (0.0, 1.0, 0.0, 0.0)
    return quat / np.linalg.norm(quat, axis=1, keepdims=True)


def sample_link_gaussians(
    mesh: LinkMesh,
    count: int,
    rng: np.random.Generator,
    *,
    spacing: float | None = None,
    sh_degree: int = 0,
) -> tuple[Gaussians, np.ndarray]:
    """Gaussians on a link's surface, coloured by its faces (Dr. Robot's initialisation from link meshes).

    Points are area-uniform on the triangles; each Gaussian is a flat disk in the surface (its local z along the
    face normal, thickness a tenth of its radius), radius ``spacing`` (default: the mean spacing of ``count``
    points on the area), opacity 0.9, the face colour as the DC SH coefficient (higher bands zero).

    Args:
        mesh: the surface, link frame, metres.
        count: number of Gaussians (>= 1).
        rng: the random generator (seeded by the caller).
        spacing: disk radius, metres.
        sh_degree: SH degree of the result (0..3).

    Returns:
        (Gaussians in the mesh's frame, source triangle index [count]).
    """
    tris = mesh.vertices[mesh.faces]
    areas = 0.5 * np.linalg.norm(np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]), axis=1)
    total = float(areas.sum())
    face = rng.choice(len(areas), size=count, p=areas / total)
    r1, r2 = rng.random(count), rng.random(count)
    root = np.sqrt(r1)
    bary = np.stack([1 - root, root * (1 - r2), root * r2], axis=1)
    means = np.einsum("nk,nkd->nd", bary, tris[face])
    normals = np.cross(tris[face, 1] - tris[face, 0], tris[face, 2] - tris[face, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    radius = spacing if spacing is not None else float(np.sqrt(total / count))
    sh = np.zeros((count, (sh_degree + 1) ** 2, 3), np.float32)
    sh[:, 0] = rgb_to_sh0(mesh.face_colors[face])
    gaussians = Gaussians(
        means=means,
        quats_wxyz=_frames_from_normals(normals),
        scales=np.tile([radius, radius, radius * 0.1], (count, 1)),
        opacities=np.full(count, 0.9),
        sh=sh,
    )
    return gaussians, face
