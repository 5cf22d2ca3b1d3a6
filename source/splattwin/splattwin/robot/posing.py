"""Posing bound Gaussians: every link's Gaussians carried from its link frame to the world at joint values q.

A rigid link transform ``x -> R x + t`` moves means, turns orientations (``q' = q_R q``) and rotates SH
coefficients band by band (``sh' = D_l^T sh``), the same rule as :mod:`splattwin.geometry.sh_rotation`. The band
matrices are computed here in torch with that module's method (``D_l`` from the basis at fixed directions by a
least-squares solve, ``D_l = (pinv(Y_l(d)) Y_l(R^T d))^T``), so they are differentiable in R and hence in q.

Speed: Gaussians are held sorted by link, so each link is one dense matrix product per quantity
(``[K, K] @ [K, n*3]`` for the SH coefficients, held coefficient-major and written in place into the result; no
per-Gaussian matrices).
Everything per Gaussian is float32.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.geometry.sh_rotation import eval_sh_basis, fibonacci_sphere, sh_basis_terms

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

    terms = sh_basis_terms(directions[..., 0], directions[..., 1], directions[..., 2], degree)
    return torch.stack(terms, dim=-1)


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
    dirs_np = fibonacci_sphere(_FIT_DIRECTIONS)
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


def _linkwise_columns(
    features: torch.Tensor, spans: list[tuple[int, int]], left: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``out[b][:, span_s] = left[b, s] @ features[:, span_s]`` for every link span s, written in place.

    Args:
        features: [F, C] feature-major data (one column per Gaussian, or per Gaussian and colour channel);
            constant, no gradient.
        spans: column ranges of each link.
        left: [B, S, G, F] the per-link linear maps.
        out: [B, G, C] result buffer to reuse, or None.

    Returns:
        [B, G, C]. One wide product per link straight into the result: nothing is concatenated or copied again
        (the SH of 1M degree-3 Gaussians are 192 MB; memory traffic, not arithmetic, sets the time). The
        backward pass gives ``left`` its gradient, ``grad[b][:, span] @ features[:, span]^T``.
    """
    import torch  # noqa: PLC0415

    class LinkwiseColumns(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, left: torch.Tensor) -> torch.Tensor:
            batch, rows = left.shape[0], left.shape[2]
            result = out if out is not None else torch.empty(batch, rows, features.shape[1], dtype=features.dtype)
            for s, (lo, hi) in enumerate(spans):
                for b in range(batch):
                    torch.mm(left[b, s], features[:, lo:hi], out=result[b][:, lo:hi])
            return result

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            batch = grad.shape[0]
            grad_left = torch.empty(batch, len(spans), grad.shape[1], features.shape[0], dtype=grad.dtype)
            for s, (lo, hi) in enumerate(spans):
                for b in range(batch):
                    grad_left[b, s] = grad[b][:, lo:hi] @ features[:, lo:hi].T
            return grad_left

    return LinkwiseColumns.apply(left.contiguous())


def _left_quat_matrices(quats: torch.Tensor) -> torch.Tensor:
    """[..., 4] (w, x, y, z) -> [..., 4, 4] the left-product matrix L with ``L @ q_g = q ⊗ q_g``."""
    import torch  # noqa: PLC0415

    w, x, y, z = quats.unbind(-1)
    left = torch.stack(
        [
            torch.stack([w, -x, -y, -z], -1),
            torch.stack([x, w, -z, y], -1),
            torch.stack([y, z, w, -x], -1),
            torch.stack([z, -y, x, w], -1),
        ],
        -2,
    )
    return left


