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
from splattwin.surfaces.tsdf import TSDFVolume

__all__ = ["DEPTH_MODES", "pocket_views", "render_surface_depth", "surface_views", "views_from_directions"]

DEPTH_MODES = ("RD", "MD", "ED")
"""Depth estimates: expected ray depth (default), median ray depth, expected centre depth (the biased one)."""

_FOV_DEG = 40.0
_MAX_IMAGE_PX = 1600
_PAIRS_PER_CHUNK = 4_000_000  # cameras x Gaussians projected at once (16 float64 per pair in the projection)


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
    return views_from_directions(lo, hi, _lattice(count, _lowest_z(lo, hi, above_z)), pixel_m=pixel_m)


def _distance(lo: np.ndarray, hi: np.ndarray) -> float:
    """The cameras' distance from the box's centre: the whole box inside the field of view, with 5 % margin."""
    return 1.05 * 0.5 * float(np.linalg.norm(hi - lo)) / math.sin(math.radians(_FOV_DEG) / 2)


def _lowest_z(lo: np.ndarray, hi: np.ndarray, above_z: float | None) -> float:
    """The lowest z of a view direction (unit vector): -1, or above a table plane (see :func:`surface_views`)."""
    if above_z is None:
        return -1.0
    centre_z = 0.5 * (float(lo[2]) + float(hi[2]))
    return min(0.9, max(math.sin(math.radians(10.0)), (above_z - centre_z) / _distance(lo, hi) + 0.05))


def _lattice(count: int, z_low: float) -> np.ndarray:
    """[count, 3] unit directions of a Fibonacci lattice on the sphere cap z >= z_low (never exactly +-1 in z:
    look_at_camera needs a view not along z)."""
    golden = math.pi * (3.0 - math.sqrt(5.0))
    i = np.arange(count)
    z = 1.0 - (1.0 - z_low) * (i + 0.5) / count
    ring = np.sqrt(np.maximum(0.0, 1.0 - z * z))
    return np.column_stack([ring * np.cos(golden * i), ring * np.sin(golden * i), z])


def views_from_directions(lo: np.ndarray, hi: np.ndarray, directions: np.ndarray, *, pixel_m: float) -> list[Camera]:
    """Look-at cameras at the centre of the box [lo, hi] from unit ``directions`` [K, 3], as :func:`surface_views`
    places them (distance, image size, field of view, near plane)."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    centre = 0.5 * (lo + hi)
    radius = 0.5 * float(np.linalg.norm(hi - lo))
    distance = _distance(lo, hi)
    size = int(min(_MAX_IMAGE_PX, max(32, math.ceil(2 * distance * math.tan(math.radians(_FOV_DEG) / 2) / pixel_m))))
    cameras = []
    for direction in np.asarray(directions, dtype=np.float64):
        camera = look_at_camera(
            centre + distance * direction, centre, width=size, height=size, vertical_fov_deg=_FOV_DEG
        )
        camera.near = max(1e-3, distance - 1.5 * radius)
        cameras.append(camera)
    return cameras


def pocket_views(
    volume: TSDFVolume, lo: np.ndarray, hi: np.ndarray, *, pixel_m: float, above_z: float | None, budget: int
) -> tuple[list[Camera], int]:
    """Extra views into the pockets a first fusion left unobserved next to free space (a cup's deep inside, seen
    through its opening by few of a lattice's views), so that they are carved rather than taken for solid.

    A pocket voxel is one no view observed with a 6-neighbour some view saw free (a solid's unobserved inside
    touches only its surface band, which is negative). Candidate directions are a 400-point lattice on the same
    sphere (cap); a direction sees a pocket voxel when the straight line from it to the camera crosses only free
    voxels. Directions are taken greedily, each the one that sees most still-unseen pocket voxels (at most 256
    of them, sampled), until ``budget`` views or until none sees more than 5 % of them.

    Returns:
        (the extra cameras, the number of pocket voxels found).
    """
    from scipy import ndimage  # noqa: PLC0415

    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    free = (volume.weights > 0) & (volume.values > 0.5)
    pocket = (volume.weights == 0) & ndimage.binary_dilation(free)
    found = int(pocket.sum())
    if found == 0 or budget <= 0:
        return [], found
    cells = np.argwhere(pocket)
    if len(cells) > 256:
        cells = cells[np.random.default_rng(0).choice(len(cells), 256, replace=False)]
    points = volume.origin + cells * volume.voxel_m
    directions = _lattice(400, _lowest_z(lo, hi, above_z))
    cameras_at = 0.5 * (lo + hi) + _distance(lo, hi) * directions
    shape = np.array(volume.values.shape)
    steps = np.arange(1.0, float(np.linalg.norm(shape)) + 1.0)  # in voxels: out of the grid is free
    sees = np.zeros((len(directions), len(points)), dtype=bool)
    for k, eye in enumerate(cameras_at):
        ray = eye - points
        ray /= np.linalg.norm(ray, axis=1, keepdims=True)
        index = np.rint(cells[:, None, :] + steps[None, :, None] * ray[:, None, :]).astype(np.int64)
        inside = np.all((index >= 0) & (index < shape), axis=2)
        clipped = np.clip(index, 0, shape - 1)
        blocked = ~free[clipped[..., 0], clipped[..., 1], clipped[..., 2]] & inside
        sees[k] = ~blocked.any(axis=1)
    chosen: list[int] = []
    unseen = np.ones(len(points), dtype=bool)
    while len(chosen) < budget:
        gain = (sees & unseen).sum(axis=1)
        best = int(np.argmax(gain))
        if gain[best] <= max(1, 0.05 * len(points)):
            break
        chosen.append(best)
        unseen &= ~sees[best]
    return views_from_directions(lo, hi, directions[chosen], pixel_m=pixel_m), found


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
