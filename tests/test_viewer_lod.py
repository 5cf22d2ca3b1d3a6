"""The viewer's coarse first level (:func:`splattwin.viewer.model.merge_by_voxel`) against moments worked out by
hand: two Gaussians of different sizes and opacities in one voxel, two on top of each other, one alone, and the
share of a target each node keeps (:func:`splattwin.viewer.model.coarse_level`)."""

from __future__ import annotations

import numpy as np
import pytest

from splattwin.viewer.model import coarse_level, merge_by_voxel


def _buffers(centers, sigmas, opacities, rgbs) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Isotropic Gaussians: covariance sigma^2 I."""
    sigmas = np.asarray(sigmas, dtype=np.float64)
    return {
        "centers": np.asarray(centers, dtype=np.float32),
        "covariances": (sigmas[:, None, None] ** 2 * np.eye(3)).astype(np.float32),
        "rgbs": np.asarray(rgbs, dtype=np.float32),
        "opacities": np.asarray(opacities, dtype=np.float32).reshape(-1, 1),
    }


def test_two_gaussians_merge_into_their_weighted_moments() -> None:
    """A red Gaussian (sigma 1 cm, opacity 0.8) and a blue one (sigma 2 cm, opacity 0.5) 2 cm apart in x, one
    10 cm voxel. By hand: footprints a = sigma^2 (1e-4, 4e-4 m^2), alpha masses w = opacity a (0.8e-4, 2e-4), so
    weights p = (2/7, 5/7); mean x = 2/7 * 0.001 + 5/7 * 0.021; their own covariance p1 1e-4 + p2 4e-4 = 22e-4 / 7
    on every axis, plus 3 x the spread p1 p2 (0.02)^2 = 10/49 * 4e-4 along x; opacity 1 - exp(-(1e-4 ln 5 +
    4e-4 ln 2) / A), A = sqrt(cov_xx cov_yy) the merged footprint; colour (2/7, 0, 5/7)."""
    merged = merge_by_voxel(
        _buffers([[0.001, 0.002, 0.003], [0.021, 0.002, 0.003]], [0.01, 0.02], [0.8, 0.5], [[1, 0, 0], [0, 0, 1]]),
        voxel=0.1,
    )
    assert len(merged["centers"]) == 1
    np.testing.assert_allclose(merged["centers"][0], [2 / 7 * 0.001 + 5 / 7 * 0.021, 0.002, 0.003], rtol=1e-6)
    own = 22e-4 / 7
    cov_xx = own + 3 * (10 / 49) * 4e-4
    np.testing.assert_allclose(merged["covariances"][0], np.diag([cov_xx, own, own]), rtol=1e-5, atol=1e-10)
    area = np.sqrt(cov_xx * own)
    expected = 1 - np.exp(-(1e-4 * np.log(5) + 4e-4 * np.log(2)) / area)
    assert merged["opacities"][0, 0] == pytest.approx(expected, rel=1e-5)
    assert expected == pytest.approx(0.6484, abs=1e-4)  # the same worked out on paper
    np.testing.assert_allclose(merged["rgbs"][0], [2 / 7, 0, 5 / 7], rtol=1e-6)


def test_two_gaussians_on_top_of_each_other_compose_as_two_layers() -> None:
    """Same centre and size, opacity 0.6 each: the merged one is the same Gaussian with 1 - 0.4^2 = 0.84."""
    merged = merge_by_voxel(
        _buffers([[0.05, 0.05, 0.05]] * 2, [0.01, 0.01], [0.6, 0.6], [[0.2, 0.4, 0.6]] * 2), voxel=0.1
    )
    assert merged["opacities"][0, 0] == pytest.approx(0.84, rel=1e-5)
    np.testing.assert_allclose(merged["covariances"][0], 1e-4 * np.eye(3), rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(merged["centers"][0], [0.05, 0.05, 0.05], rtol=1e-6)


def test_a_gaussian_alone_in_its_voxel_is_kept_and_voxels_do_not_mix() -> None:
    """Three Gaussians in three voxels (one across a voxel face from another) come back unchanged."""
    buffers = _buffers(
        [[0.01, 0.01, 0.01], [0.11, 0.01, 0.01], [-0.01, 0.01, 0.01]],
        [0.01, 0.02, 0.03],
        [0.9, 0.5, 0.3],
        [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    )
    merged = merge_by_voxel(buffers, voxel=0.1)
    order = np.argsort(merged["centers"][:, 0])  # the voxels' order is the function's own
    for key in buffers:
        np.testing.assert_allclose(merged[key][order], buffers[key][[2, 0, 1]], rtol=1e-5, atol=1e-9)


def test_each_node_keeps_its_share_of_the_target() -> None:
    """A 4,000-Gaussian plane and a 1,000-Gaussian one (a fifth) merged to about 500 in all: about 400 and 100."""
    rng = np.random.default_rng(0)

    def plane(n: int, side: float) -> dict[str, np.ndarray]:
        centers = np.c_[rng.uniform(0, side, (n, 2)), np.zeros(n)]
        return _buffers(centers, np.full(n, 0.005), np.full(n, 0.9), np.full((n, 3), 0.5))

    big, small = coarse_level([plane(4000, 1.0), plane(1000, 0.3)], 500)
    assert len(big["centers"]) == pytest.approx(400, rel=0.2)
    assert len(small["centers"]) == pytest.approx(100, rel=0.2)


def test_a_voxel_that_is_not_a_length_is_refused() -> None:
    with pytest.raises(ValueError, match="voxel must be a positive length"):
        merge_by_voxel(_buffers([[0, 0, 0]], [0.01], [0.5], [[1, 1, 1]]), voxel=0.0)


def test_a_transparent_gaussian_is_left_out() -> None:
    """Opacity 0 carries no alpha mass: its voxel disappears, and it does not move the other voxel's mean."""
    buffers = _buffers([[0.01, 0.01, 0.01], [0.02, 0.01, 0.01], [0.5, 0.5, 0.5]], [0.01] * 3, [0.7, 0.0, 0.0],
                       [[1, 1, 1]] * 3)  # fmt: skip
    merged = merge_by_voxel(buffers, voxel=0.1)
    assert len(merged["centers"]) == 1
    np.testing.assert_allclose(merged["centers"][0], [0.01, 0.01, 0.01], rtol=1e-6)
    assert merged["opacities"][0, 0] == pytest.approx(0.7, rel=1e-5)
