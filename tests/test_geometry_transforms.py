"""Tests of splattwin.geometry.transforms against scipy.spatial.transform.Rotation and hand-built matrices."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from splattwin.gaussians import Gaussians
from splattwin.geometry.sh_rotation import eval_sh_basis
from splattwin.geometry.transforms import (
    Similarity,
    matrix_to_quat_wxyz,
    quat_multiply_wxyz,
    quat_wxyz_to_matrix,
    rotation_between,
)


def wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    return np.concatenate([q[..., 1:], q[..., :1]], axis=-1)


def xyzw_to_wxyz(q: np.ndarray) -> np.ndarray:
    return np.concatenate([q[..., 3:], q[..., :3]], axis=-1)


def near_half_turns(rng: np.random.Generator) -> Rotation:
    """Rotations by pi and just under pi about random axes and the coordinate axes."""
    axes = np.concatenate([rng.normal(size=(6, 3)), np.eye(3), [[1.0, 1.0, 0.0], [0.0, 1.0, -1.0]]])
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.array([np.pi, np.pi - 1e-7, np.pi - 1e-3])
    return Rotation.from_rotvec((axes[:, None, :] * angles[None, :, None]).reshape(-1, 3))


def random_similarity(rng: np.random.Generator) -> Similarity:
    return Similarity(
        rotation=Rotation.random(random_state=rng).as_matrix(),
        translation=rng.normal(size=3) * 3,
        scale=float(np.exp(rng.normal())),
    )


def test_quat_to_matrix_matches_scipy():
    rng = np.random.default_rng(0)
    quats = rng.normal(size=(5, 7, 4)) * 2.5  # not unit: the function normalises
    expected = Rotation.from_quat(wxyz_to_xyzw(quats.reshape(-1, 4))).as_matrix().reshape(5, 7, 3, 3)
    np.testing.assert_allclose(quat_wxyz_to_matrix(quats), expected, atol=1e-12)
    rotations = near_half_turns(rng)
    np.testing.assert_allclose(
        quat_wxyz_to_matrix(xyzw_to_wxyz(rotations.as_quat())), rotations.as_matrix(), atol=1e-12
    )


def test_quat_to_matrix_on_torch_tensors_matches_scipy_with_gradients():
    """The renderer's covariances go through the same helper with torch tensors: values, dtype, gradients."""
    import torch

    rng = np.random.default_rng(1)
    quats = rng.normal(size=(6, 4)) * 1.7
    tensor = torch.tensor(quats, dtype=torch.float64, requires_grad=True)
    matrices = quat_wxyz_to_matrix(tensor)
    assert isinstance(matrices, torch.Tensor) and matrices.dtype == torch.float64 and matrices.shape == (6, 3, 3)
    expected = Rotation.from_quat(wxyz_to_xyzw(quats)).as_matrix()
    np.testing.assert_allclose(matrices.detach().numpy(), expected, atol=1e-12)
    assert quat_wxyz_to_matrix(tensor.float()).dtype == torch.float32
    assert torch.autograd.gradcheck(quat_wxyz_to_matrix, (tensor,))


def test_quat_to_matrix_in_float32_for_bounding_boxes():
    rng = np.random.default_rng(2)
    quats = rng.normal(size=(50, 4)).astype(np.float32)
    single = quat_wxyz_to_matrix(quats, dtype=np.float32)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, Rotation.from_quat(wxyz_to_xyzw(quats)).as_matrix(), atol=1e-6)


def test_matrix_to_quat_matches_scipy_including_half_turns():
    rng = np.random.default_rng(1)
    rotations = Rotation.concatenate([Rotation.random(200, random_state=rng), near_half_turns(rng)])
    quats = matrix_to_quat_wxyz(rotations.as_matrix())
    expected = xyzw_to_wxyz(rotations.as_quat())
    assert np.all(quats[:, 0] >= 0)
    np.testing.assert_allclose(np.linalg.norm(quats, axis=1), 1.0, atol=1e-12)
    # q and -q are the same rotation (at exactly pi the sign is free): compare up to sign.
    np.testing.assert_allclose(np.abs(np.sum(quats * expected, axis=1)), 1.0, atol=1e-12)
    np.testing.assert_allclose(Rotation.from_quat(wxyz_to_xyzw(quats)).as_matrix(), rotations.as_matrix(), atol=1e-12)


def test_matrix_to_quat_single_matrix():
    # 90 degrees about z: w = cos 45, z = sin 45.
    quat = matrix_to_quat_wxyz(np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    assert quat.shape == (4,)
    np.testing.assert_allclose(quat, [np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)], atol=1e-15)


