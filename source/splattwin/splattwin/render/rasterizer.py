"""``rasterization()``: gsplat's splat renderer API, on the CPU (own kernels) or on CUDA (gsplat).

The signature and return values follow ``gsplat.rasterization`` (gsplat 1.x) for the pinhole camera model, so
code written against gsplat runs here unchanged; ``backend`` picks the implementation. The CPU backend composes
torch projection and SH evaluation (:mod:`splattwin.render._projection`) with the numba compositing kernels
(:mod:`splattwin.render._cpu`); it is differentiable in means, quats, scales, opacities, colors and viewmats
(not in Ks, backgrounds or the image size), like gsplat.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError

if TYPE_CHECKING:
    import torch

__all__ = ["RAY_DEPTH_MODES", "RENDER_MODES", "gsplat_available", "rasterization"]

logger = logging.getLogger(__name__)

RENDER_MODES = ("RGB", "D", "ED", "RGB+D", "RGB+ED", "RD", "MD")
"""Render modes: colour, accumulated depth (sum of w_i z_i), expected depth (D / alpha), or colour plus one (gsplat's
modes); and two CPU-only surface-depth modes without gradient: "RD" the expected ray-Gaussian depth and "MD" the
median ray-Gaussian depth (see :func:`rasterization`)."""

RAY_DEPTH_MODES = ("RD", "MD")
"""The CPU-only, forward-only ray-Gaussian depth modes."""

_BACKENDS = ("auto", "cpu", "gsplat")
_GSPLAT_STATE: dict[str, Any] = {}


def gsplat_available() -> bool:
    """True when gsplat imports and CUDA is available (the result, and any import failure, is cached)."""
    if "ok" not in _GSPLAT_STATE:
        try:
            import gsplat  # noqa: F401, PLC0415
            import torch  # noqa: PLC0415

            _GSPLAT_STATE["ok"] = bool(torch.cuda.is_available())
        except Exception as exc:  # noqa: BLE001 (any failure to load a CUDA extension means "not available")
            logger.debug("gsplat not available: %s", exc)
            _GSPLAT_STATE["ok"] = False
    return _GSPLAT_STATE["ok"]


def _check_inputs(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    render_mode: str,
    sh_degree: int | None,
) -> None:
    n = means.shape[0]
    shapes = {
        "means": (means, (n, 3)),
        "quats": (quats, (n, 4)),
        "scales": (scales, (n, 3)),
        "opacities": (opacities, (n,)),
    }
    for name, (tensor, shape) in shapes.items():
        if tuple(tensor.shape) != shape:
            raise InputError(name, f"expected shape {shape}, got {tuple(tensor.shape)}")
    if viewmats.ndim != 3 or tuple(viewmats.shape[1:]) != (4, 4):
        raise InputError("viewmats", f"expected shape [C, 4, 4], got {tuple(viewmats.shape)}")
    if tuple(Ks.shape) != (viewmats.shape[0], 3, 3):
        raise InputError("Ks", f"expected shape [{viewmats.shape[0]}, 3, 3], got {tuple(Ks.shape)}")
    if width <= 0 or height <= 0:
        raise InputError("width/height", f"image size must be positive, got {width}x{height}")
    if render_mode not in RENDER_MODES:
        raise InputError("render_mode", f"must be one of {', '.join(RENDER_MODES)}, got {render_mode!r}")
    if sh_degree is None:
        if colors.shape[0] != n or colors.shape[-1] < 1 or colors.ndim != 2:
            raise InputError("colors", f"without sh_degree colors must be [N, D], got {tuple(colors.shape)}")
    elif colors.ndim != 3 or colors.shape[0] != n or colors.shape[2] != 3 or colors.shape[1] < (sh_degree + 1) ** 2:
        raise InputError(
            "colors",
            f"with sh_degree={sh_degree} colors must be [N, K>={(sh_degree + 1) ** 2}, 3], got {tuple(colors.shape)}",
        )


def rasterization(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    radius_clip: float = 0.0,
    eps2d: float = 0.3,
    sh_degree: int | None = None,
    packed: bool = True,
    tile_size: int = 16,
    backgrounds: torch.Tensor | None = None,
    render_mode: str = "RGB",
    sparse_grad: bool = False,
    absgrad: bool = False,
    rasterize_mode: str = "classic",
    backend: str = "auto",
    **gsplat_kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Render Gaussians from C cameras (gsplat's ``rasterization``; pinhole cameras).

    Args:
        means: world frame [m], shape [N, 3].
        quats: rotations (w, x, y, z), shape [N, 4]; normalised inside.
        scales: linear standard deviations [m], shape [N, 3].
        opacities: linear in [0, 1], shape [N].
        colors: SH coefficients [N, K, 3] when ``sh_degree`` is given (colour = max(0, SH(dir) + 0.5) seen from
            each camera centre), else per-Gaussian features [N, D] used as they are.
        viewmats: world-to-camera transforms, OpenCV camera (x right, y down, z forward), shape [C, 4, 4].
        Ks: pinhole intrinsics [px], shape [C, 3, 3]. No gradient (detached on the CPU backend, as gsplat).
        width, height: image size [px].
        near_plane, far_plane: depth range [m]; Gaussians outside are culled.
        radius_clip: cull Gaussians whose pixel radius is at most this.
        eps2d: low-pass filter added to the 2D covariance [px^2] (0.3 as gsplat).
        sh_degree: SH degree to evaluate (0..3), or None for plain features.
        packed: gsplat's memory layout switch, passed to gsplat. The CPU backend has one layout only: its meta
            is always gsplat's ``packed=False`` layout ([C, N, ...] per camera and Gaussian), whatever the value.
        sparse_grad: gsplat stores the gradients of means, quats and scales as sparse COO tensors (gsplat
            honours it with ``packed=True`` only); passed to gsplat. The CPU backend computes dense gradients
            only and refuses ``True`` rather than hand a sparse optimiser dense ones.
        absgrad: gsplat also accumulates the absolute 2D-mean gradients into ``meta["means2d"].absgrad``;
            passed to gsplat. The CPU backend does not compute them and refuses ``True``.
        tile_size: tile edge [px].
        backgrounds: [C, D] colour behind the Gaussians (D = channels of the output), or None (black). No gradient.
        render_mode: "RGB", "D" (accumulated z), "ED" (expected z = D / alpha), "RGB+D" or "RGB+ED" (the z of each
            Gaussian's centre, as gsplat), or the surface-depth modes of the CPU backend (no gradient; ``colors``
            and ``backgrounds`` unused; 0 where nothing is drawn): "RD" expected ray depth, sum_i w_i t_i / alpha,
            and "MD" median ray depth, the t_i of the Gaussian where the accumulated alpha passes 0.5 (0 where it
            never does). t_i is the camera z where the pixel's ray meets Gaussian i's maximum, t = d^T M mu /
            d^T M d with M = Sigma^-1 (GOF, RaDe-GS); for a flat disc the ray's intersection with its plane
            (2DGS). Why: the centre depth of tilted discs, blended front to back in centre order, sits about a
            millimetre in front of the surface they cover (docs/surfaces.md); the ray depth does not.
        rasterize_mode: "classic" or "antialiased" (opacity times the eps2d compensation, as gsplat).
        backend: "cpu" (this project's kernels; CUDA inputs are copied to the CPU and the results back), "gsplat"
            (CUDA inputs only), or "auto" (gsplat when ``means`` is on a CUDA device and gsplat imports, else cpu).
        **gsplat_kwargs: further keyword arguments passed to ``gsplat.rasterization`` on that backend only.

    Returns:
        render_colors [C, H, W, D'] (D' = D, 1, or D + 1 with depth last), render_alphas [C, H, W, 1] and a meta
        dict (gsplat's keys ``radii``, ``means2d``, ``depths``, ``conics``, ``opacities``, ``tile_width``,
        ``tile_height``, ``tile_size``, ``width``, ``height``, ``n_cameras``; the CPU backend adds
        ``max_weight_ids`` [C, H, W]: the Gaussian with the largest blending weight per pixel, -1 for none).

    Raises:
        InputError: wrong shapes, an unknown render mode or backend, ``backend="gsplat"`` without CUDA/gsplat or
            on CPU tensors, or an option the CPU backend cannot honour (``sparse_grad``, ``absgrad``, gsplat-only
            keyword arguments).
    """
    if backend not in _BACKENDS:
        raise InputError("backend", f"must be one of {', '.join(_BACKENDS)}, got {backend!r}")
    _check_inputs(means, quats, scales, opacities, colors, viewmats, Ks, width, height, render_mode, sh_degree)
    if rasterize_mode not in ("classic", "antialiased"):
        raise InputError("rasterize_mode", f"must be 'classic' or 'antialiased', got {rasterize_mode!r}")
    if render_mode in RAY_DEPTH_MODES:
        if backend == "gsplat":
            raise InputError("render_mode", f"{render_mode} is a cpu-backend mode; use backend='cpu' or 'auto'")
        return _ray_depth_cpu(
            means, quats, scales, opacities, viewmats, Ks, width, height,
            near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip, eps2d=eps2d,
            tile_size=tile_size, render_mode=render_mode, rasterize_mode=rasterize_mode,
        )  # fmt: skip
    use_gsplat = backend == "gsplat" or (backend == "auto" and means.is_cuda and gsplat_available())
    if use_gsplat:
        if not gsplat_available():
            raise InputError("backend", "gsplat needs CUDA and the gsplat package; use backend='cpu'")
        if not means.is_cuda:
            raise InputError("backend", f"gsplat renders CUDA tensors only, got means on {means.device}")
        import gsplat  # noqa: PLC0415

        return gsplat.rasterization(
            means,
            quats,
            scales,
            opacities,
            colors,
            viewmats,
            Ks,
            width,
            height,
            near_plane=near_plane,
            far_plane=far_plane,
            radius_clip=radius_clip,
            eps2d=eps2d,
            sh_degree=sh_degree,
            packed=packed,
            tile_size=tile_size,
            backgrounds=backgrounds,
            render_mode=render_mode,
            sparse_grad=sparse_grad,
            absgrad=absgrad,
            rasterize_mode=rasterize_mode,
            **gsplat_kwargs,
        )
    if gsplat_kwargs:
        raise InputError("rasterization", f"the cpu backend does not take {', '.join(sorted(gsplat_kwargs))}")
    # Refused rather than ignored: a sparse optimiser would get dense gradients, and meta["means2d"].absgrad
    # would be missing only at the first densification step.
    for name, value in (("sparse_grad", sparse_grad), ("absgrad", absgrad)):
        if value:
            raise InputError(name, "the cpu backend does not compute it; use backend='gsplat' on CUDA, or False")
    return _rasterize_cpu(
        means,
        quats,
        scales,
        opacities,
        colors,
        viewmats,
        Ks,
        width,
        height,
        near_plane=near_plane,
        far_plane=far_plane,
        radius_clip=radius_clip,
        eps2d=eps2d,
        sh_degree=sh_degree,
        tile_size=tile_size,
        backgrounds=backgrounds,
        render_mode=render_mode,
        rasterize_mode=rasterize_mode,
    )


