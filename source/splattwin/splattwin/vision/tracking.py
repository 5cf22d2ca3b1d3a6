"""An object's 6-DoF pose through a video by render-and-compare with its Gaussians (issue 20 item 5).

Each frame starts from a constant-velocity prediction of the two previous answers (the first from the twin's
pose) and fits a small rigid correction ``exp([w, t])`` about the object's centre: the object's Gaussians moved by
it are rendered together with the occluders' Gaussians (the robot at its logged joints) in one rasterization, so
every pixel composites both front to back by depth; a fourth feature channel (1 on the object's Gaussians, 0 on
the occluders') renders the object's *visible* alpha, which is what the observed object mask is compared with. A
part of the object hidden by the robot is therefore neither expected nor penalised, and the robot's own pixels
never pull the object. Loss: silhouette MSE at blur scales (the blurred ones fade out over the first half of the
steps) plus an L1 photometric term; Adam with a cosine-decayed step; an early stop once the correction stops
moving. Only a region of interest around the predicted and observed object is rendered (its size is the same for
every camera of a frame), so a frame costs what the object's pixels cost, not the image's.

A frame is *converged* when its silhouette IoU reaches ``min_iou`` in every camera that sees the object; a frame
whose object is seen by no camera keeps the prediction and is not converged. Every :class:`TrackedFrame` carries
its residual and IoU: the pipeline refuses unconverged frames unless told to keep them, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import torch

    from splattwin.gaussians import Gaussians
    from splattwin.render.camera import Camera

__all__ = [
    "TrackOptions",
    "TrackedFrame",
    "predict_pose",
    "rigid_gaussians",
    "rotation_error_deg",
    "track_frame",
    "track_object",
]

_TILE = 16


@dataclass(frozen=True)
class TrackOptions:
    """Settings of the per-frame fit.

    Attributes:
        iterations: most Adam steps per frame (the prediction starts each frame close, so few are needed).
        first_iterations: most steps of the first frame, which starts from the twin's pose.
        lr_rotation: step of the rotation correction [rad] at the start (cosine decay to a tenth).
        lr_translation: step of the translation correction [m] at the start.
        photometric: weight of the L1 colour term (the Gaussians' view-independent DC colours against the image).
        blur_px: blur scales [px] of the silhouette pyramid (0: the sharp mask).
        min_iou: silhouette IoU each camera that sees the object must reach for the frame to count as converged.
        stop_rotation, stop_translation: early stop when every step of the last ``patience`` moved the correction
            less than these [rad], [m].
        patience: steps the stop criterion must hold.
        scale: factor on the Gaussian sizes (the object's and the occluders') while fitting.
        erode_px: the rendered visible alpha is eroded by this many pixels (a min filter) before it meets the
            mask. The defaults (1, 0) suit Gaussians fitted to images; Gaussians sampled on a mesh (disks of std =
            their spacing) render fatter than the mesh (docs/pose.md measures it on robot links), and ``scale``
            0.5 with one pixel of erosion correct most of that bias, as there (docs/tracking.md).
        margin_px: the region of interest extends this far beyond the object's predicted and observed pixels.
        backend: rasterizer backend ("cpu", "gsplat", "auto").
    """

    iterations: int = 30
    first_iterations: int = 80
    lr_rotation: float = 0.01
    lr_translation: float = 0.002
    photometric: float = 0.5
    blur_px: tuple[float, ...] = (3.0, 0.0)
    min_iou: float = 0.8
    stop_rotation: float = 2e-4
    stop_translation: float = 2e-5
    patience: int = 3
    scale: float = 1.0
    erode_px: int = 0
    margin_px: int = 8
    backend: str = "cpu"


@dataclass
class TrackedFrame:
    """One frame's fit.

    Attributes:
        pose: world from object [4, 4] (the object prim's local-to-world, metres).
        residual: final loss (silhouette + photometric), dimensionless.
        iou: silhouette IoU per camera [C] (rendered visible alpha > 0.5 against the mask; 1 where both empty).
        visible: per camera whether the observed mask has any object pixel [C].
        converged: every camera that sees the object reached ``min_iou`` (False when no camera sees it).
        iterations: Adam steps taken.
        history: loss per step.
    """

    pose: np.ndarray
    residual: float
    iou: np.ndarray
    visible: np.ndarray
    converged: bool
    iterations: int
    history: list[float] = field(default_factory=list)


def _rotvec_to_matrix(w: np.ndarray) -> np.ndarray:
    theta = float(np.linalg.norm(w))
    if theta < 1e-12:
        return np.eye(3)
    k = w / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx


def _matrix_to_rotvec(rotation: np.ndarray) -> np.ndarray:
    cos = np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0)
    theta = float(np.arccos(cos))
    axis = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]])
    if theta < 1e-9:
        return 0.5 * axis
    if np.pi - theta < 1e-6:  # near a half turn: the axis from the symmetric part
        sym = (rotation + np.eye(3)) / 2
        k = np.sqrt(np.clip(np.diag(sym), 0, None))
        k = k * np.sign(np.where(sym[np.argmax(k)] >= 0, 1.0, -1.0))
        return theta * k / np.linalg.norm(k)
    return theta * axis / (2 * np.sin(theta))


def rotation_error_deg(a: np.ndarray, b: np.ndarray) -> float:
    """The angle [deg] of the rotation between two poses' (or rotations') rotation blocks."""
    ra, rb = np.asarray(a)[:3, :3], np.asarray(b)[:3, :3]
    return float(np.degrees(np.linalg.norm(_matrix_to_rotvec(ra.T @ rb))))


def predict_pose(previous: np.ndarray, before: np.ndarray | None, ratio: float = 1.0) -> np.ndarray:
    """Constant-velocity prediction: the last frame's motion repeated ``ratio`` times (dt_next / dt_last).

    The position moves on linearly and the rotation on by the same angular velocity (about the object's origin,
    in the world frame): ``p + r (p - p_before)``, ``Exp(r Log(R R_before^T)) R``.
    """
    previous = np.asarray(previous, np.float64)
    if before is None:
        return previous.copy()
    before = np.asarray(before, np.float64)
    out = np.eye(4)
    step = _matrix_to_rotvec(previous[:3, :3] @ before[:3, :3].T)
    out[:3, :3] = _rotvec_to_matrix(ratio * step) @ previous[:3, :3]
    out[:3, 3] = previous[:3, 3] + ratio * (previous[:3, 3] - before[:3, 3])
    return out


def rigid_gaussians(gaussians: Gaussians, pose: np.ndarray) -> Gaussians:
    """Gaussians moved rigidly by ``pose`` [4, 4] (a proper rotation and a translation; SH kept as they are)."""
    from splattwin.geometry.transforms import Similarity  # noqa: PLC0415

    return Similarity.from_matrix(pose).apply_gaussians(gaussians)


def _quat_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product a * b of [4] (or [N, 4]) quaternions, w first."""
    import torch  # noqa: PLC0415

    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def _rotvec_quat(w: torch.Tensor) -> torch.Tensor:
    """Unit quaternion (w first) of a rotation vector, with the series near 0 so the gradient there is exact."""
    import torch  # noqa: PLC0415

    theta2 = (w * w).sum()
    theta = torch.sqrt(theta2 + 1e-30)
    small = theta2 < 1e-8
    half_sinc = torch.where(small, 0.5 - theta2 / 48, torch.sin(theta / 2) / theta)
    real = torch.where(small, 1 - theta2 / 8, torch.cos(theta / 2))
    return torch.cat([real[None], half_sinc * w])


@dataclass
class _Scene:
    """One frame's fixed inputs, cropped to the region of interest, as tensors."""

    means: torch.Tensor  # object at the prediction, world [N, 3] float64
    quats: torch.Tensor  # [N, 4] float64
    centre: torch.Tensor  # [3] float64, the rotation centre
    scales: torch.Tensor
    opacities: torch.Tensor
    features: torch.Tensor  # [N, 4] rgb + 1
    occluder: tuple[torch.Tensor, ...] | None  # means, quats, scales, opacities, features (flag 0), float32
    viewmats: torch.Tensor
    Ks: torch.Tensor  # noqa: N815
    width: int
    height: int
    images: torch.Tensor  # [C, h, w, 3]
    masks: torch.Tensor  # [C, h, w] float
    backgrounds: torch.Tensor  # [C, 4]


def _tensors(g: Gaussians, flag: float, scale: float = 1.0) -> tuple[torch.Tensor, ...]:
    import torch  # noqa: PLC0415

    colours = np.clip(g.colors, 0.0, 1.0)
    features = np.concatenate([colours, np.full((len(g), 1), flag, np.float32)], axis=1)
    return tuple(
        torch.from_numpy(np.ascontiguousarray(a, np.float32))
        for a in (g.means, g.quats_wxyz, g.scales * np.float32(scale), g.opacities, features)
    )


def _pixel_box(g: Gaussians, camera: Camera) -> tuple[float, float, float, float] | None:
    """Bounding box [x0, y0, x1, y1] px of the Gaussians' 3-sigma spheres in front of the camera, or None."""
    cam = g.means.astype(np.float64) @ camera.viewmat[:3, :3].T + camera.viewmat[:3, 3]
    radius = 3.0 * g.scales.max(axis=1).astype(np.float64)
    front = cam[:, 2] > camera.near
    if not front.any():
        return None
    cam, radius = cam[front], radius[front]
    fx, fy, cx, cy = camera.K[0, 0], camera.K[1, 1], camera.K[0, 2], camera.K[1, 2]
    x, y = fx * cam[:, 0] / cam[:, 2] + cx, fy * cam[:, 1] / cam[:, 2] + cy
    rx, ry = fx * radius / cam[:, 2], fy * radius / cam[:, 2]
    return float((x - rx).min()), float((y - ry).min()), float((x + rx).max()), float((y + ry).max())


def _mask_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _regions(
    predicted: Gaussians, cameras: Sequence[Camera], masks: np.ndarray, margin: int
) -> tuple[int, int, list[tuple[int, int]]]:
    """A region of interest of one size (w, h) for every camera, covering the predicted object and its mask; the
    top-left corner of each, kept inside its image."""
    boxes = []
    for camera, mask in zip(cameras, masks, strict=True):
        found = [b for b in (_pixel_box(predicted, camera), _mask_box(mask)) if b is not None]
        if not found:
            boxes.append(None)
            continue
        x0, y0 = min(b[0] for b in found) - margin, min(b[1] for b in found) - margin
        x1, y1 = max(b[2] for b in found) + margin, max(b[3] for b in found) + margin
        boxes.append((max(x0, 0.0), max(y0, 0.0), min(x1, camera.width), min(y1, camera.height)))
    sizes = [(b[2] - b[0], b[3] - b[1]) for b in boxes if b is not None and b[2] > b[0] and b[3] > b[1]]
    min_w, min_h = min(c.width for c in cameras), min(c.height for c in cameras)
    if not sizes:
        return min_w, min_h, [(0, 0)] * len(cameras)
    width = min(min_w, _TILE * int(np.ceil(max(s[0] for s in sizes) / _TILE)))
    height = min(min_h, _TILE * int(np.ceil(max(s[1] for s in sizes) / _TILE)))
    corners = []
    for camera, box in zip(cameras, boxes, strict=True):
        if box is None or box[2] <= box[0] or box[3] <= box[1]:
            box = (0.0, 0.0, float(camera.width), float(camera.height))
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0 = int(np.clip(round(cx - width / 2), 0, camera.width - width))
        y0 = int(np.clip(round(cy - height / 2), 0, camera.height - height))
        corners.append((x0, y0))
    return width, height, corners


def _in_regions(
    g: Gaussians, cameras: Sequence[Camera], corners: list[tuple[int, int]], width: int, height: int
) -> np.ndarray:
    """Which Gaussians can reach any camera's region of interest (3-sigma circle test): an occluder (a robot of
    30k Gaussians) costs only what it puts in front of or behind the object."""
    keep = np.zeros(len(g), bool)
    radius = 3.0 * g.scales.max(axis=1).astype(np.float64)
    for camera, (x0, y0) in zip(cameras, corners, strict=True):
        cam = g.means.astype(np.float64) @ camera.viewmat[:3, :3].T + camera.viewmat[:3, 3]
        z = np.maximum(cam[:, 2], 1e-9)
        x = camera.K[0, 0] * cam[:, 0] / z + camera.K[0, 2]
        y = camera.K[1, 1] * cam[:, 1] / z + camera.K[1, 2]
        r = max(camera.K[0, 0], camera.K[1, 1]) * radius / z + 1.0
        keep |= (
            (cam[:, 2] > camera.near) & (x + r >= x0) & (x - r <= x0 + width) & (y + r >= y0) & (y - r <= y0 + height)
        )
    return keep


def _scene(
    predicted: Gaussians,
    occluder: Gaussians | None,
    cameras: Sequence[Camera],
    images: np.ndarray,
    masks: np.ndarray,
    backgrounds: np.ndarray,
    margin: int,
    scale: float,
) -> _Scene:
    import torch  # noqa: PLC0415

    width, height, corners = _regions(predicted, cameras, masks, margin)
    Ks = []  # noqa: N806
    crops_i, crops_m = [], []
    for camera, image, mask, (x0, y0) in zip(cameras, images, masks, corners, strict=True):
        K = np.array(camera.K, np.float64)  # noqa: N806
        K[0, 2] -= x0
        K[1, 2] -= y0
        Ks.append(K)
        crops_i.append(image[y0 : y0 + height, x0 : x0 + width])
        crops_m.append(mask[y0 : y0 + height, x0 : x0 + width])
    if occluder is not None and len(occluder):
        occluder = occluder.subset(_in_regions(occluder, cameras, corners, width, height))
    obj = _tensors(predicted, 1.0, scale)
    means = obj[0].double()
    backgrounds4 = np.concatenate([backgrounds, np.zeros((len(cameras), 1))], axis=1)
    return _Scene(
        means=means,
        quats=obj[1].double(),
        centre=means.mean(dim=0),
        scales=obj[2],
        opacities=obj[3],
        features=obj[4],
        occluder=None if occluder is None or len(occluder) == 0 else _tensors(occluder, 0.0, scale),
        viewmats=torch.tensor(np.stack([c.viewmat for c in cameras]), dtype=torch.float32),
        Ks=torch.tensor(np.stack(Ks), dtype=torch.float32),
        width=width,
        height=height,
        images=torch.from_numpy(np.ascontiguousarray(np.stack(crops_i), np.float32)),
        masks=torch.from_numpy(np.stack(crops_m).astype(np.float32)),
        backgrounds=torch.tensor(backgrounds4, dtype=torch.float32),
    )


def _render(scene: _Scene, delta: torch.Tensor, backend: str) -> tuple[torch.Tensor, torch.Tensor]:
    """rgb [C, h, w, 3] and the object's visible alpha [C, h, w] with the correction ``delta`` applied."""
    import torch  # noqa: PLC0415

    from splattwin.render.rasterizer import rasterization  # noqa: PLC0415
    from splattwin.vision.pose import apply_camera_delta  # noqa: PLC0415

    rotation = apply_camera_delta(torch.eye(4, dtype=torch.float64), delta)[:3, :3]
    means = (scene.means - scene.centre) @ rotation.T + scene.centre + delta[3:]
    quats = _quat_multiply(_rotvec_quat(delta[:3])[None], scene.quats)
    parts = [means.float(), quats.float(), scene.scales, scene.opacities, scene.features]
    if scene.occluder is not None:
        parts = [torch.cat([a, b]) for a, b in zip(parts, scene.occluder, strict=True)]
    colours, _, _ = rasterization(
        parts[0].contiguous(),
        parts[1].contiguous(),
        parts[2].contiguous(),
        parts[3].contiguous(),
        parts[4].contiguous(),
        scene.viewmats,
        scene.Ks,
        scene.width,
        scene.height,
        backgrounds=scene.backgrounds,
        backend=backend,
    )
    return colours[..., :3].clamp(0.0, 1.0), colours[..., 3]


def _loss(
    scene: _Scene, rgb: torch.Tensor, visible: torch.Tensor, options: TrackOptions, blur_weight: float
) -> torch.Tensor:
    from splattwin.vision.pose import erode, pose_loss  # noqa: PLC0415

    return pose_loss(
        rgb,
        erode(visible, options.erode_px),
        scene.images,
        scene.masks,
        photometric=options.photometric,
        blur_px=options.blur_px,
        blur_weight=blur_weight,
    )


def track_frame(
    gaussians: Gaussians,
    cameras: Sequence[Camera],
    images: np.ndarray,
    masks: np.ndarray,
    predicted: np.ndarray,
    options: TrackOptions | None = None,
    *,
    occluder: Gaussians | None = None,
    backgrounds: np.ndarray | None = None,
    iterations: int | None = None,
) -> TrackedFrame:
    """Fit one frame's pose, starting from ``predicted``.

    Args:
        gaussians: the object's Gaussians in its own frame.
        cameras: C cameras.
        images: [C, H, W, 3] in [0, 1] (every camera the same size).
        masks: [C, H, W] bool, the object's visible pixels.
        predicted: world from object [4, 4] to start from.
        options: fit settings.
        occluder: world-frame Gaussians in front of or behind the object (the robot at this frame's joints).
        backgrounds: [C, 3] colour behind everything (default: median of each view's non-object pixels).
        iterations: most steps (default ``options.iterations``).

    Returns:
        the :class:`TrackedFrame` of the lowest loss reached.
    """
    import torch  # noqa: PLC0415

    from splattwin.vision.pose import erode, median_background, silhouette_iou  # noqa: PLC0415

    options = options or TrackOptions()
    steps = options.iterations if iterations is None else iterations
    images = np.asarray(images, np.float32)
    masks = np.asarray(masks, bool)
    predicted = np.asarray(predicted, np.float64)
    if backgrounds is None:
        backgrounds = median_background(images, masks)
    visible = masks.any(axis=(1, 2))
    moved = rigid_gaussians(gaussians, predicted)
    scene = _scene(
        moved, occluder, cameras, images, masks, np.asarray(backgrounds, np.float64), options.margin_px, options.scale
    )
    delta = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=1.0)
    lrs = torch.tensor([options.lr_rotation] * 3 + [options.lr_translation] * 3, dtype=torch.float64)
    history: list[float] = []
    best_loss, best = np.inf, np.zeros(6)
    quiet = 0
    taken = 0
    for step in range(steps if visible.any() else 0):
        decay = 0.1 + 0.45 * (1 + np.cos(np.pi * step / max(steps - 1, 1)))
        optimiser.zero_grad()
        # Adam on delta / lrs: each parameter steps about its own lr (radians and metres differ by the object size)
        rgb, alpha = _render(scene, delta * lrs, options.backend)
        loss = _loss(scene, rgb, alpha, options, max(0.0, 1.0 - 2.0 * step / steps))
        value = float(loss.detach())
        history.append(value)
        if value < best_loss:
            best_loss, best = value, (delta.detach() * lrs).numpy().copy()
        loss.backward()
        before = delta.detach().clone()
        for group in optimiser.param_groups:
            group["lr"] = decay
        optimiser.step()
        taken += 1
        change = ((delta.detach() - before) * lrs).abs()
        small = bool((change[:3] < options.stop_rotation).all() and (change[3:] < options.stop_translation).all())
        quiet = quiet + 1 if small else 0
        if quiet >= options.patience:
            break
    with torch.no_grad():
        final = torch.tensor(best)
        rgb, alpha = _render(scene, final, options.backend)
        residual = float(_loss(scene, rgb, alpha, options, 0.0))
    eroded = erode(alpha, options.erode_px).numpy()
    iou = np.array([silhouette_iou(a, m) for a, m in zip(eroded, scene.masks.numpy(), strict=True)])
    correction = np.eye(4)
    rotation = _rotvec_to_matrix(best[:3])
    centre = scene.centre.numpy()
    correction[:3, :3] = rotation
    correction[:3, 3] = centre + best[3:] - rotation @ centre
    return TrackedFrame(
        pose=correction @ predicted,
        residual=residual,
        iou=iou,
        visible=visible,
        converged=bool(visible.any() and (iou[visible] >= options.min_iou).all()),
        iterations=taken,
        history=history,
    )