def bound_gaussians_from_links(per_link: list[Gaussians | None]) -> dict[str, Any] | None:
    """Pack per-link Gaussians (link frames; None where a link has none) into the sorted torch layout posing uses.

    Returns:
        None when no link has Gaussians; else ``means`` [N, 3], ``quats_wxyz`` [N, 4], ``pose_features`` [8, N]
        (feature-major x, y, z, 1, qw, qx, qy, qz), ``scales`` [N, 3],
        ``opacities`` [N], ``sh_km`` [K, N*3] (coefficient-major, for one wide matrix product per link),
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
    sh_km = np.zeros((k, start, 3), np.float32)
    for (_, lo, hi), (_, g) in zip(slices, present, strict=True):
        sh_km[: g.sh.shape[1], lo:hi] = g.sh.transpose(1, 0, 2)
    means = np.concatenate([g.means for _, g in present])
    quats = np.concatenate([g.quats_wxyz for _, g in present])
    features = np.concatenate([means.T, np.ones((1, start), np.float32), quats.T]).astype(np.float32)
    return {
        "means": torch.from_numpy(means),
        "quats_wxyz": torch.from_numpy(quats),
        "pose_features": torch.from_numpy(np.ascontiguousarray(features)),
        "scales": torch.from_numpy(np.concatenate([g.scales for _, g in present])),
        "opacities": torch.from_numpy(np.concatenate([g.opacities for _, g in present])),
        "sh_km": torch.from_numpy(sh_km.reshape(k, start * 3)),
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


def pose_bound_gaussians(
    bound: dict[str, Any], link_poses: torch.Tensor, *, out: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """World-frame Gaussians at the given link poses.

    Args:
        bound: packed link-frame Gaussians (:func:`bound_gaussians_from_links`).
        link_poses: [B, L, 4, 4] link -> world (column-vector, metres), e.g. ``robot.link_poses(q)``.
        out: the result of an earlier call with the same B; its buffers (``pose_km``, ``sh_km``: 220 MB for 1M
            degree-3 Gaussians) are reused, so a render loop does not allocate them per frame; that earlier
            result is overwritten.

    Returns:
        ``means`` [B, N, 3] (world, m), ``quats_wxyz`` [B, N, 4], ``scales`` [N, 3], ``opacities`` [N],
        ``sh`` [B, N, K, 3], ``link_index`` [N]. ``means``, ``quats_wxyz`` and ``sh`` are strided views of the
        feature-major results ``pose_km`` [B, 7, N] and ``sh_km`` [B, K, N*3] (call ``.contiguous()`` where a
        kernel needs packed rows).
        float32, differentiable in ``link_poses`` (the stored Gaussians are constants: no gradient to them).
    """
    import torch  # noqa: PLC0415

    poses = link_poses.to(torch.float32)
    batch = poses.shape[0]
    links = [link for link, _, _ in bound["slices"]]
    spans = [(lo, hi) for _, lo, hi in bound["slices"]]
    posed = poses[:, links]  # [B, S, 4, 4]
    rotations = posed[..., :3, :3]
    # One map per link on the columns (x, y, z, 1, qw, qx, qy, qz): [[R, t, 0], [0, 0, L(q_link)]] -> [7, 8].
    left = torch.zeros(batch, len(links), 7, 8, dtype=torch.float32)
    left[..., :3, :4] = posed[..., :3, :]
    left[..., 3:, 4:] = _left_quat_matrices(matrix_to_quat_wxyz_torch(rotations))
    buffers = out or {}
    frames = _linkwise_columns(bound["pose_features"], spans, left, buffers.get("pose_km"))  # [B, 7, N]
    degree = bound["sh_degree"]
    k = (degree + 1) ** 2
    n = len(bound["scales"])
    if degree == 0:  # nothing turns; a broadcast view, no copy
        sh_km = bound["sh_km"].expand(batch, -1, -1)
    else:
        blocks = sh_rotation_blocks_torch(rotations, degree)  # [B, S, K, K], row-vector form c' = c @ D
        sh_spans = [(3 * lo, 3 * hi) for lo, hi in spans]
        sh_km = _linkwise_columns(bound["sh_km"], sh_spans, blocks.transpose(-1, -2), buffers.get("sh_km"))
    return {
        "means": frames[:, :3].transpose(1, 2),
        "quats_wxyz": frames[:, 3:].transpose(1, 2),
        "scales": bound["scales"],
        "opacities": bound["opacities"],
        "sh": sh_km.view(batch, k, n, 3).permute(0, 2, 1, 3),
        "pose_km": frames,
        "sh_km": sh_km,
        "link_index": bound["link_index"],
    }