def test_quat_multiply_is_rotation_composition():
    rng = np.random.default_rng(2)
    a, b = Rotation.random(50, random_state=rng), Rotation.random(50, random_state=rng)
    product = quat_multiply_wxyz(xyzw_to_wxyz(a.as_quat()), xyzw_to_wxyz(b.as_quat()))
    np.testing.assert_allclose(quat_wxyz_to_matrix(product), a.as_matrix() @ b.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(product * xyzw_to_wxyz((a * b).as_quat()), axis=1)), 1.0, atol=1e-12)
    # Hand value: i * j = k.
    np.testing.assert_allclose(quat_multiply_wxyz([0, 1, 0, 0], [0, 0, 1, 0]), [0, 0, 0, 1])


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
        ((0.3, -0.2, 0.9), (0.1, 0.8, -0.4)),
        ((0.0, 0.0, 1.0), (0.0, 0.0, -1.0)),  # opposite
        ((1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)),  # opposite along the fallback axis
        ((1.0, 2.0, 3.0), (-1.0, -2.0, -3.0 + 1e-9)),  # nearly opposite
        ((0.0, 1.0, 0.0), (0.0, 2.0, 0.0)),  # same direction
    ],
)
def test_rotation_between_is_smallest_proper_rotation(source, target):
    rotation = rotation_between(np.array(source), np.array(target))
    a, b = np.array(source) / np.linalg.norm(source), np.array(target) / np.linalg.norm(target)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(rotation) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(rotation @ a, b, atol=1e-7)
    angle = Rotation.from_matrix(rotation).magnitude()
    assert angle == pytest.approx(np.arccos(np.clip(a @ b, -1, 1)), abs=1e-6)


def test_similarity_then_inverse_and_matrix_round_trips():
    rng = np.random.default_rng(3)
    first, second = random_similarity(rng), random_similarity(rng)
    points = rng.normal(size=(20, 3))
    homogeneous = np.concatenate([points, np.ones((20, 1))], axis=1)

    expected = (homogeneous @ first.matrix().T)[:, :3]
    np.testing.assert_allclose(first.apply_points(points), expected, atol=1e-12)
    np.testing.assert_allclose(first.then(second).matrix(), second.matrix() @ first.matrix(), atol=1e-12)
    np.testing.assert_allclose(
        first.then(second).apply_points(points), second.apply_points(first.apply_points(points)), atol=1e-12
    )
    assert first.then(first.inverse()).is_identity(atol=1e-12)
    assert first.inverse().then(first).is_identity(atol=1e-12)
    np.testing.assert_allclose(first.inverse().matrix(), np.linalg.inv(first.matrix()), atol=1e-12)

    rebuilt = Similarity.from_matrix(first.matrix())
    np.testing.assert_allclose(rebuilt.rotation, first.rotation, atol=1e-12)
    np.testing.assert_allclose(rebuilt.translation, first.translation, atol=1e-12)
    assert rebuilt.scale == pytest.approx(first.scale, rel=1e-12)

    directions = rng.normal(size=(5, 3))
    np.testing.assert_allclose(first.apply_directions(directions), directions @ first.rotation.T, atol=1e-12)


def test_similarity_hand_example():
    # 90 degrees about z, scale 2, then +1 along x: (1, 0, 0) -> (0, 2, 0) -> (1, 2, 0).
    transform = Similarity(rotation=[[0, -1, 0], [1, 0, 0], [0, 0, 1]], translation=[1, 0, 0], scale=2.0)
    np.testing.assert_allclose(transform.apply_points([1.0, 0.0, 0.0]), [1.0, 2.0, 0.0])
    np.testing.assert_allclose(transform.inverse().apply_points([1.0, 2.0, 0.0]), [1.0, 0.0, 0.0])


def test_similarity_rejects_bad_parts():
    with pytest.raises(ValueError, match="scale"):
        Similarity(scale=0.0)
    with pytest.raises(ValueError, match="rotation"):
        Similarity(rotation=np.diag([1.0, 1.0, -1.0]))  # a reflection
    with pytest.raises(ValueError, match="rotation"):
        Similarity(rotation=np.diag([1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="translation"):
        Similarity(translation=[0.0, np.nan, 0.0])


def covariances(quats_wxyz: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """R diag(s^2) R^T per Gaussian, with R from scipy (independent of the code under test)."""
    rotations = Rotation.from_quat(wxyz_to_xyzw(quats_wxyz.astype(np.float64))).as_matrix()
    return rotations @ (scales.astype(np.float64)[:, :, None] ** 2 * np.swapaxes(rotations, 1, 2))


def test_apply_gaussians_moves_means_covariances_and_colour():
    rng = np.random.default_rng(4)
    n = 64
    gaussians = Gaussians(
        means=rng.normal(size=(n, 3)),
        quats_wxyz=rng.normal(size=(n, 4)),
        scales=np.exp(rng.normal(size=(n, 3)) - 3),
        opacities=rng.uniform(size=n),
        sh=rng.normal(size=(n, 16, 3)) * 0.3,
    ).normalized()
    transform = random_similarity(rng)
    moved = transform.apply_gaussians(gaussians)

    homogeneous = np.concatenate([gaussians.means.astype(np.float64), np.ones((n, 1))], axis=1)
    np.testing.assert_allclose(moved.means, (homogeneous @ transform.matrix().T)[:, :3], rtol=1e-5, atol=1e-5)

    before = covariances(gaussians.quats_wxyz, gaussians.scales)
    expected = transform.scale**2 * transform.rotation @ before @ transform.rotation.T
    after = covariances(moved.quats_wxyz, moved.scales)
    np.testing.assert_allclose(after, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())

    np.testing.assert_array_equal(moved.opacities, gaussians.opacities)
    dirs = rng.normal(size=(10, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    colour_before = np.einsum("nkc,mk->nmc", gaussians.sh, eval_sh_basis(dirs, 3))
    colour_after = np.einsum("nkc,mk->nmc", moved.sh, eval_sh_basis(dirs @ transform.rotation.T, 3))
    np.testing.assert_allclose(colour_after, colour_before, atol=1e-4)
