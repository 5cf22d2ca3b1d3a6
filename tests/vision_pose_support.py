"""Images of a URDF robot from pybullet's TinyRenderer (an independent renderer) for the pose tests and bench.

The projection matrix is built from the project's Camera (OpenCV K and world -> camera) so a point lands on the
same pixel in both renderers; :func:`tiny_projection_check` measures it on a rendered sphere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TinyScene", "gl_projection", "tiny_projection_check"]


def gl_projection(K: np.ndarray, width: int, height: int, near: float, far: float) -> list[float]:  # noqa: N803
    """OpenGL projection (column-major 16 floats, pybullet's layout) of a pinhole K, image row 0 at the top."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    # TinyRenderer samples pixel (c, r) at the integer screen point, and flips rows; the rasterizer and K take
    # pixel centres at +0.5. Measured on spheres (tiny_projection_check): without this shift the image lies
    # +0.5 px in u and -0.5 px in v off K [R|t] X.
    cx, cy = cx - 0.5, cy + 0.5
    p = np.array(
        [
            [2 * fx / width, 0, 1 - 2 * cx / width, 0],
            [0, 2 * fy / height, 2 * cy / height - 1, 0],
            [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
            [0, 0, -1, 0],
        ]
    )
    return p.T.reshape(-1).tolist()


def gl_view(viewmat: np.ndarray) -> list[float]:
    """OpenCV world -> camera as pybullet's column-major OpenGL view matrix (camera looks down -z, y up)."""
    return (np.diag([1.0, -1.0, -1.0, 1.0]) @ viewmat).T.reshape(-1).tolist()


class TinyScene:
    """A pybullet DIRECT client with one fixed-base URDF robot; renders RGB and the robot's mask."""

    def __init__(self, urdf: Path, base_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        import pybullet as p

        self.p = p
        self.client = p.connect(p.DIRECT)
        self.body = p.loadURDF(str(urdf), base_xyz, useFixedBase=True, physicsClientId=self.client)
        self.joints: dict[str, int] = {}
        for i in range(p.getNumJoints(self.body, physicsClientId=self.client)):
            info = p.getJointInfo(self.body, i, physicsClientId=self.client)
            self.joints[info[1].decode()] = i

    def close(self) -> None:
        self.p.disconnect(self.client)

    def set_joints(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.p.resetJointState(self.body, self.joints[name], value, physicsClientId=self.client)

    def render(self, camera: Any) -> tuple[np.ndarray, np.ndarray]:
        """RGB [H, W, 3] float32 in [0, 1] and the robot's mask [H, W] bool seen by a project Camera."""
        near, far = 0.05, 20.0
        _, _, rgba, _, seg = self.p.getCameraImage(
            camera.width,
            camera.height,
            viewMatrix=gl_view(camera.viewmat),
            projectionMatrix=gl_projection(camera.K, camera.width, camera.height, near, far),
            renderer=self.p.ER_TINY_RENDERER,
            physicsClientId=self.client,
        )
        rgba = np.asarray(rgba, np.uint8).reshape(camera.height, camera.width, 4)
        seg = np.asarray(seg).reshape(camera.height, camera.width)
        mask = (seg >= 0) & ((seg & ((1 << 24) - 1)) == self.body)
        return rgba[..., :3].astype(np.float32) / 255.0, mask


def tiny_projection_check(camera: Any, point: np.ndarray, radius: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """(centroid of a TinyRenderer sphere at ``point`` [px], K [R|t] point [px]): the two must agree."""
    import pybullet as p

    client = p.connect(p.DIRECT)
    try:
        shape = p.createVisualShape(p.GEOM_SPHERE, radius=radius, physicsClientId=client)
        body = p.createMultiBody(baseVisualShapeIndex=shape, basePosition=point.tolist(), physicsClientId=client)
        _, _, _, _, seg = p.getCameraImage(
            camera.width,
            camera.height,
            viewMatrix=gl_view(camera.viewmat),
            projectionMatrix=gl_projection(camera.K, camera.width, camera.height, 0.05, 20.0),
            renderer=p.ER_TINY_RENDERER,
            physicsClientId=client,
        )
        seg = np.asarray(seg).reshape(camera.height, camera.width)
        rows, cols = np.nonzero(seg == body)
        centroid = np.array([cols.mean() + 0.5, rows.mean() + 0.5])  # pixel centres at +0.5, as the rasterizer
    finally:
        p.disconnect(client)
    x = camera.viewmat[:3, :3] @ point + camera.viewmat[:3, 3]
    projected = (camera.K @ x)[:2] / x[2]
    return centroid, projected