def _rasterize_cpu(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    near_plane: float,
    far_plane: float,
    radius_clip: float,
    eps2d: float,
    sh_degree: int | None,
    tile_size: int,
    backgrounds: torch.Tensor | None,
    render_mode: str,
    rasterize_mode: str,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    import torch  # noqa: PLC0415

    from splattwin.render._cpu import build_tile_lists, rasterize_to_pixels  # noqa: PLC0415
    from splattwin.render._projection import eval_sh_colors, project_gaussians  # noqa: PLC0415

    device = means.device
    Ks = Ks.detach()  # no gradient to the intrinsics, as documented and as gsplat
    to_cpu = [t.cpu() for t in (means, quats, scales, opacities, colors, viewmats, Ks)]
    means, quats, scales, opacities, colors, viewmats, Ks = to_cpu
    num_cameras = viewmats.shape[0]
    proj = project_gaussians(
        means,
        quats,
        scales,
        viewmats,
        Ks,
        width,
        height,
        eps2d=eps2d,
        near_plane=near_plane,
        far_plane=far_plane,
        radius_clip=radius_clip,
    )
    per_camera_opacities = opacities[None].expand(num_cameras, -1)
    if rasterize_mode == "antialiased":
        per_camera_opacities = per_camera_opacities * proj.compensations
    if sh_degree is None:
        features = colors[None].expand(num_cameras, -1, -1)
    else:
        # Camera centres from the inverse view matrices, so the SH directions carry gradients to viewmats.
        rotation = viewmats[:, :3, :3]
        centres = -torch.einsum("cji,cj->ci", rotation, viewmats[:, :3, 3])  # -R^T t
        directions = means[None] - centres[:, None]
        features = torch.clamp_min(eval_sh_colors(sh_degree, directions, colors[None]) + 0.5, 0.0)
        features = features.expand(num_cameras, -1, -1)
    if render_mode in ("RGB+D", "RGB+ED"):
        features = torch.cat([features, proj.depths[..., None]], dim=-1)
    elif render_mode in ("D", "ED"):
        features = proj.depths[..., None]
    channels = features.shape[-1]
    if backgrounds is None:
        backgrounds = torch.zeros(num_cameras, channels, dtype=features.dtype)
    else:
        backgrounds = backgrounds.detach().cpu().to(features.dtype)
        if render_mode in ("RGB+D", "RGB+ED") and backgrounds.shape[-1] == channels - 1:
            backgrounds = torch.cat([backgrounds, torch.zeros(num_cameras, 1, dtype=features.dtype)], dim=-1)
        if tuple(backgrounds.shape) != (num_cameras, channels):
            raise InputError(
                "backgrounds", f"expected shape [{num_cameras}, {channels}], got {tuple(backgrounds.shape)}"
            )
    tiles = build_tile_lists(
        proj.means2d.detach().numpy(), proj.radii.numpy(), proj.depths.detach().numpy(), width, height, tile_size
    )
    render_colors, render_alphas, max_ids = rasterize_to_pixels(
        proj.means2d,
        proj.conics,
        features.contiguous(),
        per_camera_opacities.contiguous(),
        backgrounds,
        tiles,
        width,
        height,
    )
    if render_mode in ("ED", "RGB+ED"):
        expected = render_colors[..., -1:] / render_alphas.clamp(min=1e-10)
        render_colors = torch.cat([render_colors[..., :-1], expected], dim=-1)
    meta = {
        "radii": proj.radii,
        "means2d": proj.means2d,
        "depths": proj.depths,
        "conics": proj.conics,
        "opacities": per_camera_opacities,
        "tile_width": tiles.tiles_w,
        "tile_height": tiles.tiles_h,
        "tile_size": tile_size,
        "n_cameras": num_cameras,
        "width": width,
        "height": height,
        "num_pairs": tiles.num_pairs,
        "max_weight_ids": max_ids,
    }
    return render_colors.to(device), render_alphas.to(device), meta


def _ray_depth_cpu(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    near_plane: float,
    far_plane: float,
    radius_clip: float,
    eps2d: float,
    tile_size: int,
    render_mode: str,
    rasterize_mode: str,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """The "RD" / "MD" modes: the projection of the other modes, then ray-Gaussian depth compositing."""
    import torch  # noqa: PLC0415

    from splattwin.render._cpu import build_tile_lists, project_for_ray_depth, rasterize_ray_depth  # noqa: PLC0415

    device = means.device
    with torch.no_grad():
        means, quats, scales, opacities, viewmats, Ks = (
            t.detach().cpu().double() for t in (means, quats, scales, opacities, viewmats, Ks)
        )
        num_cameras = viewmats.shape[0]
        intrinsics = torch.stack([Ks[:, 0, 0], Ks[:, 1, 1], Ks[:, 0, 2], Ks[:, 1, 2]], dim=-1)
        # project_gaussians' projection and the ray coefficients, fused in one kernel (no [C, N, 3, 3] tensors)
        proj, rays = project_for_ray_depth(
            means.numpy(), quats.numpy(), scales.numpy(), viewmats.numpy(), intrinsics.numpy(), width, height,
            eps2d=eps2d, near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip,
        )  # fmt: skip
        per_camera_opacities = opacities[None].expand(num_cameras, -1)
        if rasterize_mode == "antialiased":
            per_camera_opacities = per_camera_opacities * proj.compensations
        tiles = build_tile_lists(
            proj.means2d.numpy(), proj.radii.numpy(), proj.depths.numpy(), width, height, tile_size
        )
        expected, median, alphas = rasterize_ray_depth(
            proj.means2d.numpy(),
            proj.conics.numpy(),
            per_camera_opacities.numpy(),
            rays,
            intrinsics.numpy(),
            tiles,
            width,
            height,
        )
    if render_mode == "RD":
        depth = np.where(alphas > 1e-10, expected / np.maximum(alphas, 1e-10), 0.0)
    else:
        depth = median
    dtype = torch.float32
    meta = {
        "radii": proj.radii,
        "means2d": proj.means2d.to(dtype),
        "depths": proj.depths.to(dtype),
        "conics": proj.conics.to(dtype),
        "opacities": per_camera_opacities.to(dtype),
        "tile_width": tiles.tiles_w,
        "tile_height": tiles.tiles_h,
        "tile_size": tile_size,
        "n_cameras": num_cameras,
        "width": width,
        "height": height,
        "num_pairs": tiles.num_pairs,
    }
    colors = torch.from_numpy(depth[..., None]).to(dtype).to(device)
    return colors, torch.from_numpy(alphas[..., None]).to(dtype).to(device), meta
