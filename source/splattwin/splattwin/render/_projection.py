"""Differentiable per-Gaussian stages in torch: EWA projection and spherical-harmonics colours.

These run once per Gaussian (O(N), vectorised), so torch autograd gives their backward pass; only the per-pixel
compositing, the expensive part, is a hand-written kernel (:mod:`splattwin.render._cpu_kernels`). The math is
gsplat's pinhole projection (``fully_fused_projection`` with ``packed=False``): the camera-frame covariance
``R Sigma R^T`` is mapped through the perspective Jacobian evaluated at the mean, with the mean's direction clamped
to 1.3x the field of view for the Jacobian only, then ``eps2d`` (0.3 px^2) is added to the 2D covariance as a
low-pass filter; the radius is 3 sigma of the larger eigenvalue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["Projection", "eval_sh_colors", "project_gaussians", "quat_scale_to_covar"]

# gsplat clamps the direction of a mean outside the view to this multiple of the half field of view when it builds
# the projection Jacobian, so Gaussians far off-screen do not get huge 2D covariances.
_FOV_CLAMP_MARGIN = 0.3


@dataclass
class Projection:
    """Projected Gaussians of C cameras (torch tensors, differentiable where noted).

    Attributes:
        means2d: [C, N, 2] pixel coordinates of the means (differentiable).
        conics: [C, N, 3] inverse 2D covariance (a, b, c) of [[a, b], [b, c]], px^-2 (differentiable).
        depths: [C, N] camera-frame z of the means [m] (differentiable).
        radii: [C, N] int32 pixel radius, 0 for a culled Gaussian (no gradient).
        compensations: [C, N] sqrt(det(cov2d) / det(cov2d + eps2d)), for the antialiased mode (differentiable).
    """

    means2d: torch.Tensor
    conics: torch.Tensor
    depths: torch.Tensor
    radii: torch.Tensor
    compensations: torch.Tensor


def quat_scale_to_covar(quats_wxyz: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """3D covariances R S S R^T: quats_wxyz [N, 4] (normalised here), scales [N, 3] linear -> [N, 3, 3]."""
    from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: PLC0415

    m = quat_wxyz_to_matrix(quats_wxyz) * scales[..., None, :]
    return m @ m.transpose(-1, -2)


def project_gaussians(
    means: torch.Tensor,
    quats_wxyz: torch.Tensor,
    scales: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    eps2d: float = 0.3,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    radius_clip: float = 0.0,
) -> Projection:
    """Project 3D Gaussians into C pinhole cameras (gsplat semantics, see the module docstring).

    Args:
        means: world frame [m], shape [N, 3].
        quats_wxyz: rotations, shape [N, 4] (need not be unit).
        scales: linear standard deviations [m], shape [N, 3].
        viewmats: world-to-camera transforms (OpenCV camera: x right, y down, z forward), shape [C, 4, 4].
        Ks: intrinsics [px], shape [C, 3, 3].
        width, height: image size [px].
        eps2d: added to the 2D covariance's diagonal [px^2] (the low-pass filter).
        near_plane, far_plane: Gaussians whose depth is outside (near, far) [m] are culled.
        radius_clip: Gaussians whose radius is at most this [px] are culled.

    Returns:
        The :class:`Projection`.
    """
    import torch  # noqa: PLC0415

    rotation = viewmats[:, :3, :3]  # [C, 3, 3]
    translation = viewmats[:, :3, 3]  # [C, 3]
    means_c = torch.einsum("cij,nj->cni", rotation, means) + translation[:, None, :]  # [C, N, 3]
    covars = quat_scale_to_covar(quats_wxyz, scales)  # [N, 3, 3]
    covars_c = torch.einsum("cij,njk,clk->cnil", rotation, covars, rotation)  # [C, N, 3, 3]

    fx, fy = Ks[:, 0, 0, None], Ks[:, 1, 1, None]  # [C, 1]
    cx, cy = Ks[:, 0, 2, None], Ks[:, 1, 2, None]
    x, y, z = means_c.unbind(-1)
    in_depth = (z > near_plane) & (z < far_plane)
    z_safe = torch.where(in_depth, z, torch.ones_like(z))  # keeps culled entries finite (NaN-free gradients)
    tan_fovx = 0.5 * width / fx
    tan_fovy = 0.5 * height / fy
    lim_x_pos = (width - cx) / fx + _FOV_CLAMP_MARGIN * tan_fovx
    lim_x_neg = cx / fx + _FOV_CLAMP_MARGIN * tan_fovx
    lim_y_pos = (height - cy) / fy + _FOV_CLAMP_MARGIN * tan_fovy
    lim_y_neg = cy / fy + _FOV_CLAMP_MARGIN * tan_fovy
    x_clamped = z_safe * torch.minimum(torch.maximum(x / z_safe, -lim_x_neg), lim_x_pos)
    y_clamped = z_safe * torch.minimum(torch.maximum(y / z_safe, -lim_y_neg), lim_y_pos)
    zeros = torch.zeros_like(z_safe)
    jacobian = torch.stack(
        [fx / z_safe, zeros, -fx * x_clamped / z_safe**2, zeros, fy / z_safe, -fy * y_clamped / z_safe**2], dim=-1
    ).reshape(*z.shape, 2, 3)
    cov2d = jacobian @ covars_c @ jacobian.transpose(-1, -2)  # [C, N, 2, 2]
    means2d = torch.stack([fx * x / z_safe + cx, fy * y / z_safe + cy], dim=-1)

    a = cov2d[..., 0, 0]
    b = cov2d[..., 0, 1]
    c = cov2d[..., 1, 1]
    det_raw = a * c - b * b
    a = a + eps2d
    c = c + eps2d
    det = a * c - b * b
    valid = in_depth & (det > 0)
    det_safe = torch.where(valid, det, torch.ones_like(det))
    conics = torch.stack([c / det_safe, -b / det_safe, a / det_safe], dim=-1)
    compensations = torch.sqrt(torch.clamp(det_raw / det_safe, min=0.0))

    with torch.no_grad():
        half_trace = 0.5 * (a + c)
        big_eigen = half_trace + torch.sqrt(torch.clamp(half_trace**2 - det, min=0.01))
        radius = torch.ceil(3.0 * torch.sqrt(big_eigen))
        mx, my = means2d[..., 0], means2d[..., 1]
        inside = (mx + radius > 0) & (mx - radius < width) & (my + radius > 0) & (my - radius < height)
        keep = valid & inside & (radius > radius_clip) & torch.isfinite(radius)
        radii = torch.where(keep, radius, torch.zeros_like(radius)).to(torch.int32)
    return Projection(means2d=means2d, conics=conics, depths=z, radii=radii, compensations=compensations)


def eval_sh_colors(degree: int, directions: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Colour of real SH coefficients seen along directions (3DGS / gsplat basis), before the +0.5 offset.

    Args:
        degree: SH degree 0..3 to use (coefficients beyond (degree+1)^2 are ignored).
        directions: viewing directions camera -> Gaussian (any length, normalised here), shape [..., 3].
        coeffs: SH coefficients, shape [..., K, 3] with K >= (degree+1)^2.

    Returns:
        [..., 3] sum_k coeffs[k] Y_k(direction).
    """
    import torch  # noqa: PLC0415

    from splattwin.geometry.sh_rotation import sh_basis_terms  # noqa: PLC0415

    count = (degree + 1) ** 2
    d = torch.nn.functional.normalize(directions, dim=-1)
    # The one real-SH basis of the project (3DGS / gsplat sign convention), shared with the SH rotation.
    terms = sh_basis_terms(*d.unbind(-1), degree)
    basis = torch.stack(terms, dim=-1)  # [..., K]
    # one batched (1 x K) @ (K x 3) product per Gaussian: a single kernel forward and backward
    return (basis[..., None, :] @ coeffs[..., :count, :]).squeeze(-2)
