"""Splats of flat discs over a known mesh: the ground truth of the surface-extraction tests and benchmark.

A reconstructed splat of an opaque object is, to first order, a skin of flat Gaussians lying on its surface
(2DGS makes that exact). :func:`discs_on_mesh` builds one: ``count`` discs centred on points sampled uniformly by
area, each in the tangent plane of its face (one scale ~ 0 along the normal), with a random in-plane rotation.
"""

from __future__ import annotations

import numpy as np
import trimesh

from splattwin.gaussians import Gaussians, rgb_to_sh0
from splattwin.geometry.transforms import matrix_to_quat_wxyz

__all__ = ["discs_on_mesh"]


def discs_on_mesh(
    mesh: trimesh.Trimesh,
    count: int,
    *,
    radius_m: tuple[float, float] = (0.001, 0.002),
    thickness_m: float = 1e-5,
    opacity: float = 0.9,
    rgb: tuple[float, float, float] = (0.7, 0.5, 0.3),
    seed: int = 0,
) -> Gaussians:
    """``count`` flat Gaussian discs on the surface of ``mesh``.

    Args:
        mesh: vertices [V, 3] in metres, faces [F, 3].
        count: number of discs.
        radius_m: range of the discs' in-plane standard deviations [m], drawn uniformly per disc and axis.
        thickness_m: standard deviation along the face normal [m].
        opacity: every disc's opacity.
        rgb: every disc's colour.
        seed: random seed (sampling, radii and in-plane rotation).

    Returns:
        Gaussians [count] in the mesh's frame, SH degree 0.
    """
    rng = np.random.default_rng(seed)
    points, face_index = trimesh.sample.sample_surface(mesh, count, seed=int(rng.integers(2**31)))
    normals = np.asarray(mesh.face_normals, dtype=np.float64)[face_index]
    helper = np.where(np.abs(normals[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    t1 = np.cross(normals, helper)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(normals, t1)
    angle = rng.uniform(0.0, 2.0 * np.pi, count)[:, None]
    u = np.cos(angle) * t1 + np.sin(angle) * t2
    v = np.cross(normals, u)
    rotation = np.stack([u, v, normals], axis=-1)  # columns: the disc's local x, y, z (z = normal)
    scales = np.column_stack(
        [rng.uniform(*radius_m, count), rng.uniform(*radius_m, count), np.full(count, thickness_m)]
    )
    sh = np.broadcast_to(rgb_to_sh0(np.asarray(rgb, dtype=np.float32)), (count, 3))[:, None, :]
    return Gaussians(
        means=points,
        quats_wxyz=matrix_to_quat_wxyz(rotation),
        scales=scales,
        opacities=np.full(count, opacity),
        sh=sh,
    )
