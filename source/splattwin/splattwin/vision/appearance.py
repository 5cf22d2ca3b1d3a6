"""Photometric refinement of Gaussians from posed images (3DGS's loss and optimiser; issue 20 item 3).

:func:`fit_appearance` is a pure function: Gaussians (world frame), cameras, images and optional masks in, a
:class:`FitResult` out; it reads and writes no file, so object tracking and mass-from-video can reuse it. The loss
is 3DGS's ``(1 - lambda) L1 + lambda (1 - SSIM)`` with lambda 0.2, optimised by Adam with one learning rate per
parameter group as 3DGS (means, log-scales, quaternions, logit-opacities, SH colours). Views listed in
``held_out`` are never trained on; their PSNR and SSIM before and after are reported.

A ``poser`` callable lets the same loop fit the robot's link-bound Gaussians (Dr. Robot's canonical model,
seed 002): it maps the canonical parameters to world-frame means and quaternions for one view (the links posed at
that image's joints), differentiably. :class:`LinkPoser` is that poser for a robot: every view has its own link
poses, every Gaussian its link; a poser may also turn the SH coefficients (``rotate_sh``), which view-dependent
colours held in a link's frame need.

Densification: only 3DGS's opacity pruning is done (``prune_opacity``, every ``prune_every`` steps: Gaussians whose
opacity falls below the threshold are removed and the optimiser restarted on the rest). Gradient-threshold
clone/split is NOT done.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians

if TYPE_CHECKING:
    import torch

    from splattwin.render.camera import Camera

__all__ = [
    "AppearanceConfig",
    "FitResult",
    "SH_C0",
    "LinkPoser",
    "appearance_loss",
    "fit_appearance",
    "psnr",
    "render_views",
    "shade_sh",
    "ssim",
    "unit_shading",
]

Poser = Callable[["torch.Tensor", "torch.Tensor", int], tuple["torch.Tensor", "torch.Tensor"]]
"""(means [N, 3], unit quats_wxyz [N, 4], view index) -> world-frame (means, quats) for that view."""


@dataclass(frozen=True)
class AppearanceConfig:
    """Settings of one fit.

    Attributes:
        iterations: Adam steps (one random training view per step, as 3DGS).
        ssim_lambda: weight of the D-SSIM term (0.2, as 3DGS).
        lr_means: step of the means, times the scene's extent [m] (3DGS: 1.6e-4).
        lr_scales, lr_quats, lr_opacities, lr_sh0, lr_shn: the other groups' steps (3DGS: 5e-3, 1e-3, 5e-2,
            2.5e-3, 2.5e-3 / 20). Defaults here are larger for the colours/opacities, since a refinement from a
            close start runs hundreds, not 30 000, steps.
        fit_geometry: also fit means, scales and quaternions (False: colours and opacities only).
        fit_shading: with a poser (a robot), also fit a world-frame shading: each Gaussian's colour times an
            irradiance of its world normal (its local z turned by its world orientation), SH degree 2, 9 x 3
            coefficients starting at 1 (:func:`shade_sh`). Light fixed in the world changes a turning link's
            shading, which colours held in the link's frame cannot follow.
        lr_shading: step of the shading coefficients.
        prune_opacity: opacity below which a Gaussian is removed (0.005 as 3DGS; 0 turns pruning off).
        prune_every: steps between prunings.
        background: colour behind the Gaussians, RGB in [0, 1].
        max_residual: final training loss a converged fit reaches.
        seed: random seed of the view order.
        backend: rasterizer backend.
    """

    iterations: int = 300
    ssim_lambda: float = 0.2
    lr_means: float = 1.6e-4
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3
    lr_opacities: float = 5e-2
    lr_sh0: float = 2.5e-2
    lr_shn: float = 2.5e-2 / 20
    fit_geometry: bool = True
    fit_shading: bool = False
    lr_shading: float = 1e-2
    prune_opacity: float = 0.005
    prune_every: int = 100
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    max_residual: float = 0.05
    seed: int = 0
    backend: str = "cpu"


@dataclass
class FitResult:
    """What a fit gave.

    Attributes:
        gaussians: the refined Gaussians (same frame as given; fewer when pruned).
        residual: final training loss (mean over the training views).
        converged: ``residual <= max_residual`` and finite.
        iterations: steps taken.
        pruned: Gaussians removed by opacity pruning.
        held_out: held-out view indices.
        psnr_before, psnr_after, ssim_before, ssim_after: per held-out view [dB] / [0, 1].
        history: training loss per step.
    """

    gaussians: Gaussians
    residual: float
    converged: bool
    iterations: int
    pruned: int
    held_out: list[int]
    psnr_before: list[float] = field(default_factory=list)
    psnr_after: list[float] = field(default_factory=list)
    ssim_before: list[float] = field(default_factory=list)
    ssim_after: list[float] = field(default_factory=list)
    history: list[float] = field(default_factory=list)
    shading: np.ndarray | None = None
    """[9, 3] the fitted world-frame irradiance SH (``fit_shading``), else None."""
    renders: list = field(default_factory=list)
    """(view, render after) pairs a caller may fill for its comparison image."""


SH_C0 = 0.28209479177387814
"""The degree-0 real SH basis constant (colour = SH_C0 * dc + 0.5, 3DGS's convention)."""


def unit_shading() -> np.ndarray:
    """[9, 3] float32 irradiance SH coefficients that shade nothing (the constant 1)."""
    out = np.zeros((9, 3), dtype=np.float32)
    out[0] = 1.0 / SH_C0
    return out


def shade_sh(sh: torch.Tensor, quats_wxyz: torch.Tensor, shading: torch.Tensor) -> torch.Tensor:
    """SH coefficients [N, K, 3] whose colour is the given colour times the irradiance of each Gaussian's normal.

    The normal is the Gaussian's local z (a disk's axis, as :func:`splattwin.robot.binding.sample_link_gaussians`
    lays them on a surface) turned by ``quats_wxyz`` [N, 4] (world frame). The irradiance ``E(n) = sum_k L_k Y_k(n)``
    (``shading`` [9, 3], real SH degree 2, per colour channel). With 3DGS's colour ``c = SH_C0 dc + 0.5 + ...``,
    ``E c`` is the SH ``(E dc + (E - 1) 0.5 / SH_C0, E sh_1.., ...)``: exact before clamping.
    """
    import torch  # noqa: PLC0415

    from splattwin.robot.posing import sh_basis_torch  # noqa: PLC0415

    w, x, y, z = quats_wxyz.unbind(-1)
    normals = torch.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], dim=-1)
    normals = normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    energy = sh_basis_torch(normals, 2) @ shading  # [N, 3]
    dc = sh[:, :1] * energy[:, None] + ((energy - 1.0) * (0.5 / SH_C0))[:, None]
    return torch.cat([dc, sh[:, 1:] * energy[:, None]], dim=1)


