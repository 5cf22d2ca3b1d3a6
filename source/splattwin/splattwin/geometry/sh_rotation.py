"""Rotation of real spherical-harmonic coefficients (degree <= 3), so view-dependent colour turns with a scene.

The basis is the one 3DGS, gsplat and the USD ParticleField schema use (band l, then m = -l..l, with the
signs and constants of the reference CUDA rasterizer). Band-l harmonics span a space closed under rotation, so
``Y_l(R^T d) = D_l(R) Y_l(d)`` for a (2l+1)x(2l+1) matrix; it is found exactly by a least-squares solve on a
fixed set of directions, which avoids hand-coding Wigner matrices for this particular sign convention.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["eval_sh_basis", "fibonacci_sphere", "rotate_sh", "sh_basis_terms", "sh_rotation_matrices"]

_C0 = 0.28209479177387814
_C1 = 0.4886025119029199
_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def sh_basis_terms(x: Any, y: Any, z: Any, degree: int) -> list[Any]:
    """The (degree + 1)^2 real SH basis functions at direction components x, y, z, as a list.

    Plain arithmetic only, so it serves numpy arrays and torch tensors alike (the robot's differentiable SH
    rotation uses it with torch); stack the list on the last axis for [..., (degree + 1)^2].
    """
    out = [x * 0 + _C0]
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
    return out


def eval_sh_basis(directions: np.ndarray, degree: int) -> np.ndarray:
    """Real SH basis values at unit directions: [..., 3] -> [..., (degree + 1)^2] (float64)."""
    d = np.asarray(directions, dtype=np.float64)
    return np.stack(sh_basis_terms(d[..., 0], d[..., 1], d[..., 2], degree), axis=-1)


def fibonacci_sphere(n: int) -> np.ndarray:
    """n nearly uniform unit directions [n, 3] (the fixed fit directions of :func:`sh_rotation_matrices`)."""
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], -1)


def sh_rotation_matrices(rotation: np.ndarray, degree: int) -> list[np.ndarray]:
    """Per-band matrices D_l [2l+1, 2l+1], l = 1..degree, with ``Y_l(R^T d) = D_l Y_l(d)``."""
    rotation = np.asarray(rotation, dtype=np.float64)
    dirs = fibonacci_sphere(64)
    before = eval_sh_basis(dirs, degree)  # Y(d)
    after = eval_sh_basis(dirs @ rotation, degree)  # rows are R^T d
    mats = []
    for band in range(1, degree + 1):
        lo, hi = band * band, (band + 1) * (band + 1)
        # Solve D @ before[:, lo:hi].T = after[:, lo:hi].T in the least-squares sense (exact: closed band).
        sol, *_ = np.linalg.lstsq(before[:, lo:hi], after[:, lo:hi], rcond=None)
        mats.append(sol.T)
    return mats


def rotate_sh(sh: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotate SH coefficients with their Gaussians.

    Args:
        sh: coefficients [N, K, 3], K = (degree + 1)^2, basis order as in the module docstring.
        rotation: the rotation R [3, 3] applied to the scene.

    Returns:
        Coefficients [N, K, 3] (same dtype) whose colour towards ``R d`` equals the input's towards ``d``.
    """
    sh = np.asarray(sh)
    if sh.ndim != 3 or sh.shape[1] not in (1, 4, 9, 16):
        raise ValueError(f"sh must have shape [N, K, C] with K = (degree+1)^2, degree 0..3; got {sh.shape}")
    degree = int(round(np.sqrt(sh.shape[1]))) - 1
    out = sh.copy()
    for band, mat in enumerate(sh_rotation_matrices(rotation, degree), start=1):
        lo, hi = band * band, (band + 1) * (band + 1)
        # c'(d) = c(R^T d) = sh^T D Y(d)  =>  sh' = D^T sh within the band.
        out[:, lo:hi] = np.einsum("ij,nic->njc", mat.astype(sh.dtype), sh[:, lo:hi])
    return out
