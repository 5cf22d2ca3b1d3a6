"""``splattwin fit-appearance``: refine a prim's Gaussians from posed images and write them back (docs/appearance.md).

Reads the prim's Gaussians (moved into the world frame), the cameras from the twin and one image per camera
(:func:`splattwin.io.images.read_frames`, the first frame), runs :func:`splattwin.vision.appearance.fit_appearance`,
and, when the fit converged, replaces the prim's Gaussians inside one twin transaction with ``customData`` naming
the images, iterations, loss and held-out PSNR. A JSON report and a comparison PNG (per held-out view: target,
before, after) are written atomically. Any bad input or an unconverged fit raises before the twin is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.vision.appearance import AppearanceConfig, FitResult, LinkPoser

__all__ = ["APPEARANCE_KEY", "FitAppearanceConfig", "fit_appearance_twin"]

APPEARANCE_KEY = "splattwin:appearance"
"""``customData`` key of a refined Gaussians prim: the fit's provenance."""


@dataclass
class FitAppearanceConfig:
    """Attributes: stage (the twin's root layer), prim (a Gaussians prim; None with ``robot``), cameras (names or
    prim paths, one per image source), images (per camera an image file or folder: its first frame; with ``robot``
    every frame), held_out (camera names never trained on), report (JSON path), comparison (PNG path or None), masks
    (per camera a mask file/folder or None), options, keep_unconverged (write even when the residual is above the
    bar), robot (a robot prim whose link Gaussians are fitted), joints (its joint log, CSV/NPZ, on the frames'
    clock), fps (frame rate of folders without timestamps.csv), held_out_every (with ``robot``: every k-th frame of
    each camera held out; 0: none)."""

    stage: Path
    prim: str | None
    cameras: list[str]
    images: list[Path]
    held_out: list[str]
    report: Path
    comparison: Path | None = None
    masks: list[Path] | None = None
    options: AppearanceConfig = field(default_factory=AppearanceConfig)
    keep_unconverged: bool = False
    robot: str | None = None
    joints: Path | None = None
    fps: float | None = None
    held_out_every: int = 0


def _check_counts(cameras: int, config: FitAppearanceConfig) -> None:
    """One image source (and mask source) per camera."""
    if len(config.images) != cameras:
        raise InputError("--images", f"{cameras} cameras ({', '.join(config.cameras)}) but {len(config.images)} images")
    if config.masks is not None and len(config.masks) != cameras:
        raise InputError("--masks", f"{cameras} cameras but {len(config.masks)} masks")


def _read_images(cameras: list[Any], names: list[str], config: FitAppearanceConfig) -> tuple[list[np.ndarray], Any]:
    from splattwin.io.images import read_frames  # noqa: PLC0415

    _check_counts(len(cameras), config)
    images, masks = [], []
    for c, (camera, name, source) in enumerate(zip(cameras, names, config.images, strict=True)):
        frames = read_frames(source, masks=config.masks[c] if config.masks else None)
        if len(frames.images) == 0:
            raise InputError(source, f"no image for camera {name}")
        image = np.asarray(frames.images[0], np.float32)
        if image.max() > 1.0:
            image = image / 255.0
        h, w = image.shape[:2]
        if (w, h) != (camera.width, camera.height):
            raise InputError(source, f"image is {w}x{h} but camera {name} is {camera.width}x{camera.height}")
        if not np.isfinite(image).all():
            raise InputError(source, "holds NaN or infinite values")
        images.append(image[..., :3])
        if config.masks:
            masks.append(np.asarray(frames.masks[0], np.float32))
    return images, (np.stack(masks) if config.masks else None)


@dataclass
class _RobotViews:
    """Every frame of every camera as one view of the robot: its camera, image, mask, joints and label."""

    cameras: list[Any]
    images: list[np.ndarray]
    masks: np.ndarray | None
    q: np.ndarray
    labels: list[str]
    held: list[int]