class LinkPoser:
    """Canonical link-frame Gaussians -> world for one view: ``x -> R_l x + t_l``, ``q -> q_l ⊗ q``, SH turned by
    ``R_l`` (row form ``c' = c @ D_l``, :func:`splattwin.robot.posing.sh_rotation_blocks_torch`).

    Unlike :func:`splattwin.robot.posing.pose_bound_gaussians` (stored Gaussians constant, gradients to the link
    poses), this one is differentiable in the Gaussians, which is what a fit of their appearance needs; the link
    poses are constants.

    Args:
        link_poses: [V, L, 4, 4] link -> world per view (e.g. ``robot.link_poses(q_views)``).
        link_index: [N] the link of each Gaussian (indices into L).
        sh_degree: the Gaussians' SH degree (0: colours do not turn).
    """

    def __init__(self, link_poses: torch.Tensor, link_index: torch.Tensor, sh_degree: int = 0) -> None:
        import torch  # noqa: PLC0415

        from splattwin.robot.posing import matrix_to_quat_wxyz_torch, sh_rotation_blocks_torch  # noqa: PLC0415

        poses = torch.as_tensor(link_poses, dtype=torch.float32)
        if poses.ndim != 4 or poses.shape[-2:] != (4, 4):
            raise ValueError(f"link_poses must be [V, L, 4, 4], got {tuple(poses.shape)}")
        self.link_index = torch.as_tensor(link_index, dtype=torch.int64)
        if len(self.link_index) and (self.link_index.min() < 0 or self.link_index.max() >= poses.shape[1]):
            raise ValueError(f"link_index must lie in [0, {poses.shape[1]}), got {self.link_index.max()}")
        self.rotations = poses[..., :3, :3]
        self.translations = poses[..., :3, 3]
        self.quats = matrix_to_quat_wxyz_torch(self.rotations)  # [V, L, 4]
        self.sh_blocks = sh_rotation_blocks_torch(self.rotations, sh_degree) if sh_degree > 0 else None

    def __call__(self, means: torch.Tensor, quats: torch.Tensor, view: int) -> tuple[torch.Tensor, torch.Tensor]:
        import torch  # noqa: PLC0415

        link = self.link_index
        rotation = self.rotations[view][link]  # [N, 3, 3]
        world_means = (rotation @ means[:, :, None])[:, :, 0] + self.translations[view][link]
        w1, v1 = self.quats[view][link][:, :1], self.quats[view][link][:, 1:]
        w2, v2 = quats[:, :1], quats[:, 1:]
        scalar = w1 * w2 - (v1 * v2).sum(1, keepdim=True)
        world_quats = torch.cat([scalar, w1 * v2 + w2 * v1 + torch.cross(v1, v2, dim=1)], 1)
        return world_means, world_quats

    def rotate_sh(self, sh: torch.Tensor, view: int) -> torch.Tensor:
        """[N, K, 3] link-frame SH -> world frame for ``view`` (unchanged at degree 0)."""
        import torch  # noqa: PLC0415

        if self.sh_blocks is None:
            return sh
        blocks = self.sh_blocks[view][self.link_index]  # [N, K, K]
        return torch.einsum("nkc,nkj->njc", sh, blocks)

    def subset(self, keep: torch.Tensor) -> None:
        """Follow a pruning: keep the link of the Gaussians kept."""
        self.link_index = self.link_index[keep]


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    import torch  # noqa: PLC0415

    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(a: torch.Tensor, b: torch.Tensor, *, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of two images [H, W, C] in [0, 1] (Wang et al. 2004, as 3DGS: Gaussian 11x11 window, sigma 1.5,
    zero padding, C1 = 0.01^2, C2 = 0.03^2), differentiable.

    Own code: torchmetrics and pytorch-msssim are not in the project's environment, and 3DGS's SSIM is these
    twenty lines (a depthwise convolution of the moments).
    """
    import torch  # noqa: PLC0415

    c = a.shape[-1]
    kernel = _gaussian_window(window, sigma).to(a.dtype)[None, None].repeat(c, 1, 1, 1)
    x = a.permute(2, 0, 1)[None]
    y = b.permute(2, 0, 1)[None]
    pad = window // 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(t, kernel, padding=pad, groups=c)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    value = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return value.mean()


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio [dB] of two images in [0, 1] (over ``mask`` pixels when given)."""
    diff = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    mse = float(diff[mask > 0.5].mean()) if mask is not None else float(diff.mean())
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)


