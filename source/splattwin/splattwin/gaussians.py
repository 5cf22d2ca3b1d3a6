"""The in-memory Gaussian set shared by every module (structure of arrays).

Conventions (the same as ``UsdVol.ParticleField3DGaussianSplat``; file encodings such as log scales, logit
opacities or (i,j,k,real) quaternions are converted in :mod:`splattwin.io` and :mod:`splattwin.usd` only):

- ``means``: [N, 3] float32, metres, in the frame of the prim that holds them.
- ``quats_wxyz``: [N, 4] float32 unit quaternions, real part first, rotating the kernel's local axes.
- ``scales``: [N, 3] float32, linear standard deviations along the local axes, metres, > 0.
- ``opacities``: [N] float32, linear, in [0, 1].
- ``sh``: [N, K, 3] float32, K = (degree + 1)^2 real spherical-harmonic coefficients per RGB channel,
  coefficient-major, in the 3DGS / gsplat basis order (band l = 0..degree, within a band m = -l..l).
  The colour seen from direction d is ``0.5 + sum_k sh[k] * Y_k(d)``, clipped at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splattwin.errors import InputError

__all__ = ["SH_C0", "Gaussians", "num_sh_coeffs", "rgb_to_sh0", "sh0_to_rgb", "sh_degree_from_coeffs"]

SH_C0 = 0.28209479177387814
"""Y_0^0, the constant band of the real spherical harmonics: 1 / (2 sqrt(pi))."""

_QUAT_NORM_EPS = 1e-8


def num_sh_coeffs(degree: int) -> int:
    """Number of SH coefficients per channel for a degree: (degree + 1)^2."""
    if degree not in (0, 1, 2, 3):
        raise ValueError(f"sh degree must be 0, 1, 2 or 3, got {degree}")
    return (degree + 1) ** 2


def sh_degree_from_coeffs(num_coeffs: int) -> int:
    """Inverse of :func:`num_sh_coeffs`; raises ValueError for a count that is not (d+1)^2 with d <= 3."""
    for degree in range(4):
        if (degree + 1) ** 2 == num_coeffs:
            return degree
    raise ValueError(f"{num_coeffs} SH coefficients per channel is not (degree+1)^2 for a degree 0..3")


def rgb_to_sh0(rgb: np.ndarray) -> np.ndarray:
    """DC SH coefficient giving a view-independent colour: rgb [..., 3] in [0, 1] -> sh0 [..., 3]."""
    return (np.asarray(rgb, dtype=np.float32) - 0.5) / SH_C0


def sh0_to_rgb(sh0: np.ndarray) -> np.ndarray:
    """View-independent colour of the DC coefficient, clipped to [0, 1]: sh0 [..., 3] -> rgb [..., 3]."""
    return np.clip(0.5 + SH_C0 * np.asarray(sh0, dtype=np.float32), 0.0, 1.0)


@dataclass(eq=False)
class Gaussians:
    """A set of 3D Gaussians as a structure of arrays; see the module docstring for the conventions.

    Construct with arrays of any float dtype; they are stored as contiguous float32. Call :meth:`validate`
    on data read from outside (files, user arrays) before using it.
    """

    means: np.ndarray
    quats_wxyz: np.ndarray
    scales: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray

    def __post_init__(self) -> None:
        self.means = np.ascontiguousarray(self.means, dtype=np.float32)
        self.quats_wxyz = np.ascontiguousarray(self.quats_wxyz, dtype=np.float32)
        self.scales = np.ascontiguousarray(self.scales, dtype=np.float32)
        self.opacities = np.ascontiguousarray(self.opacities, dtype=np.float32)
        self.sh = np.ascontiguousarray(self.sh, dtype=np.float32)
        n = self.means.shape[0] if self.means.ndim == 2 else -1
        expected = {
            "means": (self.means, (n, 3)),
            "quats_wxyz": (self.quats_wxyz, (n, 4)),
            "scales": (self.scales, (n, 3)),
            "opacities": (self.opacities, (n,)),
        }
        for name, (array, shape) in expected.items():
            if array.shape != shape:
                raise ValueError(f"Gaussians.{name} must have shape {shape} (N={n}), got {array.shape}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"Gaussians.sh must have shape (N, K, 3) with N={n}, got {self.sh.shape}")
        sh_degree_from_coeffs(self.sh.shape[1])

    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def sh_degree(self) -> int:
        """Spherical-harmonics degree, 0..3."""
        return sh_degree_from_coeffs(self.sh.shape[1])

    @property
    def colors(self) -> np.ndarray:
        """View-independent RGB of each Gaussian in [0, 1], shape [N, 3] (from the DC coefficient)."""
        return sh0_to_rgb(self.sh[:, 0, :])

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(a.nbytes for a in (self.means, self.quats_wxyz, self.scales, self.opacities, self.sh))

    def subset(self, index: np.ndarray | slice) -> Gaussians:
        """The Gaussians selected by a boolean mask, index array or slice (copies)."""
        return Gaussians(
            means=self.means[index],
            quats_wxyz=self.quats_wxyz[index],
            scales=self.scales[index],
            opacities=self.opacities[index],
            sh=self.sh[index],
        )

    def with_sh_degree(self, degree: int) -> Gaussians:
        """A copy truncated (or zero-padded) to another SH degree."""
        k = num_sh_coeffs(degree)
        sh = np.zeros((len(self), k, 3), dtype=np.float32)
        keep = min(k, self.sh.shape[1])
        sh[:, :keep] = self.sh[:, :keep]
        return Gaussians(self.means.copy(), self.quats_wxyz.copy(), self.scales.copy(), self.opacities.copy(), sh)

    @staticmethod
    def concatenate(parts: list[Gaussians]) -> Gaussians:
        """Join several sets; SH is padded to the highest degree among them."""
        if not parts:
            raise ValueError("Gaussians.concatenate needs at least one set")
        degree = max(p.sh_degree for p in parts)
        parts = [p if p.sh_degree == degree else p.with_sh_degree(degree) for p in parts]
        return Gaussians(
            means=np.concatenate([p.means for p in parts]),
            quats_wxyz=np.concatenate([p.quats_wxyz for p in parts]),
            scales=np.concatenate([p.scales for p in parts]),
            opacities=np.concatenate([p.opacities for p in parts]),
            sh=np.concatenate([p.sh for p in parts]),
        )

    def validate(self, source: str | Path | None = None) -> None:
        """Check the values a renderer or the USD schema rely on.

        Args:
            source: the file (or name) the data came from, used in the error message.

        Raises:
            InputError: an empty set, NaN or Inf anywhere, a scale <= 0, an opacity outside [0, 1], or a
                quaternion whose norm is too small to normalise. The message names ``source``, the array,
                how many Gaussians are affected and the first offending index.
        """
        if len(self) == 0:
            raise InputError(source, "holds no Gaussians")
        # Cheap whole-array checks first (a sum is NaN/Inf iff some element is, barring overflow, which the
        # exact per-row check below then sorts out); per-row masks are built only to report a failure.
        for name in ("means", "quats_wxyz", "scales", "opacities", "sh"):
            array = getattr(self, name)
            if not np.isfinite(array.sum(dtype=np.float64)):
                bad = ~np.isfinite(array).reshape(len(self), -1).all(axis=1)
                if bad.any():
                    raise _bad_rows(source, name, "NaN or Inf", bad)
        if self.scales.min() <= 0:
            raise _bad_rows(source, "scales", "a zero or negative scale", (self.scales <= 0).any(axis=1))
        if self.opacities.min() < 0 or self.opacities.max() > 1:
            raise _bad_rows(
                source, "opacities", "an opacity outside [0, 1]", (self.opacities < 0) | (self.opacities > 1)
            )
        squared_norms = np.einsum("ij,ij->i", self.quats_wxyz, self.quats_wxyz)
        if squared_norms.min() < _QUAT_NORM_EPS**2:
            raise _bad_rows(
                source, "quats_wxyz", "a quaternion too close to zero to normalise", squared_norms < _QUAT_NORM_EPS**2
            )

    def normalized(self) -> Gaussians:
        """A copy with unit quaternions (the sign is kept; call after :meth:`validate`)."""
        norms = np.linalg.norm(self.quats_wxyz, axis=1, keepdims=True)
        return Gaussians(
            self.means.copy(), self.quats_wxyz / norms, self.scales.copy(), self.opacities.copy(), self.sh.copy()
        )


def _bad_rows(source: str | Path | None, name: str, what: str, bad: np.ndarray) -> InputError:
    first = int(np.flatnonzero(bad)[0])
    return InputError(source, f"{int(bad.sum())} Gaussian(s) have {what} in {name} (first at index {first})")