def _robot_views(robot: Any, stage: Any, cameras: list[Any], config: FitAppearanceConfig) -> _RobotViews:
    from splattwin.io.images import read_frames, sample_joints  # noqa: PLC0415
    from splattwin.io.trajectory import read_trajectory  # noqa: PLC0415
    from splattwin.robot.trajectories import robot_file_trajectory  # noqa: PLC0415

    if config.joints is None:
        raise InputError("--joints", f"fitting robot {config.robot} needs its joint log (--joints LOG.csv)")
    _check_counts(len(cameras), config)
    log = robot_file_trajectory(
        stage, read_trajectory(config.joints), source=str(config.joints), known=robot.joint_names
    )
    missing = [n for n in robot.joint_names if n not in log.joint_names]
    if missing:
        raise InputError(config.joints, f"has no column for joint(s) {', '.join(missing)} of robot {config.robot}")
    columns = [log.joint_names.index(n) for n in robot.joint_names]
    limits = robot.joint_limits.numpy()
    views = _RobotViews([], [], None, np.zeros((0, robot.dof)), [], [])
    masks = []
    for c, (camera, name, source) in enumerate(zip(cameras, config.cameras, config.images, strict=True)):
        frames = read_frames(source, fps=config.fps, masks=config.masks[c] if config.masks else None)
        if len(frames.images) == 0:
            raise InputError(source, f"no frames for camera {name}")
        h, w = frames.images.shape[1:3]
        if (w, h) != (camera.width, camera.height):
            raise InputError(source, f"images are {w}x{h} but camera {name} is {camera.width}x{camera.height}")
        if not np.isfinite(frames.images).all():
            raise InputError(source, "holds NaN or infinite values")
        q = sample_joints(log, frames.timestamps, source=source)[:, columns]
        outside = (q < limits[:, 0] - 1e-6) | (q > limits[:, 1] + 1e-6)
        if outside.any():
            f, j = (int(v[0]) for v in np.nonzero(outside))
            raise InputError(
                config.joints, f"joint {robot.joint_names[j]} = {q[f, j]:.6g} at frame {frames.names[f]} of camera "
                f"{name} is outside its limits [{limits[j, 0]:.6g}, {limits[j, 1]:.6g}]"
            )  # fmt: skip
        for f in range(len(frames.images)):
            k = len(views.images)
            every = config.held_out_every
            if name in config.held_out or (every > 0 and f % every == every - 1):
                views.held.append(k)
            views.cameras.append(camera)
            views.images.append(np.asarray(frames.images[f], np.float32)[..., :3])
            views.labels.append(f"{name}/{frames.names[f]}")
            if config.masks:
                masks.append(np.asarray(frames.masks[f], np.float32))
        views.q = np.concatenate([views.q, q])
    views.masks = np.stack(masks) if config.masks else None
    return views


def _posed(gaussians: Gaussians, poser: LinkPoser, view: int) -> Gaussians:
    """World-frame Gaussians of ``view`` (for the before / after renders)."""
    import torch  # noqa: PLC0415

    with torch.no_grad():
        means, quats = poser(torch.from_numpy(gaussians.means), torch.from_numpy(gaussians.quats_wxyz), view)
        sh = poser.rotate_sh(torch.from_numpy(gaussians.sh), view)
    return Gaussians(means.numpy(), quats.numpy(), gaussians.scales, gaussians.opacities, sh.numpy())