def appearance_loss(rendered: torch.Tensor, target: torch.Tensor, lam: float = 0.2) -> torch.Tensor:
    """3DGS's photometric loss ``(1 - lam) |rendered - target|_1 + lam (1 - SSIM)`` of two [H, W, 3] images."""
    l1 = (rendered - target).abs().mean()
    return (1 - lam) * l1 + lam * (1 - ssim(rendered, target))


def _check(gaussians: Gaussians, cameras: list[Camera], images: list[np.ndarray], masks: np.ndarray | None) -> None:
    if len(gaussians) == 0:
        raise InputError("gaussians", "no Gaussians to fit")
    if len(cameras) != len(images):
        raise InputError("--images", f"{len(cameras)} cameras but {len(images)} images")
    for i, (camera, image) in enumerate(zip(cameras, images, strict=True)):
        if image.shape[:2] != (camera.height, camera.width):
            raise InputError(
                "--images",
                f"image {i} is {image.shape[1]}x{image.shape[0]} but its camera is {camera.width}x{camera.height}",
            )
        if not np.isfinite(image).all():
            raise InputError("--images", f"image {i} holds NaN or infinite values")
    if masks is not None and np.shape(masks)[:3] != (len(images), *np.shape(images[0])[:2]):
        raise InputError("--masks", f"masks {np.shape(masks)[:3]} do not match the images")


