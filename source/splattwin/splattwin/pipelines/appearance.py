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
from splattwin.vision.appearance import AppearanceConfig, FitResult

__all__ = ["APPEARANCE_KEY", "FitAppearanceConfig", "fit_appearance_twin"]

APPEARANCE_KEY = "splattwin:appearance"
"""``customData`` key of a refined Gaussians prim: the fit's provenance."""


@dataclass
class FitAppearanceConfig:
    """Attributes: stage (the twin's root layer), prim (a Gaussians prim), cameras (names or prim paths, one per
    image), images (per camera an image file or folder: its first frame), held_out (camera names never trained on),
    report (JSON path), comparison (PNG path or None), masks (per camera a mask file/folder or None), options,
    keep_unconverged (write even when the residual is above the bar)."""

    stage: Path
    prim: str
    cameras: list[str]
    images: list[Path]
    held_out: list[str]
    report: Path
    comparison: Path | None = None
    masks: list[Path] | None = None
    options: AppearanceConfig = field(default_factory=AppearanceConfig)
    keep_unconverged: bool = False


def _read_images(cameras: list[Any], names: list[str], config: FitAppearanceConfig) -> tuple[list[np.ndarray], Any]:
    from splattwin.io.images import read_frames  # noqa: PLC0415

    if len(config.images) != len(cameras):
        raise InputError("--images", f"{len(cameras)} cameras ({', '.join(names)}) but {len(config.images)} images")
    if config.masks is not None and len(config.masks) != len(cameras):
        raise InputError("--masks", f"{len(cameras)} cameras but {len(config.masks)} masks")
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


def _comparison(path: Path, result: FitResult, targets: list[np.ndarray], before: list[np.ndarray]) -> None:
    import imageio.v3 as iio  # noqa: PLC0415

    from splattwin.io._atomic import atomic_output  # noqa: PLC0415

    rows = [np.concatenate([targets[k], before[k], after], axis=1) for k, (_, after) in enumerate(result.renders)]
    picture = (np.clip(np.concatenate(rows, axis=0), 0, 1) * 255).round().astype(np.uint8)
    with atomic_output(path) as tmp:
        iio.imwrite(tmp, picture, extension=".png")


def fit_appearance_twin(config: FitAppearanceConfig, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Fit and write back (see the module doc); returns the report written as JSON."""
    from pxr import UsdVol  # noqa: PLC0415

    from splattwin.io._atomic import write_json  # noqa: PLC0415
    from splattwin.usd.cameras import cameras_by_name  # noqa: PLC0415
    from splattwin.usd.prims import local_to_world  # noqa: PLC0415
    from splattwin.usd.splats import define_gaussians_prim, read_gaussians_prim  # noqa: PLC0415
    from splattwin.usd.stage import edit_twin, open_twin  # noqa: PLC0415
    from splattwin.vision.appearance import fit_appearance, render_views  # noqa: PLC0415

    unknown = [n for n in config.held_out if n not in config.cameras]
    if unknown:
        raise InputError("--held-out", f"{', '.join(unknown)} is not among --camera")
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
    report = {
        "prim": config.prim,
        "images": [str(p) for p in config.images],
        "cameras": config.cameras,
        "held_out": config.held_out,
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
        "images": [str(p) for p in config.images],
        "iterations": result.iterations,
        "loss": result.residual,
        "held_out_psnr": [round(v, 3) for v in result.psnr_after],
    }
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
