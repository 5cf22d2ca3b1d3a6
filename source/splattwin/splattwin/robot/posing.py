"""Posing bound Gaussians: every link's Gaussians carried from its link frame to the world at joint values q.

A rigid link transform ``x -> R x + t`` moves means, turns orientations (``q' = q_R q``) and rotates SH
coefficients band by band (``sh' = D_l^T sh``), the same rule as :mod:`splattwin.geometry.sh_rotation`. The band
matrices are computed here in torch with that module's method (``D_l`` from the basis at fixed directions by a
least-squares solve, ``D_l = (pinv(Y_l(d)) Y_l(R^T d))^T``), so they are differentiable in R and hence in q.

Speed: Gaussians are held sorted by link, so each link is one dense matrix product per quantity
(``[n*3, K] @ [K, K]`` for the SH coefficients, no per-Gaussian matrices). Orientation products are float32.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.geometry.sh_rotation import _C0, _C1, _C2, _C3, _fibonacci_sphere, eval_sh_basis

if TYPE_CHECKING:
    import torch
    from pxr import Usd

    from splattwin.gaussians import Gaussians
    from splattwin.robot.usd_robot import RobotSpec

__all__ = [
    "bound_gaussians_from_links",
    "matrix_to_quat_wxyz_torch",
    "pose_bound_gaussians",
    "read_bound_gaussians",
    "sh_basis_torch",
    "sh_rotation_blocks_torch",
]

_FIT_DIRECTIONS = 64


def sh_basis_torch(directions: torch.Tensor, degree: int) -> torch.Tensor:
    """Real SH basis at unit directions [..., 3] -> [..., (degree+1)^2], as :func:`eval_sh_basis`, in torch."""
    import torch  # noqa: PLC0415

    x, y, z = directions[..., 0], directions[..., 1], directions[..., 2]
    out = [torch.full_like(x, _C0)]
    if degree >= 1:
        out += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [_C2[0] * x * y, _C2[1] * y * z, _C2[2] * (2 * zz - xx - yy), _C2[3] * x * z, _C2[4] * (xx - yy)]
    if degree >= 3:
        out += [
            _C3[0] * y * (3 * xx - yy),
            _C3[1] * x * y * z,
            _C3[2] * y * (4 * zz - xx - yy),
            _C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            _C3[4] * x * (4 * zz - xx - yy),
            _C3[5] * z * (xx - yy),
            _C3[6] * x * (xx - 3 * yy),
        ]
    return torch.stack(out, dim=-1)


def sh_rotation_blocks_torch(rotation: torch.Tensor, degree: int) -> torch.Tensor:
    """Block-diagonal SH rotation [..., K, K] for rotations [..., 3, 3]: row-vector coefficients ``c' = c @ D``.

    ``D`` holds 1 for band 0 and ``D_l`` (``Y_l(R^T d) = D_l Y_l(d)``) for bands 1..degree, so ``c @ D`` is
    ``D_l^T c`` band by band: the colour towards ``R d`` after equals the colour towards ``d`` before.
    """
    import torch  # noqa: PLC0415

    k = (degree + 1) ** 2
    out = torch.zeros(*rotation.shape[:-2], k, k, dtype=rotation.dtype, device=rotation.device)
    out[..., 0, 0] = 1.0
    if degree == 0:
        return out
    dirs_np = _fibonacci_sphere(_FIT_DIRECTIONS)
    before = eval_sh_basis(dirs_np, degree)
    dirs = torch.as_tensor(dirs_np, dtype=rotation.dtype, device=rotation.device)
    after = sh_basis_torch(dirs @ rotation, degree)  # rows are R^T d: [..., 64, K]
    for band in range(1, degree + 1):
        lo, hi = band * band, (band + 1) * (band + 1)
        pinv = torch.as_tensor(np.linalg.pinv(before[:, lo:hi]), dtype=rotation.dtype, device=rotation.device)
        transposed = pinv @ after[..., lo:hi]  # the least-squares solution is D_l^T
        out[..., lo:hi, lo:hi] = transposed.transpose(-1, -2)  # c' = D_l^T c  <=>  row c' = c @ D_l
    return out


def matrix_to_quat_wxyz_torch(rotation: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (w, x, y, z) [..., 4] of rotation matrices [..., 3, 3] (differentiable, any rotation)."""
    import torch  # noqa: PLC0415

    m = rotation
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    q_abs = torch.sqrt(
        torch.clamp(
            torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1),
            min=1e-12,
        )
    )
    candidates = torch.stack(
        [
            torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    ) / (2.0 * q_abs.clamp(min=0.1)[..., None])
    # The candidate built on the largest |component| is the well-conditioned one.
    pick = q_abs.argmax(dim=-1)
    quat = torch.gather(candidates, -2, pick[..., None, None].expand(*pick.shape, 1, 4)).squeeze(-2)
    return quat / quat.norm(dim=-1, keepdim=True)


def _quat_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    import torch  # noqa: PLC0415

    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def bound_gaussians_from_links(per_link: list[Gaussians | None]) -> dict[str, Any] | None:
    """Pack per-link Gaussians (link frames; None where a link has none) into the sorted torch layout posing uses.

    Returns:
        None when no link has Gaussians; else ``means`` [N, 3], ``quats_wxyz`` [N, 4], ``scales`` [N, 3],
        ``opacities`` [N], ``sh_cm`` [N, 3, K] (channel-major, for one matrix product per link),
        ``link_index`` [N], ``slices`` [(link, start, stop)], ``sh_degree`` (all float32 torch tensors).
    """
    import torch  # noqa: PLC0415

    present = [(i, g) for i, g in enumerate(per_link) if g is not None and len(g)]
    if not present:
        return None
    degree = max(g.sh_degree for _, g in present)
    k = (degree + 1) ** 2
    slices, start = [], 0
    for i, g in present:
        slices.append((i, start, start + len(g)))
        start += len(g)
    sh_cm = np.zeros((start, 3, k), np.float32)
    for (_, lo, hi), (_, g) in zip(slices, present, strict=True):
        sh_cm[lo:hi, :, : g.sh.shape[1]] = g.sh.transpose(0, 2, 1)
    return {
        "means": torch.from_numpy(np.concatenate([g.means for _, g in present])),
        "quats_wxyz": torch.from_numpy(np.concatenate([g.quats_wxyz for _, g in present])),
        "scales": torch.from_numpy(np.concatenate([g.scales for _, g in present])),
        "opacities": torch.from_numpy(np.concatenate([g.opacities for _, g in present])),
        "sh_cm": torch.from_numpy(sh_cm),
        "link_index": torch.from_numpy(np.concatenate([np.full(len(g), i, np.int64) for i, g in present])),
        "slices": slices,
        "sh_degree": degree,
    }


def read_bound_gaussians(stage: Usd.Stage, spec: RobotSpec) -> dict[str, Any] | None:
    """Each link's ``Gaussians`` child (link frame) packed by :func:`bound_gaussians_from_links`."""
    from splattwin.usd.splats import read_gaussians_prim  # noqa: PLC0415

    per_link = []
    for path in spec.link_paths:
        prim = stage.GetPrimAtPath(f"{path}/Gaussians")
        per_link.append(read_gaussians_prim(prim) if prim else None)
    return bound_gaussians_from_links(per_link)


def pose_bound_gaussians(bound: dict[str, Any], link_poses: torch.Tensor) -> dict[str, torch.Tensor]:
    """World-frame Gaussians at the given link poses.

    Args:
        bound: packed link-frame Gaussians (:func:`bound_gaussians_from_links`).
        link_poses: [B, L, 4, 4] link -> world (column-vector, metres), e.g. ``robot.link_poses(q)``.

    Returns:
        ``means`` [B, N, 3] (world, m), ``quats_wxyz`` [B, N, 4], ``scales`` [N, 3], ``opacities`` [N],
        ``sh`` [B, N, K, 3] (a transposed view of a channel-major result), ``link_index`` [N]. float32,
        differentiable in ``link_poses`` (no gradient to the stored Gaussians, which are constants here).
    """
    import torch  # noqa: PLC0415

    poses = link_poses.to(torch.float32)
    rotations = poses[..., :3, :3]
    translations = poses[..., :3, 3]
    link_quats = matrix_to_quat_wxyz_torch(rotations)  # [B, L, 4]
    degree = bound["sh_degree"]
    k = (degree + 1) ** 2
    links = [i for i, _, _ in bound["slices"]]
    blocks = sh_rotation_blocks_torch(rotations[:, links], degree) if degree > 0 else None  # [B, S, K, K]
    means, quats, shs = [], [], []
    batch = poses.shape[0]
    for s, (link, lo, hi) in enumerate(bound["slices"]):
        rot, trans = rotations[:, link], translations[:, link]
        means.append(torch.matmul(bound["means"][lo:hi], rot.transpose(-1, -2)) + trans[:, None, :])
        quats.append(_quat_multiply(link_quats[:, link, None, :], bound["quats_wxyz"][lo:hi]))
        coeffs = bound["sh_cm"][lo:hi].reshape(-1, k)
        if blocks is None:
            shs.append(coeffs.expand(batch, -1, -1).reshape(batch, hi - lo, 3, k))
        else:
            shs.append(torch.matmul(coeffs, blocks[:, s]).reshape(batch, hi - lo, 3, k))
    return {
        "means": torch.cat(means, dim=1),
        "quats_wxyz": torch.cat(quats, dim=1),
        "scales": bound["scales"],
        "opacities": bound["opacities"],
        "sh": torch.cat(shs, dim=1).transpose(-1, -2),
        "link_index": bound["link_index"],
    }