def _fit_robot(config: FitAppearanceConfig, progress: Callable[[int, int], None] | None) -> dict:
    """The robot's link Gaussians fitted over every frame (see the module doc)."""
    import torch  # noqa: PLC0415

    from splattwin.io._atomic import write_json  # noqa: PLC0415
    from splattwin.robot.kinematics import load_robot  # noqa: PLC0415
    from splattwin.usd.cameras import cameras_by_name  # noqa: PLC0415
    from splattwin.usd.splats import define_gaussians_prim, read_gaussians_prim  # noqa: PLC0415
    from splattwin.usd.stage import edit_twin, open_twin  # noqa: PLC0415
    from splattwin.vision.appearance import fit_appearance, render_views  # noqa: PLC0415

    twin = open_twin(config.stage)
    robot = load_robot(twin.stage, config.robot)
    if robot.gaussians is None:
        raise InputError("--robot", f"robot {config.robot} has no link Gaussians (import it with import-robot)")
    views = _robot_views(robot, twin.stage, cameras_by_name(twin.stage, config.cameras), config)
    # The link Gaussians as stored, link by link, with the link of each (the canonical model).
    links = [(link, f"{robot.link_paths[link]}/Gaussians") for link, _, _ in robot.gaussians["slices"]]
    per_link = [read_gaussians_prim(twin.stage.GetPrimAtPath(path)) for _, path in links]
    canonical = Gaussians.concatenate(per_link)
    link_index = np.concatenate([np.full(len(g), link) for (link, _), g in zip(links, per_link, strict=True)])
    with torch.no_grad():
        poses = robot.link_poses(torch.from_numpy(views.q))
    poser = LinkPoser(poses, torch.from_numpy(link_index), canonical.sh_degree)
    held_cameras = [views.cameras[i] for i in views.held]
    before = [render_views(_posed(canonical, poser, i), [views.cameras[i]], config.options)[0] for i in views.held]
    result = fit_appearance(
        canonical, views.cameras, views.images, views.masks, config.options, held_out=views.held, poser=poser,
        progress=progress,
    )  # fmt: skip
    kept_links = poser.link_index.numpy()
    result.renders = [
        (i, render_views(_posed(result.gaussians, poser, i), [c], config.options)[0])
        for i, c in zip(views.held, held_cameras, strict=True)
    ]
    report, provenance = _report_or_refuse(
        result, config, {"robot": config.robot, "joints": str(config.joints), "views": len(views.images)},
        held_out=[views.labels[i] for i in views.held],
    )  # fmt: skip
    with edit_twin(config.stage, create=False) as edit:
        for link, path in links:
            old = edit.stage.GetPrimAtPath(path)
            custom = dict(old.GetCustomData())
            custom[APPEARANCE_KEY] = provenance
            with edit.edit_layer(edit.layer_of(path) or "robot"):
                define_gaussians_prim(edit.stage, path, result.gaussians.subset(kept_links == link), custom_data=custom)
    report["written"] = True
    write_json(config.report, report)
    if config.comparison is not None and views.held:
        _comparison(config.comparison, result, [views.images[i] for i in views.held], before)
    return report