def fit_appearance(
    gaussians: Gaussians,
    cameras: list[Camera],
    images: np.ndarray | list[np.ndarray],
    masks: np.ndarray | None = None,
    config: AppearanceConfig | None = None,
    *,
    held_out: list[int] | None = None,
    poser: Poser | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """Refine ``gaussians`` so their renders match ``images`` (see the module doc).

    Args:
        gaussians: the start (world frame, or the canonical frame ``poser`` maps from).
        cameras: one per image.
        images: [V, H, W, 3] in [0, 1] (an array or a list of per-view arrays).
        masks: [V, H, W] in [0, 1] or None; the loss counts masked pixels only (outside: the background).
        config: the fit's settings.
        held_out: view indices never trained on (evaluated before/after).
        poser: per view, canonical -> world means and quaternions (the robot at that view's joints).
        progress: called with (step, total).

    Raises:
        InputError: no Gaussians, an image whose size does not match its camera, NaN images, no training view.
    """
    import torch  # noqa: PLC0415

    from splattwin.render.rasterizer import rasterization  # noqa: PLC0415

    config = config or AppearanceConfig()
    _check(gaussians, cameras, [np.asarray(i) for i in images], masks)
    images = np.asarray(images, np.float32)
    held = sorted(set(held_out or []))
    train = [i for i in range(len(cameras)) if i not in held]
    if not train:
        raise InputError("--held-out", "every view is held out; nothing to train on")
    gaussians.validate("gaussians")
    targets = torch.from_numpy(images)
    mask_t = None if masks is None else torch.from_numpy(np.asarray(masks, np.float32))
    background = torch.tensor(config.background, dtype=torch.float32)
    if mask_t is not None:  # the loss compares the object over the background outside its mask
        targets = targets * mask_t[..., None] + background * (1 - mask_t[..., None])
    degree = gaussians.sh_degree
    extent = float(np.ptp(gaussians.means, axis=0).max()) or 1.0
    eps = 1e-6
    params = {
        "means": torch.tensor(gaussians.means, dtype=torch.float32),
        "log_scales": torch.log(torch.tensor(gaussians.scales, dtype=torch.float32).clamp_min(1e-9)),
        "quats": torch.tensor(gaussians.quats_wxyz, dtype=torch.float32),
        "logit_opacities": torch.logit(torch.tensor(gaussians.opacities, dtype=torch.float32).clamp(eps, 1 - eps)),
        "sh0": torch.tensor(gaussians.sh[:, :1], dtype=torch.float32),
        "shn": torch.tensor(gaussians.sh[:, 1:], dtype=torch.float32),
    }
    lrs = {
        "means": config.lr_means * extent,
        "log_scales": config.lr_scales,
        "quats": config.lr_quats,
        "logit_opacities": config.lr_opacities,
        "sh0": config.lr_sh0,
        "shn": config.lr_shn,
    }
    trained = [k for k in params if config.fit_geometry or k not in ("means", "log_scales", "quats")]
    if degree == 0:
        trained = [k for k in trained if k != "shn"]

    if config.fit_shading and poser is None:
        raise InputError("--shading", "a world-frame shading is fitted for posed (robot) Gaussians only")
    shading = torch.tensor(unit_shading(), requires_grad=config.fit_shading)

    def make_optimizer() -> torch.optim.Optimizer:
        for k in params:
            params[k].requires_grad_(k in trained)
        groups = [{"params": [params[k]], "lr": lrs[k], "name": k} for k in trained]
        if config.fit_shading:
            groups.append({"params": [shading], "lr": config.lr_shading, "name": "shading"})
        return torch.optim.Adam(groups, eps=1e-15)

    def render(view: int) -> torch.Tensor:
        camera = cameras[view]
        quats = params["quats"] / params["quats"].norm(dim=1, keepdim=True).clamp_min(1e-12)
        means = params["means"]
        sh = torch.cat([params["sh0"], params["shn"]], dim=1)
        if poser is not None:
            means, quats = poser(means, quats, view)
            if hasattr(poser, "rotate_sh"):
                sh = poser.rotate_sh(sh, view)  # type: ignore[attr-defined]
            if config.fit_shading:
                sh = shade_sh(sh, quats, shading)
        rgb, _, _ = rasterization(
            means.contiguous(),
            quats.contiguous(),
            params["log_scales"].exp(),
            torch.sigmoid(params["logit_opacities"]),
            sh.contiguous(),
            torch.tensor(camera.viewmat, dtype=torch.float32)[None],
            torch.tensor(camera.K, dtype=torch.float32)[None],
            camera.width,
            camera.height,
            sh_degree=degree,
            backgrounds=background[None],
            backend=config.backend,
        )
        return rgb[0].clamp(0.0, 1.0)

    def evaluate() -> tuple[list[float], list[float]]:
        ps, ss = [], []
        with torch.no_grad():
            for v in held:
                out = render(v)
                m = None if masks is None else masks[v]
                ps.append(psnr(out.numpy(), targets[v].numpy(), m))
                ss.append(float(ssim(out, targets[v])))
        return ps, ss

    psnr_before, ssim_before = evaluate()
    optimizer = make_optimizer()
    rng = np.random.default_rng(config.seed)
    history: list[float] = []
    pruned = 0
    for step in range(config.iterations):
        view = int(train[rng.integers(len(train))])
        loss = appearance_loss(render(view), targets[view], config.ssim_lambda)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
        if not math.isfinite(history[-1]):
            break
        if config.prune_opacity > 0 and (step + 1) % config.prune_every == 0 and step + 1 < config.iterations:
            with torch.no_grad():
                keep = torch.sigmoid(params["logit_opacities"]) >= config.prune_opacity
                if not keep.all() and keep.any():
                    pruned += int((~keep).sum())
                    for k in params:
                        params[k] = params[k].detach()[keep].clone()
                    if poser is not None and hasattr(poser, "subset"):
                        poser.subset(keep)  # type: ignore[attr-defined]
                    optimizer = make_optimizer()
        if progress is not None:
            progress(step + 1, config.iterations)
    with torch.no_grad():
        residual = float(np.mean([float(appearance_loss(render(v), targets[v], config.ssim_lambda)) for v in train]))
    psnr_after, ssim_after = evaluate()
    quats = params["quats"].detach()
    quats = quats / quats.norm(dim=1, keepdim=True)
    refined = Gaussians(
        means=params["means"].detach().numpy(),
        quats_wxyz=quats.numpy(),
        scales=params["log_scales"].detach().exp().numpy(),
        opacities=torch.sigmoid(params["logit_opacities"]).detach().numpy(),
        sh=torch.cat([params["sh0"], params["shn"]], dim=1).detach().numpy(),
    )
    return FitResult(
        gaussians=refined,
        residual=residual,
        converged=math.isfinite(residual) and residual <= config.max_residual,
        iterations=len(history),
        pruned=pruned,
        held_out=held,
        psnr_before=psnr_before,
        psnr_after=psnr_after,
        ssim_before=ssim_before,
        ssim_after=ssim_after,
        history=history,
        shading=shading.detach().numpy().copy() if config.fit_shading else None,
    )


def render_views(
    gaussians: Gaussians, cameras: list[Camera], config: AppearanceConfig | None = None
) -> list[np.ndarray]:
    """Renders [H, W, 3] in [0, 1] of ``gaussians`` (world frame) from ``cameras`` over the config's background."""
    import torch  # noqa: PLC0415

    from splattwin.render.rasterizer import rasterization  # noqa: PLC0415

    config = config or AppearanceConfig()
    out = []
    with torch.no_grad():
        for c in cameras:
            rgb, _, _ = rasterization(
                torch.tensor(gaussians.means), torch.tensor(gaussians.quats_wxyz), torch.tensor(gaussians.scales),
                torch.tensor(gaussians.opacities), torch.tensor(gaussians.sh),
                torch.tensor(c.viewmat, dtype=torch.float32)[None], torch.tensor(c.K, dtype=torch.float32)[None],
                c.width, c.height, sh_degree=gaussians.sh_degree,
                backgrounds=torch.tensor(config.background, dtype=torch.float32)[None], backend=config.backend,
            )  # fmt: skip
            out.append(rgb[0].clamp(0, 1).numpy())
    return out
