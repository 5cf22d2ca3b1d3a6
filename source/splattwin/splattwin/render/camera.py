"""Cameras as the renderer takes them: OpenCV axes in memory, and look-at views.

Cameras follow OpenCV in memory (x right, y down, z forward; ``viewmat`` world -> camera, column vectors), which
is what :func:`~splattwin.render.rasterization` takes. A camera read from a USD stage (``UsdGeom.Camera``, which
looks down its local -Z with +Y up) is converted by
:func:`splattwin.usd.cameras.camera_from_usd_prim`. The :class:`Camera` record itself lives in
:mod:`splattwin.geometry.camera` (below ``io`` and ``usd``, which read cameras too) and is re-exported here.
"""

from __future__ import annotations

import numpy as np

from splattwin.errors import InputError
from splattwin.geometry.camera import Camera, project_points

__all__ = ["Camera", "look_at_camera", "project_points"]


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