def _report_or_refuse(
    result: FitResult, config: FitAppearanceConfig, what: dict[str, Any], *, held_out: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON report and the prim's provenance of a fit, ``what`` (the fitted prim or robot) in both; an
    unconverged fit raises here, before the twin is touched (unless ``keep_unconverged``)."""
    report = {
        **what,
        "images": [str(p) for p in config.images],
        "cameras": config.cameras,
        "held_out": held_out,
        "iterations": result.iterations,
        "residual": result.residual,
        "converged": result.converged,
        "pruned": result.pruned,
        "count": len(result.gaussians),
        "psnr_before": result.psnr_before,
        "psnr_after": result.psnr_after,
        "ssim_before": result.ssim_before,
        "ssim_after": result.ssim_after,
        "written": False,
    }
    if not result.converged and not config.keep_unconverged:
        raise InputError(
            "--images",
            f"the fit did not converge: residual {result.residual:.4g} > {config.options.max_residual}; twin unchanged "
            "(more --iterations, or --keep-unconverged)",
        )
    provenance = {
        **{k: v for k, v in what.items() if k not in ("prim", "robot")},
        "images": [str(p) for p in config.images],
        "iterations": result.iterations,
        "loss": result.residual,
        "held_out_psnr": [round(v, 3) for v in result.psnr_after],
    }
    return report, provenance


def _comparison(path: Path, result: FitResult, targets: list[np.ndarray], before: list[np.ndarray]) -> None:
    import imageio.v3 as iio  # noqa: PLC0415

    from splattwin.io._atomic import atomic_output  # noqa: PLC0415

    rows = [np.concatenate([targets[k], before[k], after], axis=1) for k, (_, after) in enumerate(result.renders)]
    picture = (np.clip(np.concatenate(rows, axis=0), 0, 1) * 255).round().astype(np.uint8)
    with atomic_output(path) as tmp:
        iio.imwrite(tmp, picture, extension=".png")


def fit_appearance_twin(config: FitAppearanceConfig, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Fit and write back (see the module doc); returns the report written as JSON."""
    if (config.prim is None) == (config.robot is None):
        raise InputError("--prim", "give exactly one of --prim (a splat) and --robot (the robot's link Gaussians)")
    if config.held_out_every < 0 or (config.held_out_every and config.robot is None):
        raise InputError("--held-out-every", "takes k >= 1, and only with --robot (frames at other joint states)")
    unknown = [n for n in config.held_out if n not in config.cameras]
    if unknown:
        raise InputError("--held-out", f"{', '.join(unknown)} is not among --camera")
    if config.robot is not None:
        return _fit_robot(config, progress)
    from pxr import UsdVol  # noqa: PLC0415

    from splattwin.io._atomic import write_json  # noqa: PLC0415
    from splattwin.usd.cameras import cameras_by_name  # noqa: PLC0415
    from splattwin.usd.prims import local_to_world  # noqa: PLC0415
    from splattwin.usd.splats import define_gaussians_prim, read_gaussians_prim  # noqa: PLC0415
    from splattwin.usd.stage import edit_twin, open_twin  # noqa: PLC0415
    from splattwin.vision.appearance import fit_appearance, render_views  # noqa: PLC0415

    twin = open_twin(config.stage)
    prim = twin.stage.GetPrimAtPath(config.prim)
    if not prim or not prim.IsA(UsdVol.ParticleField3DGaussianSplat):
        raise InputError("--prim", f"{config.prim} is not a Gaussians prim on {config.stage}")
    local = read_gaussians_prim(prim)
    if len(local) == 0:
        raise InputError("--prim", f"{config.prim} holds no Gaussians")
    # The prim's own transform too (a splat moved in the stage editor): fitted where it is drawn.
    to_world = local_to_world(prim)
    world = to_world.apply_gaussians(local)
    cameras = cameras_by_name(twin.stage, config.cameras)
    images, masks = _read_images(cameras, config.cameras, config)
    held = [config.cameras.index(n) for n in config.held_out]
    before = render_views(world, [cameras[i] for i in held], config.options)
    result = fit_appearance(world, cameras, images, masks, config.options, held_out=held, progress=progress)
    result.renders = list(
        zip(held, render_views(result.gaussians, [cameras[i] for i in held], config.options), strict=True)
    )
    report, provenance = _report_or_refuse(result, config, {"prim": config.prim}, held_out=config.held_out)
    with edit_twin(config.stage, create=False) as edit:
        old = edit.stage.GetPrimAtPath(config.prim)
        custom = dict(old.GetCustomData())
        custom[APPEARANCE_KEY] = provenance
        layer = edit.layer_of(config.prim) or "scene"
        with edit.edit_layer(layer):
            # Rewritten in place (not removed and defined anew), so the prim keeps its own transform and the
            # Gaussians go back into that frame.
            define_gaussians_prim(
                edit.stage, config.prim, to_world.inverse().apply_gaussians(result.gaussians), custom_data=custom
            )
    report["written"] = True
    write_json(config.report, report)
    if config.comparison is not None and held:
        _comparison(config.comparison, result, [images[i] for i in held], before)
    return report
