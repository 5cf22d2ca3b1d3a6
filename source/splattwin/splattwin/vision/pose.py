"""Robot joint angles (and optionally camera extrinsics) from images by render-and-compare (Dr. Robot, seed 002).

The robot's link-bound Gaussians are posed by the torch kinematics at ``q``
(:meth:`splattwin.robot.kinematics.Robot.pose_gaussians`), rendered by the differentiable rasterizer, and
compared with the observed images: a silhouette term (rendered alpha against the robot's mask, at several blur
scales so a pose that overlaps its mask little still gets a gradient) plus a photometric term (L1 against the
image, composited over the observed background colour). Adam on ``q`` with a projection onto the joint limits
after every step; random restarts within the start's neighbourhood keep the best fit. A fit is *converged* when the
silhouette IoU reaches ``min_iou`` in every view; it is never returned silently: :class:`PoseFit` carries the
residual and the IoU, and the pipeline refuses an unconverged frame unless told to keep it.

The camera fit (``fit_camera``) optimises a small rigid correction ``exp([w, t])`` applied on the left of each
view matrix (camera frame: rotation vector w [rad], translation t [m]).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from splattwin.render.camera import Camera
    from splattwin.robot.kinematics import Robot

__all__ = [
    "FitOptions",
    "PoseFit",
    "apply_camera_delta",
    "estimate_pose",
    "erode",
    "estimate_sequence",
    "masks_from_background",
    "median_background",
    "pose_loss",
    "render_robot",
    "silhouette_iou",
]


@dataclass(frozen=True)
class FitOptions:
    """Settings of one render-and-compare fit.

    Attributes:
        iterations: Adam steps per start.
        lr: joint step size [rad] at the start (cosine decay to ``lr / 10``); a prismatic joint steps a tenth of
            it in metres (a gripper's range is centimetres).
        camera_lr: step size of the camera correction (rotation rad, translation m).
        photometric: weight of the L1 photometric term (0, the default: silhouette only; the link Gaussians'
            colours come from the meshes' materials, unshaded, so against a shaded image of another renderer the
            colour term pulls off the pose; use it once fit-appearance has fitted the robot's Gaussians).
        blur_px: blur scales [px] of the silhouette pyramid (0: the sharp mask). The blurred levels widen the basin
            and fade out over the first half of the steps: their minimum is biased by the model's fatter
            silhouette, the sharp level's is not (measured in docs/pose.md).
        erode_px: the rendered alpha is eroded by this many pixels (a min filter) before it meets the mask. Link
            Gaussians sampled on a mesh (disks of std = their spacing, many overlapping at a silhouette edge)
            render about one pixel fatter than the mesh at the resolutions measured (docs/pose.md); left as it
            is, that bias pulls thin links to turn edge-on. 0 turns it off.
        scale: factor on the Gaussians' sizes while fitting (1: the twin's Gaussians as they are). With 0.5 and a
            one-pixel erosion the loss minimum over one joint lands within 0.01 rad of the true angle on the test
            arm (TinyRenderer images); either alone leaves a bias of 0.05-0.1 rad.
        restarts: extra starts, each ``q0`` plus uniform noise of ``restart_spread`` (clipped to the limits).
        restart_spread: half-width of the restart noise [rad or m].
        min_iou: silhouette IoU every view must reach for the fit to count as converged.
        smooth: weight of ``||q - q_prior||^2`` (temporal smoothing over a video; 0 for a single image).
        fit_camera: also fit each camera's extrinsics.
        seed: random seed of the restarts.
        backend: rasterizer backend ("cpu", "gsplat", "auto").
    """

    iterations: int = 120
    lr: float = 0.03
    camera_lr: float = 0.01
    photometric: float = 0.0
    blur_px: tuple[float, ...] = (8.0, 2.0, 0.0)
    erode_px: int = 1
    scale: float = 0.5
    restarts: int = 0
    restart_spread: float = 0.3
    min_iou: float = 0.8
    smooth: float = 0.0
    fit_camera: bool = False
    seed: int = 0
    backend: str = "cpu"


@dataclass
class PoseFit:
    """The result of a fit.

    Attributes:
        q: joint values [dof] (rad or m), ``robot.joint_names`` order, within the limits.
        viewmats: fitted (or given) world -> camera transforms [C, 4, 4].
        residual: final loss (silhouette + photometric), dimensionless.
        iou: silhouette IoU per view [C] (rendered alpha > 0.5 against the mask).
        converged: every view's IoU >= ``min_iou``.
        iterations: Adam steps taken over all starts.
        starts: starts tried (1 + restarts).
        history: loss per step of the best start.
    """

    q: np.ndarray
    viewmats: np.ndarray
    residual: float
    iou: np.ndarray
    converged: bool
    iterations: int
    starts: int
    history: list[float] = field(default_factory=list)


def _skew(v: torch.Tensor) -> torch.Tensor:
    import torch  # noqa: PLC0415

    zero = torch.zeros((), dtype=v.dtype)
    return torch.stack(
        [
            torch.stack([zero, -v[2], v[1]]),
            torch.stack([v[2], zero, -v[0]]),
            torch.stack([-v[1], v[0], zero]),
        ]
    )


def apply_camera_delta(viewmat: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``[R(w) t; 0 1] @ viewmat``: a rigid correction in the camera frame.

    Args:
        viewmat: world -> camera [4, 4].
        delta: [6] rotation vector w [rad] then translation t [m] (camera axes).

    Returns:
        the corrected world -> camera [4, 4], differentiable in ``delta``.
    """
    import torch  # noqa: PLC0415

    w, t = delta[:3], delta[3:]
    theta2 = (w * w).sum()
    skew = _skew(w)
    eye = torch.eye(3, dtype=delta.dtype)
    # Rodrigues with the series near 0 so the gradient at w = 0 is exact (sin/theta -> 1, (1-cos)/theta^2 -> 1/2).
    theta = torch.sqrt(theta2 + 1e-30)
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / (theta2 + 1e-30))
    rotation = eye + a * skew + b * (skew @ skew)
    correction = torch.eye(4, dtype=delta.dtype)
    correction = torch.cat([torch.cat([rotation, t[:, None]], dim=1), correction[3:]], dim=0)
    return correction @ viewmat.to(delta.dtype)


