"""``splattwin track-object``: an object's pose through a video from the twin (docs/tracking.md).

Reads from the twin the object prim's Gaussians (every splat prim below it, in the object's frame) and its pose
(the start), the cameras, and, with a joint log, the robot whose link Gaussians are rendered at the joints
interpolated to each frame's timestamp so they hide the object where they stand in front of it. The frames come
per camera with :func:`splattwin.pipelines.pose.read_views` (timestamps checked equal across cameras); the
object's visible mask comes from each frame's alpha channel or ``--masks``. Output: a pose file (``.csv``:
``time,x,y,z,qw,qx,qy,qz`` world frame plus each frame's residual, smallest IoU and converged flag; or ``.npz``
with ``t``, ``object_pose`` [T, 7] as a push log holds it, ``residual``, ``iou`` [T, C], ``converged``), written
atomically; with ``key`` the poses are also keyed on the object in the twin's trajectories layer (its parent's
frame, as ``play record=true`` keys them) with the tracking's provenance in ``customData``. Nothing is written
when a frame did not converge unless ``keep_unconverged``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError
from splattwin.vision.tracking import TrackedFrame, TrackOptions

if TYPE_CHECKING:
    from pxr import Usd

__all__ = [
    "POSE_SUFFIXES",
    "PROVENANCE_KEY",
    "TrackObjectConfig",
    "TrackReport",
    "check_tracked",
    "object_gaussians",
    "track_object_twin",
    "write_poses",
]

POSE_SUFFIXES = (".csv", ".npz")
PROVENANCE_KEY = "splattwin:tracking"
"""``customData`` key on the tracked object prim (trajectories layer): how its keyed poses were measured."""


@dataclass
class TrackObjectConfig:
    """Attributes:
    stage: the twin's root layer.  object: the object prim (Gaussian prims below it).  cameras: camera names or
    prim paths, one per entry of ``images``.  images: per camera a folder of frames (with ``timestamps.csv`` or
    ``fps``), a video or one image.  out: the pose file (.csv or .npz).  joints: the robot's joint log (a
    trajectory .csv/.npz on the frames' clock), None: no robot occludes.  robot: the robot prim (default: the
    twin's only robot).  masks: per camera a folder of object masks (else the frames' alpha).  fps: frame rate of a
    folder without timestamps.csv.  options: the fit's settings.  keep_unconverged: write even when a frame did not
    converge.  key: also key the poses on the object in the twin's trajectories layer.
    """

    stage: Path
    object: str
    cameras: list[str]
    images: list[Path]
    out: Path
    joints: Path | None = None
    robot: str | None = None
    masks: list[Path] | None = None
    fps: float | None = None
    options: TrackOptions = field(default_factory=TrackOptions)
    keep_unconverged: bool = False
    key: bool = False


@dataclass
class TrackReport:
    """What was tracked: the file written, the frames' times and names, per frame the fit."""

    out: Path | None
    times: np.ndarray
    names: tuple[str, ...]
    frames: list[TrackedFrame]

    @property
    def unconverged(self) -> list[int]:
        """Frame indices whose fit did not converge."""
        return [i for i, f in enumerate(self.frames) if not f.converged]


def _pose7(pose: np.ndarray) -> np.ndarray:
    from splattwin.geometry.transforms import matrix_to_quat_wxyz  # noqa: PLC0415

    return np.concatenate([pose[:3, 3], matrix_to_quat_wxyz(pose[:3, :3])])


def write_poses(path: Path, times: np.ndarray, frames: list[TrackedFrame]) -> None:
    """The tracked poses as a .csv or .npz (see the module doc), atomically."""
    from splattwin.io._atomic import atomic_output  # noqa: PLC0415

    poses = np.stack([_pose7(f.pose) for f in frames])
    residual = np.array([f.residual for f in frames])
    iou = np.stack([f.iou for f in frames])
    converged = np.array([f.converged for f in frames])
    with atomic_output(path) as temporary:
        if path.suffix.lower() == ".csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["time", "x", "y", "z", "qw", "qx", "qy", "qz", "residual", "iou_min", "converged"])
            for t, p, r, i, c in zip(times, poses, residual, iou, converged, strict=True):
                writer.writerow([repr(float(t)), *(repr(float(v)) for v in p), f"{r:.6g}", f"{i.min():.4f}", int(c)])
            temporary.write_text(buffer.getvalue())
        else:
            with temporary.open("wb") as handle:
                np.savez(handle, t=np.asarray(times, np.float64), object_pose=poses, residual=residual, iou=iou,
                         converged=converged)  # fmt: skip


