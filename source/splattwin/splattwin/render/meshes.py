"""A small CPU z-buffer rasterizer for the stage's meshes: the stand-in for a simulator image.

Where no Isaac Sim camera image is at hand (CPU, tests, the demo), this draws the stage's ``UsdGeom.Mesh``
triangles (gathered by :func:`splattwin.scene.gather_meshes`) with flat head-light shading into ``sim_rgb`` /
``sim_depth`` for :func:`~splattwin.render.composite`. pyrender would need an OpenGL context (EGL/OSMesa) that
headless CI machines lack, so this is a plain numba scan-converter: perspective-correct depth (1/z interpolated
in screen space), pixel centres at +0.5, triangles with a vertex in front of the near plane are dropped (no
clipping; fine for a scene viewed from outside).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splattwin.render.camera import Camera

__all__ = ["SceneMeshes", "rasterize_meshes"]


@dataclass
class SceneMeshes:
    """Triangles of every mesh in the world frame.

    Attributes:
        vertices: [T, 3, 3] world-frame triangle corners [m].
        colors: [T, 3] RGB in [0, 1] per triangle (the mesh's displayColor, else grey).
        prim_paths: the mesh prims; ``prim_index`` [T] says which one each triangle came from.
    """

    vertices: np.ndarray
    colors: np.ndarray
    prim_paths: list[str]
    prim_index: np.ndarray


def rasterize_meshes(
    meshes: SceneMeshes, camera: Camera, *, background: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw triangles with a z-buffer and head-light shading.

    Returns:
        rgb [H, W, 3] float32 in [0, 1], depth [H, W] float32 camera-frame z [m] (+inf where empty) and
        labels [H, W] int32 (index into ``meshes.prim_paths``, -1 where empty).
    """
    from splattwin.render._mesh_kernels import scan_triangles  # noqa: PLC0415

    rotation, translation = camera.viewmat[:3, :3], camera.viewmat[:3, 3]
    cam = meshes.vertices @ rotation.T + translation  # [T, 3, 3] camera frame
    normals = np.cross(cam[:, 1] - cam[:, 0], cam[:, 2] - cam[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    centres = cam.mean(axis=1)
    cosine = np.abs(np.einsum("ti,ti->t", normals, centres)) / np.maximum(
        lengths * np.linalg.norm(centres, axis=1), 1e-12
    )
    shade = (0.35 + 0.65 * cosine)[:, None] * meshes.colors
    rgb = np.empty((camera.height, camera.width, 3), dtype=np.float32)
    rgb[:] = np.asarray(background, dtype=np.float32)
    depth = np.full((camera.height, camera.width), np.inf, dtype=np.float32)
    labels = np.full((camera.height, camera.width), -1, dtype=np.int32)
    if len(cam):
        scan_triangles(
            np.ascontiguousarray(cam),
            np.ascontiguousarray(shade),
            np.ascontiguousarray(meshes.prim_index),
            np.ascontiguousarray(camera.K, dtype=np.float64),
            float(camera.near),
            rgb,
            depth,
            labels,
        )
    return rgb, depth, labels
