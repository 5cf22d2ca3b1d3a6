"""Virtual views around a region and their surface depth, rendered with the project's rasterizer.

:func:`surface_views` spreads cameras over a sphere around a box (a Fibonacci lattice: near-uniform directions,
no two alike), each seeing the whole box, with pixels about ``pixel_m`` across at the box's centre.
:func:`render_surface_depth` renders depth and opacity from them: by default ``"RD"``, the rasterizer's
ray-Gaussian depth (the depth where each pixel's ray meets each Gaussian's maximum, blended with the usual
weights), because the expected depth of the Gaussians' centres (``"ED"``, gsplat's) sits in front of the surface
flat discs cover (docs/surfaces.md measures it).
"""

from __future__ import annotations

import math

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.render.camera import Camera, look_at_camera

__all__ = ["DEPTH_MODES", "render_surface_depth", "surface_views"]

DEPTH_MODES = ("RD", "MD", "ED")
"""Depth estimates: expected ray depth (default), median ray depth, expected centre depth (the biased one)."""

_FOV_DEG = 40.0
_MAX_IMAGE_PX = 1600
_PAIRS_PER_CHUNK = 4_000_000  # cameras x Gaussians projected at once (the projection holds [C, N, 3, 3] tensors)


def surface_views(
    lo: np.ndarray, hi: np.ndarray, count: int, *, pixel_m: float, above_z: float | None = None
) -> list[Camera]:
    """``count`` look-at cameras on a sphere around the box [lo, hi] (world frame [m]), all seeing all of it.

    Args:
        lo, hi: the box's corners [3] [m].
        count: number of views (>= 1).
        pixel_m: wanted pixel footprint at the box's centre [m]; the image is at most 1600 px a side.
        above_z: when given (a table plane), only views from a cap whose cameras sit above this height and look
            down at least 10 degrees: nothing below a table is seen, so an object's open bottom is never looked
            into (its inside stays unobserved, hence solid; see :mod:`splattwin.surfaces.tsdf`).

    Returns:
        Cameras (OpenCV axes), square images, 40 degree field of view.
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    centre = 0.5 * (lo + hi)
    radius = 0.5 * float(np.linalg.norm(hi - lo))
    distance = 1.05 * radius / math.sin(math.radians(_FOV_DEG) / 2)
    size = int(min(_MAX_IMAGE_PX, max(32, math.ceil(2 * distance * math.tan(math.radians(_FOV_DEG) / 2) / pixel_m))))
    golden = math.pi * (3.0 - math.sqrt(5.0))
    z_low = -1.0
    if above_z is not None:
        z_low = min(0.9, max(math.sin(math.radians(10.0)), (above_z - centre[2]) / distance + 0.05))
    cameras = []
    for i in range(count):
        # never exactly +-1: look_at_camera needs a view not along z
        z = 1.0 - (1.0 - z_low) * (i + 0.5) / count
        ring = math.sqrt(max(0.0, 1.0 - z * z))
        direction = np.array([ring * math.cos(golden * i), ring * math.sin(golden * i), z])
        camera = look_at_camera(
            centre + distance * direction, centre, width=size, height=size, vertical_fov_deg=_FOV_DEG
        )
        camera.near = max(1e-3, distance - 1.5 * radius)
        cameras.append(camera)
    return cameras


def render_surface_depth(
    gaussians: Gaussians, cameras: list[Camera], *, mode: str = "RD"
) -> tuple[np.ndarray, np.ndarray]:
    """Depth and opacity of ``gaussians`` seen from ``cameras`` (all of one image size).

    Args:
        gaussians: world frame [m].
        cameras: the views (:func:`surface_views`).
        mode: one of :data:`DEPTH_MODES`.

    Returns:
        depth [V, H, W] float32 camera z [m] (0 where nothing is drawn) and alpha [V, H, W] float32 in [0, 1].
    """
    import torch  # noqa: PLC0415

    from splattwin.render.rasterizer import rasterization  # noqa: PLC0415

    if mode not in DEPTH_MODES:
        raise InputError("--depth", f"must be one of {', '.join(DEPTH_MODES)}, got {mode!r}")
    width, height = cameras[0].width, cameras[0].height
    means, quats, scales, opacities = (
        torch.from_numpy(a) for a in (gaussians.means, gaussians.quats_wxyz, gaussians.scales, gaussians.opacities)
    )
    features = torch.zeros(len(gaussians), 1)
    depth = np.zeros((len(cameras), height, width), dtype=np.float32)
    alpha = np.zeros_like(depth)
    chunk = max(1, _PAIRS_PER_CHUNK // max(1, len(gaussians)))
    for start in range(0, len(cameras), chunk):
        group = cameras[start : start + chunk]
        viewmats = torch.from_numpy(np.stack([c.viewmat for c in group])).float()
        Ks = torch.from_numpy(np.stack([c.K for c in group])).float()  # noqa: N806
        with torch.no_grad():
            colors, alphas, _ = rasterization(
                means, quats, scales, opacities, features, viewmats, Ks, width, height,
                near_plane=min(c.near for c in group), render_mode=mode, backend="cpu",
            )  # fmt: skip
        depth[start : start + len(group)] = colors[..., 0].numpy()
        alpha[start : start + len(group)] = alphas[..., 0].numpy()
    return depth, alpha