def object_gaussians(stage: Usd.Stage, prim_path: str) -> tuple[Any, np.ndarray]:
    """The object's Gaussians in its own frame, and its world pose (a rigid transform) [4, 4]."""
    from pxr import Usd, UsdVol  # noqa: PLC0415

    from splattwin.gaussians import Gaussians  # noqa: PLC0415
    from splattwin.geometry.transforms import Similarity  # noqa: PLC0415
    from splattwin.usd import read_gaussians_prim  # noqa: PLC0415
    from splattwin.usd.prims import world_matrix  # noqa: PLC0415

    where = stage.GetRootLayer().identifier
    prim = stage.GetPrimAtPath(prim_path)
    if not prim:
        raise InputError("--object", f"no prim {prim_path} in {where}")
    world = world_matrix(prim)
    try:
        similarity = Similarity.from_matrix(world)
    except ValueError as exc:
        raise InputError("--object", f"{prim_path}: its world transform is not rigid ({exc})") from None
    if abs(similarity.scale - 1.0) > 1e-6:
        raise InputError("--object", f"{prim_path} is scaled by {similarity.scale:.6g}; a tracked pose is rigid")
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = similarity.rotation, similarity.translation
    parts = []
    for child in Usd.PrimRange(prim):
        if child.IsA(UsdVol.ParticleField3DGaussianSplat):
            local = Similarity.from_matrix(np.linalg.inv(pose) @ world_matrix(child))
            parts.append(local.apply_gaussians(read_gaussians_prim(child)))
    if not parts:
        raise InputError("--object", f"{prim_path} holds no Gaussian prim in {where}; nothing to render")
    return Gaussians.concatenate(parts), pose


def _occluders(stage: Any, config: TrackObjectConfig, times: np.ndarray, source: Path) -> list[Any] | None:
    """The robot's world-frame Gaussians at each frame's logged joints (None without a joint log)."""
    import torch  # noqa: PLC0415

    from splattwin.gaussians import Gaussians  # noqa: PLC0415
    from splattwin.io.images import sample_joints  # noqa: PLC0415
    from splattwin.io.trajectory import read_trajectory  # noqa: PLC0415
    from splattwin.robot import find_robots, load_robot  # noqa: PLC0415

    if config.joints is None:
        if config.robot is not None:
            raise InputError("--robot", "a robot was named but no --joints log to pose it")
        return None
    robot_path = config.robot
    if robot_path is None:
        robots = find_robots(stage)
        if len(robots) != 1:
            found = ", ".join(robots) or "none"
            raise InputError("--joints", f"the twin has {len(robots)} robots ({found}); name one with --robot")
        robot_path = robots[0]
    robot = load_robot(stage, robot_path)
    if robot.gaussians is None:
        raise InputError("--robot", f"robot {robot_path} has no bound Gaussians (import it with import-robot)")
    log = read_trajectory(config.joints, known_joints=robot.joint_names)
    sampled = sample_joints(log, times, source=source)
    q = np.zeros((len(times), robot.dof))
    for j, name in enumerate(log.joint_names):
        q[:, robot.joint_names.index(name)] = sampled[:, j]
    limits = robot.joint_limits.numpy()
    outside = (q < limits[:, 0] - 1e-6) | (q > limits[:, 1] + 1e-6)
    if outside.any():
        t, j = np.argwhere(outside)[0]
        raise InputError(
            config.joints, f"joint {robot.joint_names[j]} = {q[t, j]:.6g} at frame {t} is outside its limits"
        )
    out = []
    with torch.no_grad():
        for row in q:
            posed = robot.pose_gaussians(torch.tensor(row[None]))
            out.append(
                Gaussians(
                    means=posed["means"][0].numpy(),
                    quats_wxyz=posed["quats_wxyz"][0].numpy(),
                    scales=posed["scales"].numpy(),
                    opacities=posed["opacities"].numpy(),
                    sh=posed["sh"][0].numpy(),
                )
            )
    return out