def render_robot(
    robot: Robot,
    q: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,  # noqa: N803
    width: int,
    height: int,
    *,
    backgrounds: torch.Tensor | None = None,
    backend: str = "cpu",
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The robot's bound Gaussians at ``q`` seen from C cameras.

    Args:
        robot: a robot with bound Gaussians.
        q: joint values [dof] (rad or m).
        viewmats: world -> camera (OpenCV) [C, 4, 4].
        Ks: intrinsics [C, 3, 3] [px].
        width, height: image size [px].
        backgrounds: [C, 3] colour behind the robot (None: black).
        backend: rasterizer backend.
        scale: factor on the Gaussians' sizes (see :attr:`FitOptions.scale`).

    Returns:
        rgb [C, H, W, 3] in [0, 1] and alpha [C, H, W], differentiable in ``q`` and ``viewmats``.
    """
    import torch  # noqa: PLC0415

    from splattwin.render.rasterizer import rasterization  # noqa: PLC0415

    posed = robot.pose_gaussians(q[None])
    degree = int(robot.gaussians["sh_degree"]) if robot.gaussians is not None else 0
    rgb, alpha, _ = rasterization(
        posed["means"][0].contiguous(),
        posed["quats_wxyz"][0].contiguous(),
        posed["scales"] * scale,
        posed["opacities"],
        posed["sh"][0].contiguous(),
        viewmats.to(torch.float32),
        Ks.to(torch.float32),
        width,
        height,
        sh_degree=degree,
        backgrounds=None if backgrounds is None else backgrounds.to(torch.float32),
        backend=backend,
    )
    return rgb.clamp(0.0, 1.0), alpha[..., 0]


def erode(alpha: torch.Tensor, pixels: int) -> torch.Tensor:
    """Min filter of [C, H, W] over a (2 pixels + 1)^2 window (differentiable, through each window's minimum)."""
    import torch  # noqa: PLC0415

    if pixels <= 0:
        return alpha
    size = 2 * pixels + 1
    return -torch.nn.functional.max_pool2d(-alpha[:, None], size, stride=1, padding=pixels)[:, 0]


def _blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [C, H, W] (differentiable)."""
    import torch  # noqa: PLC0415

    if sigma <= 0:
        return images
    radius = int(np.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = images[:, None]
    out = torch.nn.functional.conv2d(out, kernel.view(1, 1, 1, -1), padding=(0, radius))
    out = torch.nn.functional.conv2d(out, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    return out[:, 0]


def pose_loss(
    rgb: torch.Tensor,
    alpha: torch.Tensor,
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    photometric: float,
    blur_px: tuple[float, ...],
    erode_px: int = 0,
    blur_weight: float = 1.0,
) -> torch.Tensor:
    """Silhouette pyramid MSE plus weighted L1 photometric error.

    Args:
        rgb: rendered colours [C, H, W, 3] (composited over the observed background).
        alpha: rendered opacity [C, H, W].
        images: observed [C, H, W, 3] in [0, 1].
        masks: observed robot masks [C, H, W] float in {0, 1}.
        photometric: weight of the L1 term.
        blur_px: blur scales [px] of the silhouette pyramid.
        erode_px: erosion of the rendered alpha before the silhouette terms (see :class:`FitOptions`).
        blur_weight: weight of the blurred levels (the sharp level keeps weight 1).

    Returns:
        scalar loss (mean over views and pixels).
    """
    alpha = erode(alpha, erode_px)
    loss = alpha.new_zeros(())
    for sigma in blur_px:
        weight = 1.0 if sigma <= 0 else blur_weight
        if weight > 0:
            loss = loss + weight * ((_blur(alpha, sigma) - _blur(masks, sigma)) ** 2).mean()
    if photometric > 0:
        loss = loss + photometric * (rgb - images).abs().mean()
    return loss


def silhouette_iou(alpha: np.ndarray, mask: np.ndarray) -> float:
    """IoU of ``alpha > 0.5`` and ``mask`` ([H, W]); 1.0 when both are empty."""
    rendered = np.asarray(alpha) > 0.5
    observed = np.asarray(mask) > 0.5
    union = np.logical_or(rendered, observed).sum()
    return 1.0 if union == 0 else float(np.logical_and(rendered, observed).sum() / union)


def median_background(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Median colour of each view's non-robot pixels [C, 3] (black where a view is all robot)."""
    out = np.zeros((len(images), 3), np.float32)
    for c, (image, mask) in enumerate(zip(images, masks, strict=True)):
        pixels = image[~mask]
        if len(pixels):
            out[c] = np.median(pixels, axis=0)
    return out


def _check_views(cameras: list[Camera], images: np.ndarray, masks: np.ndarray) -> None:
    from splattwin.errors import InputError  # noqa: PLC0415

    if len(cameras) == 0:
        raise InputError("--camera", "no camera given")
    if images.shape[0] != len(cameras) or masks.shape[0] != len(cameras):
        raise InputError("--images", f"{len(cameras)} cameras but {images.shape[0]} images / {masks.shape[0]} masks")
    for c, camera in enumerate(cameras):
        if images.shape[1:3] != (camera.height, camera.width) or masks.shape[1:] != (camera.height, camera.width):
            raise InputError(
                "--images",
                f"view {c}: image is {images.shape[2]}x{images.shape[1]} but its camera is "
                f"{camera.width}x{camera.height}",
            )
    if cameras and any(c.width != cameras[0].width or c.height != cameras[0].height for c in cameras):
        raise InputError("--camera", "all cameras of one fit must have the same image size")


def estimate_pose(
    robot: Robot,
    cameras: list[Camera],
    images: np.ndarray,
    masks: np.ndarray,
    q0: np.ndarray,
    options: FitOptions | None = None,
    *,
    q_prior: np.ndarray | None = None,
    progress: Any = None,
) -> PoseFit:
    """Fit the robot's joint values (and optionally the cameras) to C simultaneous views.

    Args:
        robot: a robot with bound Gaussians; its ``base_world`` places it.
        cameras: C cameras (same image size).
        images: [C, H, W, 3] float in [0, 1].
        masks: [C, H, W] bool, the robot's pixels.
        q0: start [dof] (rad or m); clipped to the limits.
        options: fit settings.
        q_prior: the previous frame's answer for the temporal term (``options.smooth``).
        progress: optional callable(step, total).

    Returns:
        the best start's :class:`PoseFit` (lowest residual).

    Raises:
        InputError: image sizes that do not match their cameras, counts that differ, a q0 of the wrong length.
    """
    import torch  # noqa: PLC0415

    from splattwin.errors import InputError  # noqa: PLC0415

    options = options or FitOptions()
    images = np.asarray(images, np.float32)
    masks = np.asarray(masks, bool)
    _check_views(cameras, images, masks)
    q0 = np.asarray(q0, np.float64)
    if q0.shape != (robot.dof,):
        raise InputError(
            "--init", f"expected {robot.dof} joint values ({', '.join(robot.joint_names)}), got {q0.shape}"
        )
    if not masks.any(axis=(1, 2)).all():
        empty = int(np.argmin(masks.any(axis=(1, 2))))
        raise InputError("--images", f"view {empty}: the robot's mask is empty (the robot is not visible)")
    limits = robot.joint_limits.numpy()
    lower, upper = torch.tensor(limits[:, 0]), torch.tensor(limits[:, 1])
    width, height = cameras[0].width, cameras[0].height
    target = torch.from_numpy(images)
    target_masks = torch.from_numpy(masks.astype(np.float32))
    backgrounds = torch.from_numpy(median_background(images, masks))
    viewmats0 = torch.tensor(np.stack([c.viewmat for c in cameras]), dtype=torch.float64)
    Ks = torch.tensor(np.stack([c.K for c in cameras]), dtype=torch.float32)  # noqa: N806
    prior = None if q_prior is None else torch.tensor(np.asarray(q_prior, np.float64))
    rng = np.random.default_rng(options.seed)
    starts = [np.clip(q0, limits[:, 0], limits[:, 1])]
    for _ in range(options.restarts):
        noise = rng.uniform(-options.restart_spread, options.restart_spread, size=robot.dof)
        starts.append(np.clip(q0 + noise, limits[:, 0], limits[:, 1]))
    best: PoseFit | None = None
    total = options.iterations * len(starts)
    done = 0
    kinds = {j.name: j.type for j in robot.spec.joints}
    units = torch.tensor([0.1 if kinds.get(name) == "prismatic" else 1.0 for name in robot.joint_names])
    units = units.to(torch.float64)
    for start in starts:
        # Adam's step is about lr in each parameter: optimise q / units so a prismatic joint steps in 0.1 lr.
        u = torch.tensor(start, dtype=torch.float64) / units
        u.requires_grad_(True)
        delta = torch.zeros(len(cameras), 6, dtype=torch.float64, requires_grad=options.fit_camera)
        groups = [{"params": [u], "lr": options.lr}]
        if options.fit_camera:
            groups.append({"params": [delta], "lr": options.camera_lr})
        optimiser = torch.optim.Adam(groups)
        base_lrs = [g["lr"] for g in optimiser.param_groups]
        history: list[float] = []
        best_q, best_delta, best_loss = start.copy(), np.zeros((len(cameras), 6)), np.inf
        for step in range(options.iterations):
            # cosine decay to a tenth: large steps find the basin, small ones settle in it
            scale = 0.1 + 0.45 * (1 + np.cos(np.pi * step / max(options.iterations - 1, 1)))
            for group, lr in zip(optimiser.param_groups, base_lrs, strict=True):
                group["lr"] = lr * scale
            optimiser.zero_grad()
            q = u * units
            viewmats = torch.stack([apply_camera_delta(viewmats0[c], delta[c]) for c in range(len(cameras))])
            rgb, alpha = render_robot(
                robot,
                q,
                viewmats,
                Ks,
                width,
                height,
                backgrounds=backgrounds,
                backend=options.backend,
                scale=options.scale,
            )
            loss = pose_loss(
                rgb,
                alpha,
                target,
                target_masks,
                photometric=options.photometric,
                blur_px=options.blur_px,
                erode_px=options.erode_px,
                blur_weight=max(0.0, 1.0 - 2.0 * step / options.iterations),
            )
            if prior is not None and options.smooth > 0:
                loss = loss + options.smooth * ((q - prior) ** 2).sum()
            value = float(loss.detach())
            history.append(value)
            if value < best_loss:
                best_loss, best_q, best_delta = value, q.detach().numpy().copy(), delta.detach().numpy().copy()
            loss.backward()
            optimiser.step()
            with torch.no_grad():  # the limits as a projection: a step past a limit stops at it
                u.copy_(torch.maximum(torch.minimum(u * units, upper), lower) / units)
            done += 1
            if progress is not None:
                progress(done, total)
        with torch.no_grad():
            qt = torch.tensor(best_q)
            dt = torch.tensor(best_delta)
            viewmats = torch.stack([apply_camera_delta(viewmats0[c], dt[c]) for c in range(len(cameras))])
            rgb, alpha = render_robot(
                robot, qt, viewmats, Ks, width, height, backgrounds=backgrounds, scale=options.scale
            )
            residual = float(
                pose_loss(
                    rgb,
                    alpha,
                    target,
                    target_masks,
                    photometric=options.photometric,
                    blur_px=options.blur_px,
                    erode_px=options.erode_px,
                )
            )
            eroded = erode(alpha, options.erode_px).numpy()
        iou = np.array([silhouette_iou(a, m) for a, m in zip(eroded, masks, strict=True)])
        fit = PoseFit(
            q=best_q,
            viewmats=viewmats.numpy(),
            residual=residual,
            iou=iou,
            converged=bool((iou >= options.min_iou).all()),
            iterations=done,
            starts=len(starts),
            history=history,
        )
        if best is None or fit.residual < best.residual:
            best = fit
    assert best is not None
    best.iterations = done
    return best


def estimate_sequence(
    robot: Robot,
    cameras: list[Camera],
    images: np.ndarray,
    masks: np.ndarray,
    q0: np.ndarray,
    options: FitOptions | None = None,
    *,
    first: FitOptions | None = None,
    progress: Any = None,
) -> list[PoseFit]:
    """Frame-by-frame fits over a video, each warm-started from the previous answer.

    Args:
        robot, cameras: as :func:`estimate_pose`.
        images: [T, C, H, W, 3]; masks: [T, C, H, W] bool.
        q0: start of the first frame [dof].
        options: settings of the later frames (``smooth`` ties each to the previous answer).
        first: settings of the first frame (default ``options`` with no smoothing: it fits from scratch).
        progress: optional callable(frame, frames).

    Returns:
        one :class:`PoseFit` per frame. A later frame starts at the constant-velocity extrapolation of the two
        previous answers (clipped to the limits); with ``fit_camera`` the fitted cameras carry over.
    """
    from dataclasses import replace  # noqa: PLC0415

    from splattwin.render.camera import Camera  # noqa: PLC0415

    options = options or FitOptions(smooth=1e-3)
    first = first or replace(options, smooth=0.0)
    limits = robot.joint_limits.numpy()
    fits: list[PoseFit] = []
    views = list(cameras)
    for t in range(len(images)):
        if t == 0:
            start, prior, settings = np.asarray(q0, np.float64), None, first
        else:
            prior = fits[-1].q
            start = prior if t == 1 else 2 * prior - fits[-2].q
            start = np.clip(start, limits[:, 0], limits[:, 1])
            settings = options
        fit = estimate_pose(robot, views, images[t], masks[t], start, settings, q_prior=prior)
        fits.append(fit)
        if settings.fit_camera:
            views = [
                Camera(viewmat=m, K=c.K, width=c.width, height=c.height, near=c.near, far=c.far)
                for m, c in zip(fit.viewmats, cameras, strict=True)
            ]
        if progress is not None:
            progress(t + 1, len(images))
    return fits


def masks_from_background(images: np.ndarray, background: np.ndarray, *, threshold: float = 0.08) -> np.ndarray:
    """The robot's pixels as those differing from an empty-scene image: max channel difference > ``threshold``.

    Args:
        images: [..., H, W, 3] in [0, 1].
        background: [H, W, 3] the same view without the robot.
        threshold: colour difference (0..1) above which a pixel is the robot's.

    Returns:
        bool masks [..., H, W].
    """
    return np.abs(np.asarray(images, np.float32) - np.asarray(background, np.float32)).max(axis=-1) > threshold
