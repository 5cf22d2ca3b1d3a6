"""Rendering a gathered twin from a camera, and compositing it over a simulator's (or mesh) image by depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.render.camera import Camera

__all__ = ["SceneGaussians", "ViewRender", "composite", "render_view"]

BACKGROUND_LABEL = -1
"""Segmentation label of pixels no Gaussian contributes to."""


@dataclass
class SceneGaussians:
    """Every Gaussian of a stage in the world frame, with the prim each came from.

    Attributes:
        gaussians: world-frame Gaussians (metres), concatenated over prims.
        prim_paths: the Gaussian prims, in gathering order.
        prim_index: [N] int32 index into ``prim_paths`` for each Gaussian.
    """

    gaussians: Gaussians
    prim_paths: list[str]
    prim_index: np.ndarray


@dataclass
class ViewRender:
    """One camera's render of a twin.

    Attributes:
        rgb: [H, W, 3] float32 in [0, 1] (over the background colour).
        alpha: [H, W] float32 accumulated opacity.
        depth: [H, W] float32 expected camera-frame z [m] (sum w z / alpha); +inf where alpha < ``min_alpha``.
        segmentation: [H, W] int32 index into ``prim_paths`` of the Gaussian prim with the largest blending weight
            at each pixel, -1 where no Gaussian contributes.
        prim_paths: the Gaussian prims the labels refer to.
        background: the RGB behind the Gaussians in ``rgb``.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    depth: np.ndarray
    segmentation: np.ndarray
    prim_paths: list[str]
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def premultiplied_rgb(self) -> np.ndarray:
        """[H, W, 3] the Gaussians' colour over black (rgb minus the background's share), for :func:`composite`."""
        return self.rgb - (1.0 - self.alpha[..., None]) * np.asarray(self.background, dtype=np.float32)


def render_view(
    scene: SceneGaussians,
    camera: Camera,
    *,
    backend: str = "cpu",
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    min_alpha: float = 0.5,
) -> ViewRender:
    """Render a gathered twin (RGB + expected depth in one pass) and label each pixel with its prim.

    Args:
        scene: world-frame Gaussians with their prims (:func:`splattwin.scene.gather_gaussians`).
        camera: the camera.
        backend: "cpu", "gsplat" or "auto"; the segmentation always comes from the CPU rasterizer's exact
            per-pixel maximum-weight Gaussian (gsplat has no such output), in the same pass when on the CPU.
        background: RGB in [0, 1] behind the Gaussians.
        min_alpha: pixels less opaque than this get depth +inf (nothing solid there for a depth test).

    Returns:
        The :class:`ViewRender`.
    """
    import torch  # noqa: PLC0415

    from splattwin.render.rasterizer import rasterization  # noqa: PLC0415

    g = scene.gaussians
    tensors = [torch.from_numpy(a) for a in (g.means, g.quats_wxyz, g.scales, g.opacities, g.sh)]
    viewmats = torch.from_numpy(camera.viewmat.astype(np.float32))[None]
    Ks = torch.from_numpy(camera.K.astype(np.float32))[None]  # noqa: N806
    background_t = torch.tensor([background], dtype=torch.float32)

    def run(which: str) -> tuple:
        device = _tensor_device(which)
        with torch.no_grad():
            return rasterization(
                *(t.to(device) for t in tensors),
                viewmats.to(device),
                Ks.to(device),
                camera.width,
                camera.height,
                near_plane=camera.near,
                far_plane=camera.far,
                sh_degree=g.sh_degree,
                backgrounds=background_t.to(device),
                render_mode="RGB+ED",
                backend=which,
            )

    colors, alphas, meta = run(backend)
    if "max_weight_ids" not in meta:
        _, _, meta = run("cpu")
    colors = colors[0].cpu().numpy()
    alpha = alphas[0, ..., 0].cpu().numpy()
    depth = np.where(alpha >= min_alpha, colors[..., 3], np.inf).astype(np.float32)
    ids = meta["max_weight_ids"][0].numpy()
    segmentation = np.where(ids >= 0, scene.prim_index[np.clip(ids, 0, None)], BACKGROUND_LABEL).astype(np.int32)
    return ViewRender(
        rgb=np.clip(colors[..., :3], 0.0, 1.0).astype(np.float32),
        alpha=alpha.astype(np.float32),
        depth=depth,
        segmentation=segmentation,
        prim_paths=list(scene.prim_paths),
        background=tuple(float(v) for v in background),
    )


def composite(
    splat_rgb: np.ndarray,
    splat_depth: np.ndarray,
    sim_rgb: np.ndarray,
    sim_depth: np.ndarray,
    splat_alpha: np.ndarray | None = None,
) -> np.ndarray:
    """Overlay splats on a simulator image with a per-pixel depth test.

    Where the splat surface is at least as near as the simulated geometry (``splat_depth <= sim_depth``), the
    splat is drawn over the simulator image with its alpha; elsewhere the simulator's pixel stays, so geometry
    without Gaussians occludes and is occluded correctly. Where neither has a surface (both +inf), faint splats
    still blend over the simulator's background.

    Args:
        splat_rgb: [H, W, 3] splat colours in [0, 1]: premultiplied by alpha (rendered over black,
            :attr:`ViewRender.premultiplied_rgb`) when ``splat_alpha`` is given, else opaque colours.
        splat_depth: [H, W] camera-frame z of the splat surface [m]; +inf where there is none.
        sim_rgb: [H, W, 3] simulator colours in [0, 1].
        sim_depth: [H, W] camera-frame z of the simulator's nearest surface [m]; +inf where there is none.
        splat_alpha: [H, W] splat opacity; None treats every pixel with finite splat depth as opaque.

    Returns:
        [H, W, 3] float32 composite in [0, 1].

    Raises:
        InputError: mismatched shapes, or NaN depths.
    """
    splat_rgb = np.asarray(splat_rgb, dtype=np.float32)
    sim_rgb = np.asarray(sim_rgb, dtype=np.float32)
    splat_depth = np.asarray(splat_depth, dtype=np.float32)
    sim_depth = np.asarray(sim_depth, dtype=np.float32)
    height, width = splat_depth.shape
    for name, array, shape in (
        ("splat_rgb", splat_rgb, (height, width, 3)),
        ("sim_rgb", sim_rgb, (height, width, 3)),
        ("sim_depth", sim_depth, (height, width)),
    ):
        if array.shape != shape:
            raise InputError(name, f"expected shape {shape} to match splat_depth, got {array.shape}")
    if np.isnan(splat_depth).any() or np.isnan(sim_depth).any():
        raise InputError("composite", "depth images must not hold NaN (use +inf for 'no surface')")
    if splat_alpha is None:
        alpha = np.isfinite(splat_depth).astype(np.float32)
        premultiplied = splat_rgb * alpha[..., None]
    else:
        alpha = np.asarray(splat_alpha, dtype=np.float32).reshape(height, width)
        premultiplied = splat_rgb
    splat_in_front = (splat_depth <= sim_depth)[..., None]
    over = premultiplied + (1.0 - alpha[..., None]) * sim_rgb
    return np.clip(np.where(splat_in_front, over, sim_rgb), 0.0, 1.0).astype(np.float32)


def _tensor_device(backend: str) -> str:
    """Where a view's tensors go: the rasterizer dispatches on their device, so "auto" must put them on CUDA
    when gsplat can draw them there (on CPU tensors "auto" would always take the CPU kernels)."""
    from splattwin.render.rasterizer import gsplat_available  # noqa: PLC0415

    return "cuda" if backend == "gsplat" or (backend == "auto" and gsplat_available()) else "cpu"
