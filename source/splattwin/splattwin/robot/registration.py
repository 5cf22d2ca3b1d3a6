"""Registration of the robot to the scan: the base pose by point-to-plane ICP of link surfaces against Gaussians.

The model is a dense area-uniform sample of the link surfaces (with face normals) posed at the capture
configuration in the robot's base frame; the data are the Gaussian means in the twin's world frame. Each iteration
takes the data into the base frame with the current estimate, pairs every point with its nearest model sample
(scipy cKDTree, built once), keeps pairs closer than a trimming distance that shrinks with the fit (so a table or
wall under the robot stops pulling once the robot is found), and solves the linearised point-to-plane problem for
a 6-DoF increment (Chen and Medioni 1992; Low 2004). Point-to-plane against dense samples is nearly free of the
sampling bias point-to-point ICP has when both sides are different random samples of one surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splattwin.robot.usd_robot import LinkMesh

__all__ = ["BaseFit", "fit_base_pose", "surface_samples"]


@dataclass
class BaseFit:
    """Result of :func:`fit_base_pose`.

    Attributes:
        base_world: fitted base pose [4, 4] (base -> world, column-vector, metres).
        rmse: root-mean-square point-to-surface (plane) distance of the inlier pairs, metres.
        inliers: number of Gaussians used in the last iteration.
        iterations: iterations run.
        trim: trimming distance of the last iteration, metres.
    """

    base_world: np.ndarray
    rmse: float
    inliers: int
    iterations: int
    trim: float


def surface_samples(
    meshes: list[LinkMesh | None], link_poses: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Area-uniform points and unit normals [count, 3] on the posed link surfaces (frame of ``link_poses``)."""
    tris, weights = [], []
    for mesh, pose in zip(meshes, link_poses, strict=True):
        if mesh is None:
            continue
        posed = mesh.vertices @ pose[:3, :3].T + pose[:3, 3]
        t = posed[mesh.faces]
        tris.append(t)
        weights.append(0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1))
    all_tris = np.concatenate(tris)
    area = np.concatenate(weights)
    face = rng.choice(len(area), size=count, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(count)), rng.random(count)
    bary = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)
    points = np.einsum("nk,nkd->nd", bary, all_tris[face])
    normals = np.cross(all_tris[face, 1] - all_tris[face, 0], all_tris[face, 2] - all_tris[face, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    return points, normals


def _exp_se3(xi: np.ndarray) -> np.ndarray:
    omega, v = xi[:3], xi[3:]
    theta = np.linalg.norm(omega)
    k = np.array([[0, -omega[2], omega[1]], [omega[2], 0, -omega[0]], [-omega[1], omega[0], 0]])
    if theta < 1e-12:
        rot = np.eye(3) + k
    else:
        rot = np.eye(3) + np.sin(theta) / theta * k + (1 - np.cos(theta)) / theta**2 * k @ k
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = v
    return out


def fit_base_pose(
    means_world: np.ndarray,
    model_points: np.ndarray,
    model_normals: np.ndarray,
    initial_base: np.ndarray,
    *,
    initial_trim: float = 0.08,
    min_trim: float = 0.005,
    max_iterations: int = 60,
    tolerance: float = 1e-7,
) -> BaseFit:
    """Fit the robot base pose so the posed link surfaces meet the Gaussian means.

    Args:
        means_world: Gaussian centres [N, 3], world frame, metres (may include scenery around the robot).
        model_points: link-surface samples [M, 3] in the robot base frame at the capture configuration, metres.
        model_normals: their unit normals [M, 3] (base frame).
        initial_base: starting base pose [4, 4] (base -> world), a coarse guess (centimetres, degrees off).
        initial_trim: pairs farther apart than this (m) are ignored at first; the trim then follows the fit
            (three times the inlier RMSE), never below ``min_trim``.
        max_iterations: iteration cap.
        tolerance: stop when the increment's rotation (rad) and translation (m) both fall below it.

    Returns:
        The :class:`BaseFit`.
    """
    from scipy.spatial import cKDTree  # noqa: PLC0415

    tree = cKDTree(model_points)
    world_to_base = np.linalg.inv(initial_base)
    trim = initial_trim
    rmse, inliers, iteration = np.inf, 0, 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        x = means_world @ world_to_base[:3, :3].T + world_to_base[:3, 3]
        dist, idx = tree.query(x, distance_upper_bound=trim)
        keep = np.isfinite(dist)
        inliers = int(keep.sum())
        if inliers < 6:
            break
        xk, m, n = x[keep], model_points[idx[keep]], model_normals[idx[keep]]
        residual = ((xk - m) * n).sum(1)
        jac = np.concatenate([np.cross(xk, n), n], axis=1)  # d residual / d (omega, v)
        xi = np.linalg.lstsq(jac, -residual, rcond=None)[0]
        world_to_base = _exp_se3(xi) @ world_to_base
        rmse = float(np.sqrt(np.mean(residual**2)))
        trim = max(min_trim, min(trim, 3.0 * float(np.sqrt(np.mean(dist[keep] ** 2)))))
        if np.linalg.norm(xi[:3]) < tolerance and np.linalg.norm(xi[3:]) < tolerance:
            break
    # Final residual at the final pose.
    x = means_world @ world_to_base[:3, :3].T + world_to_base[:3, 3]
    dist, idx = tree.query(x, distance_upper_bound=trim)
    keep = np.isfinite(dist)
    if keep.any():
        rmse = float(np.sqrt(np.mean((((x[keep] - model_points[idx[keep]]) * model_normals[idx[keep]]).sum(1)) ** 2)))
        inliers = int(keep.sum())
    return BaseFit(np.linalg.inv(world_to_base), rmse, inliers, iteration, float(trim))