def check_tracked(frames: list[TrackedFrame], names: tuple[str, ...], min_iou: float) -> None:
    """InputError naming the first unconverged frame with its IoU and residual (and how many failed)."""
    bad = [i for i, f in enumerate(frames) if not f.converged]
    if bad:
        f = frames[bad[0]]
        seen = "seen by no camera" if not f.visible.any() else f"silhouette IoU {', '.join(f'{v:.3f}' for v in f.iou)}"
        raise InputError(
            "--images",
            f"the fit did not converge on {len(bad)} of {len(frames)} frames; first {names[bad[0]]!r}: {seen} "
            f"(< {min_iou}), residual {f.residual:.4g}; nothing written (more --iterations, or --keep-unconverged)",
        )


def _check_keyable(stage: Any, prim_path: str) -> None:
    from pxr import UsdGeom  # noqa: PLC0415

    ops = {op.GetOpName() for op in UsdGeom.Xformable(stage.GetPrimAtPath(prim_path)).GetOrderedXformOps()}
    if ops != {"xformOp:translate", "xformOp:orient"}:
        raise InputError(
            "--key", f"{prim_path} needs exactly translate and orient ops to be keyed (import-mesh --dynamic)"
        )


def _key(config: TrackObjectConfig, times: np.ndarray, frames: list[TrackedFrame]) -> None:
    from splattwin.robot.trajectories import write_object_poses  # noqa: PLC0415
    from splattwin.usd.prims import world_matrix  # noqa: PLC0415
    from splattwin.usd.stage import edit_twin  # noqa: PLC0415

    with edit_twin(config.stage, create=False) as twin:
        prim = twin.stage.GetPrimAtPath(config.object)
        parent = np.linalg.inv(world_matrix(prim.GetParent()))
        local = np.stack([_pose7(parent @ f.pose) for f in frames])
        write_object_poses(twin, config.object, times, local[:, :3], local[:, 3:])
        with twin.edit_layer("trajectories"):
            prim.SetCustomDataByKey(
                PROVENANCE_KEY,
                {
                    "verb": "track-object",
                    "cameras": ",".join(config.cameras),
                    "images": ",".join(str(p) for p in config.images),
                    "joints": "" if config.joints is None else str(config.joints),
                    "frames": len(frames),
                    "max_residual": float(max(f.residual for f in frames)),
                    "min_iou": float(min(f.iou.min() for f in frames)),
                    "unconverged": sum(not f.converged for f in frames),
                },
            )


def track_object_twin(config: TrackObjectConfig, *, progress: Callable[[int, int], None] | None = None) -> TrackReport:
    """Read the twin and the frames, track every frame, write the poses (see the module doc)."""
    from splattwin.pipelines.pose import read_views  # noqa: PLC0415
    from splattwin.usd.cameras import cameras_by_name  # noqa: PLC0415
    from splattwin.usd.stage import open_usd_stage  # noqa: PLC0415
    from splattwin.vision.tracking import track_object  # noqa: PLC0415

    if config.out.suffix.lower() not in POSE_SUFFIXES:
        raise InputError(config.out, "expected a .csv or .npz pose file")
    if config.masks is not None and len(config.masks) != len(config.images):
        raise InputError("--masks", f"{len(config.images)} image sources but {len(config.masks)} mask folders")
    stage = open_usd_stage(config.stage)
    gaussians, pose0 = object_gaussians(stage, config.object)
    if config.key:
        _check_keyable(stage, config.object)
    cameras = cameras_by_name(stage, config.cameras, "--cameras")
    images, masks, times, names = read_views(cameras, config.cameras, config.images, config.masks, None, config.fps)
    occluders = _occluders(stage, config, times, config.images[0])
    frames = track_object(
        gaussians, cameras, images, masks, times, pose0, config.options,
        names=config.cameras, occluders=occluders, progress=progress,
    )  # fmt: skip
    if not config.keep_unconverged:
        check_tracked(frames, names, config.options.min_iou)
    write_poses(config.out, times, frames)
    if config.key:
        _key(config, times, frames)
    return TrackReport(out=config.out, times=times, names=names, frames=frames)
