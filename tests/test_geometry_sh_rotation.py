"""Tests of splattwin.geometry.sh_rotation against an independent real SH built from scipy.special."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from scipy.special import sph_harm_y

from splattwin.geometry.sh_rotation import eval_sh_basis, rotate_sh, sh_rotation_matrices

# Sign of each 3DGS basis function relative to the standard real orthonormal SH (no Condon-Shortley phase:
# Y_1 = sqrt(3/4pi) * (y, z, x) for m = -1, 0, 1), read off the polynomials of the reference rasterizer:
#   l=1: 3DGS (-C1 y, C1 z, -C1 x)                                 -> (-, +, -)
#   l=2: (C xy, -C yz, C'(3z^2-1), -C xz, C''(x^2-y^2))            -> (+, -, +, -, +)
#   l=3: (-C y(3x^2-y^2), +C xyz, -C y(4z^2-..), +C z(..), -C x(4z^2-..), +C z(x^2-y^2), -C x(x^2-3y^2))
#                                                                  -> (-, +, -, +, -, +, -)
# i.e. the sign is (-1)^m: 3DGS keeps the Condon-Shortley phase that the standard real SH cancels.
SIGN_3DGS_VS_STANDARD = {
    0: (+1,),
    1: (-1, +1, -1),
    2: (+1, -1, +1, -1, +1),
    3: (-1, +1, -1, +1, -1, +1, -1),
}


def standard_real_sh(directions: np.ndarray, degree: int) -> np.ndarray:
    """Standard real orthonormal SH (no Condon-Shortley phase) from scipy's complex ones: [M, 3] -> [M, K]."""
    x, y, z = directions.T
    polar = np.arccos(np.clip(z, -1.0, 1.0))
    azimuth = np.arctan2(y, x)
    columns = []
    for band in range(degree + 1):
        for m in range(-band, band + 1):
            # scipy's Y_l^m includes (-1)^m; the standard real SH multiply it out again.
            complex_y = sph_harm_y(band, abs(m), polar, azimuth)
            if m > 0:
                columns.append(np.sqrt(2) * (-1) ** m * complex_y.real)
            elif m < 0:
                columns.append(np.sqrt(2) * (-1) ** m * complex_y.imag)
            else:
                columns.append(complex_y.real)
    return np.stack(columns, axis=-1)


def reference_3dgs_sh(directions: np.ndarray, degree: int) -> np.ndarray:
    """The 3DGS basis built independently: standard real SH times the documented sign table."""
    signs = np.concatenate([SIGN_3DGS_VS_STANDARD[band] for band in range(degree + 1)])
    return standard_real_sh(directions, degree) * signs


def random_directions(rng: np.random.Generator, count: int) -> np.ndarray:
    d = rng.normal(size=(count, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_standard_real_sh_band1_is_xyz():
    # Guard on the reference itself: band 1 of the standard real SH is sqrt(3/4pi) * (y, z, x).
    d = random_directions(np.random.default_rng(0), 20)
    expected = np.sqrt(3 / (4 * np.pi)) * d[:, [1, 2, 0]]
    np.testing.assert_allclose(standard_real_sh(d, 1)[:, 1:], expected, atol=1e-14)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_eval_sh_basis_matches_scipy_reference(degree):
    d = random_directions(np.random.default_rng(1), 500)
    d = np.concatenate([d, np.eye(3), -np.eye(3)])  # the poles and axis directions too
    np.testing.assert_allclose(eval_sh_basis(d, degree), reference_3dgs_sh(d, degree), atol=1e-12)


def test_eval_sh_basis_keeps_leading_shape():
    d = random_directions(np.random.default_rng(2), 12).reshape(3, 4, 3)
    assert eval_sh_basis(d, 3).shape == (3, 4, 16)


def test_basis_is_orthonormal_by_quadrature():
    # Gauss-Legendre in cos(polar) x uniform azimuth integrates these degree-6 products exactly.
    nodes, weights = np.polynomial.legendre.leggauss(8)
    azimuth = 2 * np.pi * np.arange(16) / 16
    cos_t, phi = np.meshgrid(nodes, azimuth, indexing="ij")
    sin_t = np.sqrt(1 - cos_t**2)
    dirs = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], -1).reshape(-1, 3)
    w = (np.repeat(weights, 16) * 2 * np.pi / 16)[:, None]
    basis = eval_sh_basis(dirs, 3)
    gram = basis.T @ (w * basis)
    np.testing.assert_allclose(gram, np.eye(16), atol=1e-12)


def test_band1_rotation_matrix_is_conjugated_rotation():
    # Y_1(d) = C1 * P d with P mapping (x, y, z) -> (-y, z, -x), so Y_1(R^T d) = (P R^T P^T) Y_1(d).
    permutation = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])
    for rotation in Rotation.random(5, random_state=3).as_matrix():
        (band1,) = sh_rotation_matrices(rotation, 1)
        np.testing.assert_allclose(band1, permutation @ rotation.T @ permutation.T, atol=1e-12)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_rotate_sh_turns_colour_with_scene(degree):
    rng = np.random.default_rng(10 + degree)
    k = (degree + 1) ** 2
    sh = rng.normal(size=(7, k, 3))
    dirs = random_directions(rng, 50)
    for rotation in Rotation.random(4, random_state=degree).as_matrix():
        rotated = rotate_sh(sh, rotation)
        before = np.einsum("nkc,mk->nmc", sh, reference_3dgs_sh(dirs, degree))
        after = np.einsum("nkc,mk->nmc", rotated, reference_3dgs_sh(dirs @ rotation.T, degree))
        np.testing.assert_allclose(after, before, atol=1e-10)


def test_rotate_sh_composes_and_identity_keeps():
    rng = np.random.default_rng(20)
    sh = rng.normal(size=(9, 16, 3))
    first, second = Rotation.random(2, random_state=21).as_matrix()
    np.testing.assert_allclose(
        rotate_sh(rotate_sh(sh, first), second), rotate_sh(sh, second @ first), atol=1e-10, rtol=0
    )
    np.testing.assert_allclose(rotate_sh(sh, np.eye(3)), sh, atol=1e-12, rtol=0)


def test_rotate_sh_leaves_dc_and_keeps_float32():
    rng = np.random.default_rng(30)
    sh = rng.normal(size=(5, 16, 3)).astype(np.float32)
    rotated = rotate_sh(sh, Rotation.random(random_state=31).as_matrix())
    assert rotated.dtype == np.float32
    np.testing.assert_array_equal(rotated[:, 0], sh[:, 0])
    # Rotation is orthogonal on each band: the band energy is preserved.
    for band in range(1, 4):
        lo, hi = band * band, (band + 1) ** 2
        np.testing.assert_allclose(np.sum(rotated[:, lo:hi] ** 2, axis=1), np.sum(sh[:, lo:hi] ** 2, axis=1), rtol=1e-5)


def test_rotate_sh_quarter_turn_about_z_by_hand():
    # A 90-degree turn about z maps x -> y. The band-1 coefficients (a, b, c) give colour
    # C1 * (-a y + b z - c x); after the turn the colour towards R d must equal it towards d,
    # which with R^T (x, y, z) = (y, -x, z) gives C1 * (a x + b z - c y): coefficients (c, b, -a).
    rotation = Rotation.from_euler("z", 90, degrees=True).as_matrix()
    sh = np.zeros((1, 4, 1))
    sh[0, 1:, 0] = [2.0, 3.0, 5.0]
    np.testing.assert_allclose(rotate_sh(sh, rotation)[0, 1:, 0], [5.0, 3.0, -2.0], atol=1e-12)