def _check(
    cameras: Sequence[Camera], names: Sequence[str], images: np.ndarray, masks: np.ndarray, times: np.ndarray
) -> None:
    if len(cameras) == 0:
        raise InputError("--cameras", "no camera given")
    if len(names) != len(cameras):
        raise InputError("--cameras", f"{len(cameras)} cameras but {len(names)} names")
    if images.ndim != 5 or images.shape[1] != len(cameras) or images.shape[-1] != 3:
        raise InputError("--images", f"expected [T, {len(cameras)}, H, W, 3] images, got {list(images.shape)}")
    if masks.shape != images.shape[:-1]:
        raise InputError("--images", f"masks {list(masks.shape)} do not match images {list(images.shape[:-1])}")
    if len(images) == 0:
        raise InputError("--images", "no frames")
    for camera, name in zip(cameras, names, strict=True):
        if images.shape[2:4] != (camera.height, camera.width):
            raise InputError(
                "--images",
                f"images are {images.shape[3]}x{images.shape[2]} but camera {name} is {camera.width}x{camera.height}",
            )
    times = np.asarray(times, np.float64)
    if times.shape != (len(images),) or not np.isfinite(times).all():
        raise InputError("--images", f"expected {len(images)} finite timestamps, got shape {list(times.shape)}")
    if len(times) > 1 and not (np.diff(times) > 0).all():
        i = int(np.argmax(np.diff(times) <= 0)) + 1
        raise InputError(
            "--images", f"timestamps not increasing: frame {i} at {times[i]:.6g} s after {times[i - 1]:.6g} s"
        )
    seen = masks.any(axis=(0, 2, 3))
    if not seen.all():
        name = names[int(np.argmin(seen))]
        raise InputError("--images", f"the object is not visible in any frame of camera {name} (its masks are empty)")


