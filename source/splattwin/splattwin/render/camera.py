"""Cameras as the renderer takes them: OpenCV axes in memory, and look-at views.

Cameras follow OpenCV in memory (x right, y down, z forward; ``viewmat`` world -> camera, column vectors), which
is what :func:`~splattwin.render.rasterization` takes. A camera read from a USD stage (``UsdGeom.Camera``, which
looks down its local -Z with +Y up) is converted by :func:`splattwin.scene.camera_from_prim`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splattwin.errors import InputError

__all__ = ["Camera", "look_at_camera"]


@dataclass
class Camera:
    """A pinhole camera.

    Attributes:
        viewmat: world -> camera (OpenCV axes), column-vector 4x4, metres.
        K: intrinsics [px], 3x3.
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


def look_at_camera(
    eye: tuple[float, float, float] | np.ndarray,
    target: tuple[float, float, float] | np.ndarray,
    *,
    width: int = 640,
    height: int = 480,
    vertical_fov_deg: float = 50.0,
    up: tuple[float, float, float] = (0.0, 0.0, 1.0),
) -> Camera:
    """A camera at ``eye`` looking at ``target`` (world frame [m]) with world ``up`` at the top of the image.

    Raises:
        InputError: eye equals target, the view direction is parallel to ``up``, or a bad size or field of view.
    """
    eye = np.asarray(eye, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if width <= 0 or height <= 0:
        raise InputError("--size", f"image size must be positive, got {width}x{height}")
    if not 0.0 < vertical_fov_deg < 180.0:
        raise InputError("vertical_fov_deg", f"must be in (0, 180), got {vertical_fov_deg}")
    if not (np.isfinite(eye).all() and np.isfinite(target).all()):
        raise InputError("--view", "eye and target must be finite")
    forward = target - eye
    if np.linalg.norm(forward) < 1e-9:
        raise InputError("--view", f"eye and target are the same point {eye.tolist()}")
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(right) < 1e-9:
        raise InputError("--view", "the view direction is parallel to the up axis (z); move the eye sideways")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    viewmat = np.eye(4)
    viewmat[:3, :3] = np.stack([right, down, forward])
    viewmat[:3, 3] = -viewmat[:3, :3] @ eye
    focal = 0.5 * height / np.tan(np.radians(vertical_fov_deg) / 2)
    K = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])  # noqa: N806
    return Camera(viewmat=viewmat, K=K, width=width, height=height)
