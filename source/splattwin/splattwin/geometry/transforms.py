"""Quaternions (w first) and similarity transforms x -> s R x + t, applied to points and Gaussians."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from splattwin.gaussians import Gaussians
from splattwin.geometry.sh_rotation import rotate_sh

__all__ = ["Similarity", "matrix_to_quat_wxyz", "quat_multiply_wxyz", "quat_wxyz_to_matrix", "rotation_between"]


def quat_wxyz_to_matrix(quats_wxyz: Any, *, dtype: type = np.float64) -> Any:
    """Rotation matrices of quaternions (normalised here): [..., 4] (w, x, y, z) -> [..., 3, 3].

    The one quaternion-to-matrix formula of the package. An array-like gives a numpy array of ``dtype`` (float64
    unless a caller trades precision for speed, e.g. a bounding box); a torch tensor gives a tensor of its own
    dtype and device that gradients flow through (the renderer's covariances).
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(quats_wxyz, torch.Tensor):
        q = torch.nn.functional.normalize(quats_wxyz, dim=-1)
        return torch.stack(_rotation_entries(*q.unbind(-1)), dim=-1).reshape(*q.shape[:-1], 3, 3)
    q = np.asarray(quats_wxyz, dtype=dtype)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    components = np.ascontiguousarray(np.moveaxis(q, -1, 0))  # w, x, y, z each contiguous: faster arithmetic
    return np.stack(_rotation_entries(*components), -1).reshape(*q.shape[:-1], 3, 3)


def _rotation_entries(w: Any, x: Any, y: Any, z: Any) -> list[Any]:
    """The nine entries of a unit quaternion's rotation matrix, row by row (numpy arrays or torch tensors)."""
    return [
        1 - 2 * (y * y + z * z),
        2 * (x * y - w * z),
        2 * (x * z + w * y),
        2 * (x * y + w * z),
        1 - 2 * (x * x + z * z),
        2 * (y * z - w * x),
        2 * (x * z - w * y),
        2 * (y * z + w * x),
        1 - 2 * (x * x + y * y),
    ]


def matrix_to_quat_wxyz(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) with w >= 0 of a rotation matrix [..., 3, 3] -> [..., 4]."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    # Shepperd's method: pick the largest of 4w^2, 4x^2, 4y^2, 4z^2 for numerical stability.
    cands = np.stack(
        [
            1 + trace,
            1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
        ],
        -1,
    )
    best = np.argmax(cands, axis=-1)
    q = np.empty(m.shape[:-2] + (4,))
    r = np.sqrt(np.maximum(np.take_along_axis(cands, best[..., None], -1)[..., 0], 1e-300))
    s = 0.5 / r
    sel = best == 0
    q[sel] = np.stack(
        [
            0.5 * r[sel],
            (m[sel, 2, 1] - m[sel, 1, 2]) * s[sel],
            (m[sel, 0, 2] - m[sel, 2, 0]) * s[sel],
            (m[sel, 1, 0] - m[sel, 0, 1]) * s[sel],
        ],
        -1,
    )
    sel = best == 1
    q[sel] = np.stack(
        [
            (m[sel, 2, 1] - m[sel, 1, 2]) * s[sel],
            0.5 * r[sel],
            (m[sel, 0, 1] + m[sel, 1, 0]) * s[sel],
            (m[sel, 0, 2] + m[sel, 2, 0]) * s[sel],
        ],
        -1,
    )
    sel = best == 2
    q[sel] = np.stack(
        [
            (m[sel, 0, 2] - m[sel, 2, 0]) * s[sel],
            (m[sel, 0, 1] + m[sel, 1, 0]) * s[sel],
            0.5 * r[sel],
            (m[sel, 1, 2] + m[sel, 2, 1]) * s[sel],
        ],
        -1,
    )
    sel = best == 3
    q[sel] = np.stack(
        [
            (m[sel, 1, 0] - m[sel, 0, 1]) * s[sel],
            (m[sel, 0, 2] + m[sel, 2, 0]) * s[sel],
            (m[sel, 1, 2] + m[sel, 2, 1]) * s[sel],
            0.5 * r[sel],
        ],
        -1,
    )
    return np.where(q[..., :1] < 0, -q, q)


def quat_multiply_wxyz(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of quaternions [..., 4] (w, x, y, z): rotate by b, then by a."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        -1,
    )


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation matrix [3, 3] taking direction ``a`` [3] onto direction ``b`` [3]."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -1 + 1e-12:  # opposite: rotate by pi about any axis orthogonal to a
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


@dataclass(frozen=True, eq=False)
class Similarity:
    """x -> scale * rotation @ x + translation: the frame change from a reconstruction to the world.

    Attributes:
        rotation: proper rotation matrix [3, 3].
        translation: [3], metres in the target frame.
        scale: uniform scale factor > 0 (metres per source unit).
    """

    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    scale: float = 1.0

    def __post_init__(self) -> None:
        rotation = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)
        translation = np.asarray(self.translation, dtype=np.float64).reshape(3)
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"Similarity.scale must be finite and > 0, got {self.scale}")
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6) or np.linalg.det(rotation) < 0:
            raise ValueError(f"Similarity.rotation must be a proper rotation matrix, got {rotation.tolist()}")
        if not np.isfinite(translation).all():
            raise ValueError(f"Similarity.translation must be finite, got {translation.tolist()}")
        object.__setattr__(self, "rotation", rotation)
        object.__setattr__(self, "translation", translation)
        object.__setattr__(self, "scale", float(self.scale))

    @staticmethod
    def from_matrix(matrix: np.ndarray) -> Similarity:
        """From a 4x4 column-vector matrix [[sR, t], [0, 1]] (use ``.T`` on a USD row-vector GfMatrix4d)."""
        m = np.asarray(matrix, dtype=np.float64)
        linear = m[:3, :3]
        scale = float(np.cbrt(np.linalg.det(linear)))
        return Similarity(rotation=linear / scale, translation=m[:3, 3], scale=scale)

    def matrix(self) -> np.ndarray:
        """4x4 column-vector matrix [[sR, t], [0, 1]]."""
        m = np.eye(4)
        m[:3, :3] = self.scale * self.rotation
        m[:3, 3] = self.translation
        return m

    def then(self, after: Similarity) -> Similarity:
        """The transform that applies ``self`` first and ``after`` second."""
        return Similarity(
            rotation=after.rotation @ self.rotation,
            translation=after.scale * after.rotation @ self.translation + after.translation,
            scale=after.scale * self.scale,
        )

    def inverse(self) -> Similarity:
        """The transform undoing this one."""
        rt = self.rotation.T
        return Similarity(rotation=rt, translation=-(rt @ self.translation) / self.scale, scale=1.0 / self.scale)

    def is_identity(self, *, atol: float = 1e-12) -> bool:
        """Whether this transform leaves every point where it is (compare transforms by their matrices)."""
        return bool(np.allclose(self.matrix(), np.eye(4), atol=atol))

    def apply_points(self, points: np.ndarray) -> np.ndarray:
        """Transform points [..., 3] (float64 math, the input dtype is kept)."""
        p = np.asarray(points)
        out = self.scale * (p.astype(np.float64) @ self.rotation.T) + self.translation
        return out.astype(p.dtype if np.issubdtype(p.dtype, np.floating) else np.float64)

    def apply_directions(self, directions: np.ndarray) -> np.ndarray:
        """Rotate directions or normals [..., 3] (no scale, no translation)."""
        d = np.asarray(directions)
        return (d.astype(np.float64) @ self.rotation.T).astype(d.dtype)

    def apply_gaussians(self, gaussians: Gaussians) -> Gaussians:
        """Transform a Gaussian set: means move, orientations turn, scales grow, SH rotate with the scene.

        The view-dependent colour of each Gaussian turns with it: seen from direction ``R d`` after the
        transform it is what it was from ``d`` before.
        """
        rotation_q = matrix_to_quat_wxyz(self.rotation)
        quats = quat_multiply_wxyz(np.broadcast_to(rotation_q, gaussians.quats_wxyz.shape), gaussians.quats_wxyz)
        return Gaussians(
            means=self.apply_points(gaussians.means),
            quats_wxyz=quats,
            scales=gaussians.scales * np.float32(self.scale),
            opacities=gaussians.opacities.copy(),
            sh=rotate_sh(gaussians.sh, self.rotation),
        )