def track_object(
    gaussians: Gaussians,
    cameras: Sequence[Camera],
    images: np.ndarray,
    masks: np.ndarray,
    times: np.ndarray,
    pose0: np.ndarray,
    options: TrackOptions | None = None,
    *,
    names: Sequence[str] | None = None,
    occluders: Sequence[Gaussians | None] | None = None,
    backgrounds: np.ndarray | None = None,
    progress: Any = None,
) -> list[TrackedFrame]:
    """Track an object through T frames seen by C cameras.

    Args:
        gaussians: the object's Gaussians in its own frame (the object prim's).
        cameras: C cameras of the same image size.
        images: [T, C, H, W, 3] in [0, 1].
        masks: [T, C, H, W] bool, the object's visible pixels.
        times: [T] s, strictly increasing (their spacing scales the constant-velocity prediction).
        pose0: world from object [4, 4] at (or near) the first frame: the twin's pose.
        options: fit settings.
        names: camera names for messages (default ``camera 0``, ...).
        occluders: per frame the world-frame Gaussians of what can hide the object (the robot at the frame's
            logged joints), or None.
        backgrounds: [C, 3] colour behind everything (default: each frame's median non-object colour).
        progress: optional callable(frame, frames).

    Returns:
        one :class:`TrackedFrame` per frame.

    Raises:
        InputError: counts or sizes that do not match, timestamps not increasing, an object not visible in any
            frame of one camera.
    """
    options = options or TrackOptions()
    images = np.asarray(images, np.float32)
    masks = np.asarray(masks, bool)
    times = np.asarray(times, np.float64)
    names = list(names) if names is not None else [f"camera {c}" for c in range(len(cameras))]
    _check(cameras, names, images, masks, times)
    if occluders is not None and len(occluders) != len(images):
        raise InputError("--joints", f"{len(occluders)} occluder sets for {len(images)} frames")
    frames: list[TrackedFrame] = []
    for t in range(len(images)):
        if t == 0:
            start, steps = np.asarray(pose0, np.float64), options.first_iterations
        else:
            before = frames[-2].pose if t >= 2 else None
            ratio = 1.0 if t < 2 else (times[t] - times[t - 1]) / (times[t - 1] - times[t - 2])
            start, steps = predict_pose(frames[-1].pose, before, ratio), options.iterations
        frames.append(
            track_frame(
                gaussians,
                cameras,
                images[t],
                masks[t],
                start,
                options,
                occluder=None if occluders is None else occluders[t],
                backgrounds=backgrounds,
                iterations=steps,
            )
        )
        if progress is not None:
            progress(t + 1, len(images))
    return frames
