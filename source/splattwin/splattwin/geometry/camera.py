"""The pinhole camera every room shares: OpenCV axes, a world -> camera matrix and the intrinsics K.

It lives here, below every room that reads or draws cameras (``io`` checks frames against it, ``usd`` reads it
from ``UsdGeom.Camera`` prims, ``render`` draws through it); :mod:`splattwin.render.camera` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Camera", "project_points"]


@dataclass
class Camera:
    """A pinhole camera.

    Attributes:
        viewmat: world -> camera (OpenCV axes: x right, y down, z forward), column-vector 4x4, metres.
        K: intrinsics [px], 3x3 ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``.
        width, height: image size [px].
        near, far: clipping distances along the view axis [m].
    """

    viewmat: np.ndarray
    K: np.ndarray  # noqa: N815 (the usual name of the intrinsics matrix)
    width: int
    height: int
    near: float = 0.01
    far: float = 1e10

    @property
    def position(self) -> np.ndarray:
        """Camera centre in the world [m], shape [3]."""
        rotation = self.viewmat[:3, :3]
        return -rotation.T @ self.viewmat[:3, 3]


def project_points(camera: Camera, points: np.ndarray) -> np.ndarray:
    """Pixel coordinates ``K [R | t] X`` of world points.

    Args:
        camera: the camera.
        points: [N, 3] world points [m], in front of the camera.

    Returns:
        [N, 2] (u, v) [px], u to the right, v down.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    in_camera = points @ camera.viewmat[:3, :3].T + camera.viewmat[:3, 3]
    pixels = in_camera @ np.asarray(camera.K, dtype=np.float64).T
    return pixels[:, :2] / pixels[:, 2:3]
