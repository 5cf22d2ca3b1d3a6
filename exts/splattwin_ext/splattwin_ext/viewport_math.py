"""Kit viewport camera -> :class:`splattwin.render.Camera`, and images -> RGBA bytes for ``omni.ui``.

No ``omni`` import: this module is tested from ``tests/`` with the project's ``pxr``.

Kit's ``ViewportAPI.view`` is the world -> camera matrix and ``ViewportAPI.projection`` the projection, both
``Gf.Matrix4d`` in USD's row-vector convention (a point is ``p @ M``), the camera looking down -z with +y up and
normalised device coordinates in [-1, 1]. SplatTwin's cameras are column-vector, OpenCV axes (+z forward, +y
down) with pixel intrinsics, so: ``viewmat = diag(1, -1, -1, 1) @ view.T`` and, from ``x_ndc = P00 x/(-z) - P20``
and ``y_ndc = P11 y/(-z) - P21``: ``fx = P00 w/2``, ``cx = (1 - P20) w/2``, ``fy = P11 h/2``, ``cy = (1 + P21) h/2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["camera_from_viewport_matrices", "to_rgba8"]

_USD_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])


def camera_from_viewport_matrices(view: Any, projection: Any, width: int, height: int) -> Any:
    """A SplatTwin camera from a viewport's view and projection matrices (row-vector, 4x4) and its size [px]."""
    from splattwin.render import Camera  # noqa: PLC0415

    view = np.asarray(view, dtype=np.float64).reshape(4, 4)
    projection = np.asarray(projection, dtype=np.float64).reshape(4, 4)
    viewmat = _USD_TO_OPENCV @ view.T
    intrinsics = np.array(
        [
            [projection[0, 0] * width / 2.0, 0.0, (1.0 - projection[2, 0]) * width / 2.0],
            [0.0, projection[1, 1] * height / 2.0, (1.0 + projection[2, 1]) * height / 2.0],
            [0.0, 0.0, 1.0],
        ]
    )
    return Camera(viewmat=viewmat, K=intrinsics, width=int(width), height=int(height))


def to_rgba8(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] or [H, W, 4] floats in [0, 1] -> contiguous [H, W, 4] uint8 (opaque when no alpha is given)."""
    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an [H, W, 3|4] image, got shape {image.shape}")
    if image.shape[2] == 3:
        image = np.concatenate([image, np.ones(image.shape[:2] + (1,), np.float32)], axis=2)
    return np.ascontiguousarray(np.round(image * 255.0).astype(np.uint8))
