"""Rendering the twin: a differentiable splat rasterizer (CPU kernels or gsplat on CUDA) and helpers.

It takes Gaussians and cameras; it never reads a USD stage nor runs robot kinematics (:mod:`splattwin.scene`
gathers a stage's Gaussians, meshes and cameras for it).

Heavy modules (torch, numba) are imported only when a function is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RENDER_MODES",
    "Camera",
    "SceneGaussians",
    "SceneMeshes",
    "composite",
    "gsplat_available",
    "look_at_camera",
    "rasterization",
    "rasterize_meshes",
    "render_view",
]

_LAZY = {
    "RENDER_MODES": "splattwin.render.rasterizer",
    "gsplat_available": "splattwin.render.rasterizer",
    "rasterization": "splattwin.render.rasterizer",
    "Camera": "splattwin.render.camera",
    "look_at_camera": "splattwin.render.camera",
    "SceneGaussians": "splattwin.render.views",
    "composite": "splattwin.render.views",
    "render_view": "splattwin.render.views",
    "SceneMeshes": "splattwin.render.meshes",
    "rasterize_meshes": "splattwin.render.meshes",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(module_name), name)
