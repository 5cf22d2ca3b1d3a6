"""A small CPU z-buffer rasterizer for the stage's meshes: the stand-in for a simulator image.

Where no Isaac Sim camera image is at hand (CPU, tests, the demo), this draws every ``UsdGeom.Mesh`` of the
stage with flat head-light shading into ``sim_rgb`` / ``sim_depth`` for :func:`~splattwin.render.composite`.
pyrender would need an OpenGL context (EGL/OSMesa) that headless CI machines lack, so this is a plain numba
scan-converter: perspective-correct depth (1/z interpolated in screen space), pixel centres at +0.5, triangles
with a vertex in front of the near plane are dropped (no clipping; fine for a scene viewed from outside).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from splattwin.render.scene import Camera

if TYPE_CHECKING:
    from pxr import Usd

__all__ = ["SceneMeshes", "gather_meshes", "rasterize_meshes"]

_DEFAULT_COLOR = (0.6, 0.6, 0.62)


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


def gather_meshes(
    stage: Usd.Stage, *, overrides: Mapping[str, np.ndarray] | None = None, skip: tuple[str, ...] = ()
) -> SceneMeshes:
    """Triangulate every visible ``UsdGeom.Mesh`` (polygons as fans) into world-frame triangles.

    Args:
        stage: the twin.
        overrides: as in :func:`~splattwin.render.scene.gather_gaussians` (posed robot links).
        skip: prim paths whose meshes (and their descendants') are left out.
    """
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    from splattwin.render.scene import _world_matrix  # noqa: PLC0415

    overrides = dict(overrides or {})
    triangles, colors, paths, index = [], [], [], []
    for prim in stage.Traverse(Usd.TraverseInstanceProxies()):
        if not prim.IsA(UsdGeom.Mesh) or any(str(prim.GetPath()).startswith(s) for s in skip):
            continue
        if UsdGeom.Imageable(prim).ComputeVisibility() == UsdGeom.Tokens.invisible:
            continue
        mesh = UsdGeom.Mesh(prim)
        points = np.asarray(mesh.GetPointsAttr().Get() or [], dtype=np.float64)
        counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get() or [], dtype=np.int64)
        indices = np.asarray(mesh.GetFaceVertexIndicesAttr().Get() or [], dtype=np.int64)
        if len(points) == 0 or len(counts) == 0:
            continue
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        fans = [(s, s + k, s + k + 1) for s, c in zip(starts, counts, strict=True) for k in range(1, c - 1)]
        if not fans:
            continue
        fan = np.asarray(fans, dtype=np.int64)
        matrix = _world_matrix(prim, overrides)
        world = points @ matrix[:3, :3].T + matrix[:3, 3]
        triangles.append(world[indices[fan]])
        color = np.asarray(mesh.GetDisplayColorAttr().Get() or [_DEFAULT_COLOR], dtype=np.float64)
        rgb = color[0] if len(color) else np.asarray(_DEFAULT_COLOR)
        colors.append(np.broadcast_to(rgb, (len(fan), 3)))
        index.append(np.full(len(fan), len(paths), dtype=np.int32))
        paths.append(str(prim.GetPath()))
    if not triangles:
        return SceneMeshes(np.zeros((0, 3, 3)), np.zeros((0, 3)), [], np.zeros(0, dtype=np.int32))
    return SceneMeshes(np.concatenate(triangles), np.concatenate(colors), paths, np.concatenate(index))


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
