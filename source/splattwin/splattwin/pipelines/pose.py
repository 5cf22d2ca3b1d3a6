"""``splattwin estimate-pose`` and ``splattwin reach-image``: joint angles from images, motions onto an image.

Both read the robot (its bound Gaussians and kinematics) and the cameras from the twin, the images with
:func:`splattwin.io.images.read_frames`, run :mod:`splattwin.vision.pose` / :mod:`splattwin.vision.control`, and
write a trajectory file (``time,<joints>`` CSV that ``trajectory import`` takes) atomically. Nothing is written
when any frame's fit did not converge, unless ``keep_unconverged`` (then the report lists those frames with their
residuals): a wrong answer is never returned silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError
from splattwin.usd.cameras import cameras_by_name
from splattwin.vision.pose import FitOptions, PoseFit

__all__ = [
    "EstimatePoseConfig",
    "PoseReport",
    "ReachImageConfig",
    "check_converged",
    "estimate_pose_twin",
    "fits_to_trajectory",
    "read_views",
    "reach_image_twin",
]


@dataclass
class EstimatePoseConfig:
    """Attributes:
    stage: the twin's root layer.  robot: the robot prim.  cameras: camera names (``/World/Cameras/<name>``) or
    prim paths, one per entry of ``images``.  images: per camera an image file, a folder of frames or a video.
    out: the trajectory file (.csv or .npz).  init: joint values {name: value} of the first frame's start (joints
    not named: 0 clipped to the limits).  masks: per camera a mask folder (else the images' alpha, else
    ``background``).  background: per camera an image of the empty scene (masks by difference).
    fps: frame rate of a folder without timestamps.csv.  options: the fit's settings.
    keep_unconverged: write the trajectory even when a frame did not converge.
    """

    stage: Path
    robot: str
    cameras: list[str]
    images: list[Path]
    out: Path
    init: dict[str, float] = field(default_factory=dict)
    masks: list[Path] | None = None
    background: list[Path] | None = None
    fps: float | None = None
    options: FitOptions = field(default_factory=FitOptions)
    keep_unconverged: bool = False


@dataclass
class PoseReport:
    """What was fitted: the trajectory written, per frame the fit (residual, IoU, converged)."""

    out: Path | None
    joint_names: list[str]
    times: np.ndarray
    fits: list[PoseFit]

    @property
    def unconverged(self) -> list[int]:
        """Frame indices whose fit did not converge."""
        return [i for i, f in enumerate(self.fits) if not f.converged]


def fits_to_trajectory(joint_names: list[str], times: np.ndarray, fits: list[PoseFit]) -> Any:
    """The fitted joints as a :class:`splattwin.io.trajectory.Trajectory` (times [T] s, positions [T, dof])."""
    from splattwin.io.trajectory import Trajectory  # noqa: PLC0415

    return Trajectory(
        times=np.asarray(times, np.float64), positions=np.stack([f.q for f in fits]), joint_names=list(joint_names)
    )


def check_converged(fits: list[PoseFit], names: list[str], min_iou: float, source: str = "--images") -> None:
    """InputError naming the first unconverged frame with its residual and IoU (and how many failed)."""
    bad = [i for i, f in enumerate(fits) if not f.converged]
    if bad:
        f = fits[bad[0]]
        raise InputError(
            source,
            f"the fit did not converge on {len(bad)} of {len(fits)} frames; first {names[bad[0]]!r}: silhouette IoU "
            f"{', '.join(f'{v:.3f}' for v in f.iou)} < {min_iou}, residual {f.residual:.4g}; nothing written "
            "(give a closer --init, more --restarts, or --keep-unconverged)",
        )


def read_views(
    cameras: list[Any],
    names: list[str],
    images: list[Path],
    masks: list[Path] | None,
    background: list[Path] | None,
    fps: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """[T, C, H, W, 3] images, [T, C, H, W] masks, [T] timestamps, frame names; every camera checked."""
    from splattwin.io.images import read_frames  # noqa: PLC0415
    from splattwin.vision.pose import masks_from_background  # noqa: PLC0415

    if len(images) != len(cameras):
        raise InputError("--images", f"{len(cameras)} cameras ({', '.join(names)}) but {len(images)} image sources")
    per_view_images, per_view_masks, stamps, frame_names = [], [], None, ()
    for c, (camera, name, source) in enumerate(zip(cameras, names, images, strict=True)):
        frames = read_frames(source, fps=fps, masks=masks[c] if masks else None)
        if len(frames.timestamps) == 0:
            raise InputError(source, f"no frames for camera {name}")
        h, w = frames.images.shape[1:3]
        if (w, h) != (camera.width, camera.height):
            raise InputError(source, f"images are {w}x{h} but camera {name} is {camera.width}x{camera.height}")
        if frames.masks is not None:
            view_masks = frames.masks
        elif background:
            empty = read_frames(background[c]).images[0]
            if empty.shape != frames.images.shape[1:]:
                raise InputError(background[c], f"is {empty.shape[1]}x{empty.shape[0]}, camera {name} is {w}x{h}")
            view_masks = masks_from_background(frames.images, empty)
        else:
            raise InputError(source, f"camera {name}: no mask (no alpha channel, no --masks, no --background)")
        if stamps is None:
            stamps, frame_names = frames.timestamps, frames.names
        elif len(frames.timestamps) != len(stamps) or not np.allclose(frames.timestamps, stamps, atol=1e-6):
            raise InputError(source, f"camera {name}'s frames are not at the first camera's timestamps")
        per_view_images.append(frames.images)
        per_view_masks.append(view_masks)
    assert stamps is not None
    return np.stack(per_view_images, axis=1), np.stack(per_view_masks, axis=1), stamps, frame_names


def _start(robot: Any, init: dict[str, float]) -> np.ndarray:
    limits = robot.joint_limits.numpy()
    return np.clip(robot.check_joint_values(init, "--init"), limits[:, 0], limits[:, 1])


def estimate_pose_twin(config: EstimatePoseConfig, *, progress: Callable[[int, int], None] | None = None) -> PoseReport:
    """Read the twin, the cameras and the frames; fit every frame; write the trajectory (see the module doc)."""
    from splattwin.io.trajectory import TRAJECTORY_SUFFIXES, write_trajectory  # noqa: PLC0415
    from splattwin.robot.kinematics import load_robot  # noqa: PLC0415
    from splattwin.usd.stage import open_usd_stage  # noqa: PLC0415
    from splattwin.vision.pose import estimate_sequence  # noqa: PLC0415

    if config.out.suffix.lower() not in TRAJECTORY_SUFFIXES:
        raise InputError(config.out, "expected a .csv or .npz trajectory file")
    stage = open_usd_stage(config.stage)
    robot = load_robot(stage, config.robot)
    if robot.gaussians is None:
        raise InputError("--robot", f"robot {config.robot} has no bound Gaussians (import it with import-robot)")
    cameras = cameras_by_name(stage, config.cameras)
    images, masks, times, names = read_views(
        cameras, config.cameras, config.images, config.masks, config.background, config.fps
    )
    fits = estimate_sequence(
        robot, cameras, images, masks, _start(robot, config.init), config.options, progress=progress
    )
    if not config.keep_unconverged:
        check_converged(fits, list(names), config.options.min_iou)
    write_trajectory(config.out, fits_to_trajectory(robot.joint_names, times, fits))
    return PoseReport(out=config.out, joint_names=robot.joint_names, times=times, fits=fits)


@dataclass
class ReachImageConfig:
    """Attributes: as :class:`EstimatePoseConfig` for one target per camera; ``start``: current joints;
    ``duration`` [s] and ``rate_hz`` of the motion; ``reg``: pull towards the start."""

    stage: Path
    robot: str
    cameras: list[str]
    targets: list[Path]
    out: Path
    start: dict[str, float] = field(default_factory=dict)
    masks: list[Path] | None = None
    background: list[Path] | None = None
    duration: float = 2.0
    rate_hz: float = 50.0
    reg: float = 1e-3
    options: FitOptions = field(default_factory=FitOptions)
    keep_unconverged: bool = False


def reach_image_twin(config: ReachImageConfig, *, progress: Callable[[int, int], None] | None = None) -> PoseReport:
    """Plan a motion onto the target images and write it as a trajectory file."""
    from splattwin.io.trajectory import TRAJECTORY_SUFFIXES, Trajectory, write_trajectory  # noqa: PLC0415
    from splattwin.robot.kinematics import load_robot  # noqa: PLC0415
    from splattwin.usd.stage import open_usd_stage  # noqa: PLC0415
    from splattwin.vision.control import reach_image  # noqa: PLC0415

    if config.out.suffix.lower() not in TRAJECTORY_SUFFIXES:
        raise InputError(config.out, "expected a .csv or .npz trajectory file")
    stage = open_usd_stage(config.stage)
    robot = load_robot(stage, config.robot)
    if robot.gaussians is None:
        raise InputError("--robot", f"robot {config.robot} has no bound Gaussians (import it with import-robot)")
    cameras = cameras_by_name(stage, config.cameras)
    images, masks, _, names = read_views(cameras, config.cameras, config.targets, config.masks, config.background, None)
    plan = reach_image(
        robot,
        cameras,
        images[0],
        masks[0],
        _start(robot, config.start),
        duration=config.duration,
        rate_hz=config.rate_hz,
        reg=config.reg,
        options=config.options,
        progress=progress,
    )
    if not config.keep_unconverged:
        check_converged([plan.fit], list(names[:1]), config.options.min_iou, "--target")
    write_trajectory(config.out, Trajectory(times=plan.times, positions=plan.positions, joint_names=robot.joint_names))
    return PoseReport(out=config.out, joint_names=robot.joint_names, times=plan.times, fits=[plan.fit])
