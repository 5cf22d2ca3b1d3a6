"""Rendering the twin: a differentiable splat rasterizer (CPU kernels or gsplat on CUDA) and helpers.

Heavy modules (torch, numba) are imported only when a function is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RENDER_MODES", "gsplat_available", "rasterization"]

_LAZY = {
    "RENDER_MODES": "splattwin.render.rasterizer",
    "gsplat_available": "splattwin.render.rasterizer",
    "rasterization": "splattwin.render.rasterizer",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(module_name), name)
