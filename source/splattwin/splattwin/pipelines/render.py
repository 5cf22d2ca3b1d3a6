"""``splattwin render``: the twin seen from a camera prim or a look-at view, one frame or a trajectory video.

Outputs (everything is rendered in memory first, then written atomically, so bad input leaves nothing behind):

- ``OUT`` (``.png``): RGB, 8 bit.
- ``--depth``: ``<stem>_depth.png``, 16-bit greyscale, camera-frame z in millimetres (value / 1000 = metres,
  so 0.001 m steps up to 65.534 m); 0 where no surface (pixel alpha < 0.5), 65535 for anything farther.
- ``--segmentation``: ``<stem>_seg.png``, 16-bit labels (0 = background, k + 1 = the k-th Gaussian prim: the
  prim contributing the largest blending weight to the pixel, exact from the rasterizer) and ``<stem>_seg.json``
  with ``{"0": null, "1": "/World/...", ...}``.
- ``--trajectory``: one frame per trajectory sample into ``<stem>_frames/frame_00000.png ...`` (plus depth and
  segmentation frames when asked) and ``<stem>.mp4`` (H.264 via imageio-ffmpeg) at the trajectory's rate.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError

__all__ = [
    "DEPTH_PNG_SCALE",
    "STAGE_TRAJECTORY",
    "RenderConfig",
    "RenderResult",
    "render_twin",
    "write_depth_png",
    "write_segmentation",
]

logger = logging.getLogger(__name__)

DEPTH_PNG_SCALE = 1000.0
STAGE_TRAJECTORY = "stage"
"""``--trajectory stage``: the robot's time samples on the stage (docs/extension.md) instead of a file; objects
whose poses are keyed there (a recorded rollout) move with it."""
"""16-bit depth PNG units per metre (millimetres)."""
_BACKENDS = ("auto", "cpu", "gsplat")


@dataclass(kw_only=True)
class RenderConfig:
    """Attributes:
    stage: the twin's root layer.
    out: the RGB PNG (single frame) or MP4 (trajectory) to write.
    camera: a UsdGeom.Camera prim path; or
    view: (eye, target) world points [m] of a look-at camera (z up).
    size: (width, height) [px]; None: an imported camera's own image size (its calibration), else 640x480.
    vertical_fov_deg: field of view of a look-at camera.
    joints: joint name -> value (rad or m) for the robots on the stage; unset joints are 0.
    trajectory: a .csv / .npz joint trajectory (one frame per sample), or ``Path("stage")``: the time-sampled
        trajectory of the stage's one robot (:mod:`splattwin.robot.trajectories`).
    fps: video frame rate; None = the trajectory's median rate.
    backend: "auto", "cpu" or "gsplat".
    depth: also write the 16-bit depth PNG(s).
    segmentation: also write the instance segmentation PNG(s) and the id -> prim path JSON.
    background: RGB in [0, 1].
    overwrite: replace outputs that exist already (``--force``); without it an existing one is refused.
    """

    stage: Path
    out: Path
    camera: str | None = None
    view: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    size: tuple[int, int] | None = None
    vertical_fov_deg: float = 50.0
    joints: Mapping[str, float] = field(default_factory=dict)
    trajectory: Path | None = None
    fps: float | None = None
    backend: str = "auto"
    depth: bool = False
    segmentation: bool = False
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    overwrite: bool = False

    def outputs(self) -> list[Path]:
        """Every file (and the frames folder of a trajectory) the render writes."""
        stem = self.out.with_suffix("")
        extra = []
        if self.trajectory is not None:
            extra.append(stem.with_name(f"{stem.name}_frames"))
        else:
            if self.depth:
                extra.append(stem.with_name(f"{stem.name}_depth.png"))
            if self.segmentation:
                extra += [stem.with_name(f"{stem.name}_seg.png"), stem.with_name(f"{stem.name}_seg.json")]
        return [self.out, *extra]

    def validate(self) -> None:
        """Check the options (not the files)."""
        if (self.camera is None) == (self.view is None):
            raise InputError("--camera/--view", "give exactly one of --camera PRIM or --view EYE TARGET")
        width, height = self.size or _DEFAULT_SIZE
        if width <= 0 or height <= 0 or width > 16384 or height > 16384:
            raise InputError("--size", f"must be WxH with 1..16384 pixels each, got {width}x{height}")
        if self.backend not in _BACKENDS:
            raise InputError("--backend", f"must be one of {', '.join(_BACKENDS)}, got {self.backend!r}")
        if self.trajectory is not None and self.joints:
            raise InputError("--joints/--trajectory", "give --joints or --trajectory, not both")
        expected = ".mp4" if self.trajectory is not None else ".png"
        if self.out.suffix.lower() != expected:
            what = "a trajectory renders a video" if self.trajectory is not None else "a single frame is a PNG"
            raise InputError(self.out, f"--out must end in {expected} ({what})")
        if self.fps is not None and not (np.isfinite(self.fps) and 0 < self.fps <= 240):
            raise InputError("--fps", f"must be in (0, 240], got {self.fps}")
        for name, value in self.joints.items():
            if not np.isfinite(value):
                raise InputError("--joints", f"joint {name!r} has a non-finite value {value}")
        if self.backend == "gsplat":
            _check_gsplat()


def _check_gsplat() -> None:
    """``--backend gsplat`` needs a CUDA device torch can use and the gsplat package: say which is missing, in one
    line, before any work (torch itself would stop in an ``AssertionError`` when moving the first tensor)."""
    import importlib.util  # noqa: PLC0415

    import torch  # noqa: PLC0415

    if not torch.cuda.is_available():
        build = "this torch is built without CUDA" if torch.version.cuda is None else "torch sees no CUDA device"
        raise InputError("--backend", f"gsplat renders on a CUDA GPU and {build}; use --backend cpu (or auto)")
    if importlib.util.find_spec("gsplat") is None:
        raise InputError("--backend", "gsplat is not installed (pip install gsplat); use --backend cpu (or auto)")


@dataclass
class RenderResult:
    """What was written: the files, the frame count, the Gaussian prims rendered."""

    files: list[Path]
    frames: int
    prim_paths: list[str]


def parse_joints(text: str) -> dict[str, float]:
    """``--joints``: a JSON object ``{"joint": value}`` given inline or as a path to a .json file."""
    source = text
    candidate = Path(text)
    if not text.lstrip().startswith("{") and candidate.is_file():
        source, text = str(candidate), candidate.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source if source != text else "--joints", f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, int | float) for v in data.values()):
        raise InputError("--joints", 'expected a JSON object of joint name -> number, e.g. {"panda_joint1": 0.3}')
    return {str(k): float(v) for k, v in data.items()}


def write_depth_png(path: Path, depth: np.ndarray) -> None:
    """Depth [H, W] metres (+inf = none) -> 16-bit PNG in millimetres (0 = none), atomically."""
    import imageio.v3 as iio  # noqa: PLC0415

    from splattwin.io import atomic_output  # noqa: PLC0415

    finite = np.isfinite(depth)
    millimetres = np.where(finite, np.clip(np.round(depth * DEPTH_PNG_SCALE), 1, 65535), 0).astype(np.uint16)
    with atomic_output(path) as temporary:
        iio.imwrite(temporary, millimetres, extension=".png")


def write_segmentation(png: Path, table: Path, labels: np.ndarray, prim_paths: list[str]) -> None:
    """Labels [H, W] (-1 = background, k = prim k) -> 16-bit PNG (label + 1) and the id -> prim path JSON."""
    import imageio.v3 as iio  # noqa: PLC0415

    from splattwin.io import atomic_output  # noqa: PLC0415

    with atomic_output(png) as temporary:
        iio.imwrite(temporary, (labels.astype(np.int64) + 1).astype(np.uint16), extension=".png")
    ids = {"0": None} | {str(k + 1): path for k, path in enumerate(prim_paths)}
    with atomic_output(table) as temporary:
        temporary.write_text(json.dumps(ids, indent=2))


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    import imageio.v3 as iio  # noqa: PLC0415

    from splattwin.io import atomic_output  # noqa: PLC0415

    with atomic_output(path) as temporary:
        iio.imwrite(temporary, _to_uint8(rgb), extension=".png")


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


_DEFAULT_SIZE = (640, 480)
"""The image size of a look-at view, or of a camera without a stored size, when --size is not given."""


def _camera(config: RenderConfig, stage: Any) -> Any:
    from splattwin.render.camera import look_at_camera  # noqa: PLC0415
    from splattwin.scene import camera_from_prim  # noqa: PLC0415

    width, height = config.size or _DEFAULT_SIZE
    if config.camera is not None:
        if config.size is None:
            from splattwin.usd.cameras import stored_image_size  # noqa: PLC0415

            prim = stage.GetPrimAtPath(config.camera) if config.camera.startswith("/") else None
            width, height = (stored_image_size(prim) if prim else None) or _DEFAULT_SIZE
        return camera_from_prim(stage, config.camera, width=width, height=height)
    eye, target = config.view  # type: ignore[misc]
    return look_at_camera(eye, target, width=width, height=height, vertical_fov_deg=config.vertical_fov_deg)


def _link_overrides(stage: Any, joints: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Robot link transforms at the joints (empty when the stage has no robot and no joints are given)."""
    from splattwin.scene import robot_link_overrides  # noqa: PLC0415

    return robot_link_overrides(stage, joints)


def render_twin(config: RenderConfig, *, progress: Callable[[int, int], None] | None = None) -> RenderResult:
    """Render the twin as configured and write the outputs (see the module docstring).

    Args:
        config: the options.
        progress: called as ``progress(done, total)`` after each frame.

    Raises:
        InputError / StageError: a missing or non-USD stage, a bad camera, an empty stage, NaN in a splat,
            unknown joints, a bad trajectory. Nothing is written then.
    """
    from splattwin.io import check_new_outputs  # noqa: PLC0415
    from splattwin.render.views import render_view  # noqa: PLC0415
    from splattwin.robot.trajectories import check_joint_values, robot_file_trajectory  # noqa: PLC0415
    from splattwin.scene import gather_gaussians, keyed_pose_overrides, stage_path  # noqa: PLC0415
    from splattwin.usd import open_usd_stage  # noqa: PLC0415

    config.validate()
    check_new_outputs(*config.outputs(), force=config.overwrite)
    stage = open_usd_stage(config.stage)
    camera = _camera(config, stage)
    if config.trajectory is None:
        if config.joints:  # a pose in degrees would render a plausible-looking wrong arm
            check_joint_values(stage, list(config.joints), list(config.joints.values()), source="--joints")
        overrides = _link_overrides(stage, config.joints)
        scene = gather_gaussians(stage, overrides=overrides)
        view = render_view(scene, camera, backend=config.backend, background=config.background)
        files = _write_frame(config.out, view, depth=config.depth, segmentation=config.segmentation)
        if progress:
            progress(1, 1)
        return RenderResult(files=files, frames=1, prim_paths=scene.prim_paths)

    from splattwin.io.trajectory import read_trajectory  # noqa: PLC0415

    known = _robot_joint_names(stage)
    if str(config.trajectory) == STAGE_TRAJECTORY:
        trajectory = _stage_trajectory(stage)
    else:
        file_trajectory = read_trajectory(config.trajectory)
        trajectory = robot_file_trajectory(stage, file_trajectory, source=str(config.trajectory), known=known)
    if not known:
        raise InputError(stage_path(stage), "a trajectory was given but the stage has no robot to pose")
    fps = config.fps
    if fps is None:
        median_step = float(np.median(np.diff(trajectory.times))) if len(trajectory.times) > 1 else 1.0
        fps = float(np.clip(1.0 / median_step, 1.0, 60.0))
    frames_dir = config.out.with_name(f"{config.out.stem}_frames")
    staging = Path(tempfile.mkdtemp(prefix=f".{config.out.stem}_frames.", dir=config.out.parent))
    try:
        rgb_frames: list[np.ndarray] = []
        prim_paths: list[str] = []
        total = len(trajectory.times)
        keyed_objects = str(config.trajectory) == STAGE_TRAJECTORY
        rate = stage.GetTimeCodesPerSecond()
        for i, q in enumerate(trajectory.positions):
            joints = dict(zip(trajectory.joint_names, q.tolist(), strict=True))
            overrides = _link_overrides(stage, joints)
            if keyed_objects:  # objects keyed on the stage move with the robot (a recorded rollout)
                overrides = {**keyed_pose_overrides(stage, float(trajectory.times[i]) * rate), **overrides}
            scene = gather_gaussians(stage, overrides=overrides)
            view = render_view(scene, camera, backend=config.backend, background=config.background)
            _write_frame(staging / f"frame_{i:05d}.png", view, depth=config.depth, segmentation=config.segmentation)
            rgb_frames.append(_to_uint8(view.rgb))
            prim_paths = scene.prim_paths
            if progress:
                progress(i + 1, total)
        write_video(config.out, rgb_frames, fps)
        if frames_dir.exists():
            shutil.rmtree(frames_dir)
        staging.rename(frames_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RenderResult(files=[config.out, frames_dir], frames=len(rgb_frames), prim_paths=prim_paths)


def _stage_trajectory(stage: Any) -> Any:
    """The time-sampled joint trajectory of the stage's robot (``--trajectory stage``)."""
    from splattwin.robot import find_robots  # noqa: PLC0415
    from splattwin.robot.trajectories import read_joint_trajectory  # noqa: PLC0415
    from splattwin.scene import stage_path  # noqa: PLC0415

    robots = find_robots(stage)
    if len(robots) != 1:
        found = f"robots {robots}" if robots else "no robot"
        raise InputError("--trajectory stage", f"needs exactly one robot on {stage_path(stage)}, it has {found}")
    return read_joint_trajectory(stage, robots[0])


def _robot_joint_names(stage: Any) -> list[str]:
    from splattwin.robot import find_robots, load_robot  # noqa: PLC0415

    names: list[str] = []
    for root in find_robots(stage):
        names.extend(load_robot(stage, root).joint_names)
    return names


def _write_frame(out: Path, view: Any, *, depth: bool, segmentation: bool) -> list[Path]:
    stem = out.with_suffix("")
    files = [out]
    _write_rgb(out, view.rgb)
    if depth:
        files.append(stem.with_name(f"{stem.name}_depth.png"))
        write_depth_png(files[-1], view.depth)
    if segmentation:
        png, table = stem.with_name(f"{stem.name}_seg.png"), stem.with_name(f"{stem.name}_seg.json")
        write_segmentation(png, table, view.segmentation, view.prim_paths)
        files += [png, table]
    return files


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """Frames [H, W, 3] uint8 -> H.264 MP4 via imageio-ffmpeg, written atomically (temporary file + rename)."""
    import imageio_ffmpeg  # noqa: PLC0415

    from splattwin.io import atomic_output  # noqa: PLC0415

    if not frames:
        raise InputError(path, "no frames to write")
    height, width = frames[0].shape[:2]
    with atomic_output(path) as temporary:
        writer = imageio_ffmpeg.write_frames(
            str(temporary),
            (width, height),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=2,
            ffmpeg_log_level="error",
        )
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()


# --- the demo's rendering step ------------------------------------------------------------------------------------
@dataclass
class DemoRenders:
    """What the demo's rendering step produced: image files and numbers for the report."""

    images: list[Path]
    poses: list[dict[str, float]]
    cameras: list[dict[str, list[float]]]
    gaussians: int
    seconds_per_frame: float
    meshes_composited: list[str]


def _meshes_without_gaussians(stage: Any) -> list[str]:
    """Mesh prims no Gaussians stand for: no ancestor of the mesh has a Gaussian prim as a child (a scene's
    collider beside its splat, a robot link's visuals under a link holding ``Gaussians`` are represented)."""
    from pxr import Usd, UsdGeom, UsdVol  # noqa: PLC0415

    def has_gaussian_child(prim: Any) -> bool:
        return any(child.IsA(UsdVol.ParticleField3DGaussianSplat) for child in prim.GetChildren())

    paths = []
    for prim in stage.Traverse(Usd.TraverseInstanceProxies()):
        if not prim.IsA(UsdGeom.Mesh):
            continue
        ancestor, represented = prim.GetParent(), False
        while ancestor and not ancestor.IsPseudoRoot() and not represented:
            represented = has_gaussian_child(ancestor)
            ancestor = ancestor.GetParent()
        if not represented:
            paths.append(str(prim.GetPath()))
    return paths


def _demo_poses(stage: Any) -> list[dict[str, float]]:
    """Zero pose plus two poses at 30 % / 60 % of the way to each joint's limits (if a robot is on the stage)."""
    from splattwin.robot import find_robots, load_robot  # noqa: PLC0415

    poses: list[dict[str, float]] = [{}]
    for root in find_robots(stage)[:1]:
        robot = load_robot(stage, root)
        limits = robot.joint_limits.detach().double().numpy()
        for fraction, side in ((0.3, 1), (0.6, 0)):
            values = limits[:, side] * fraction
            poses.append({name: float(v) for name, v in zip(robot.joint_names, values, strict=True)})
    return poses


def _demo_cameras(scene: Any, width: int, height: int) -> list[Any]:
    """Two views of the table from the open side (away from the wall), whatever the twin's heading."""
    from splattwin.render.camera import look_at_camera  # noqa: PLC0415

    means = scene.gaussians.means.astype(np.float64)
    objects = np.array([p.startswith("/World/Objects") for p in scene.prim_paths])[scene.prim_index]
    target = means[objects].mean(axis=0) if objects.any() else np.zeros(3)
    target = 0.5 * (target + np.array([0.0, 0.0, target[2]]))  # between the robot base (origin) and the object
    tall = means[means[:, 2] > 0.4, :2]  # the wall behind the table rises above it
    towards_wall = tall.mean(axis=0) - target[:2] if len(tall) else np.array([-1.0, 0.0])
    away = -towards_wall / max(np.linalg.norm(towards_wall), 1e-9)
    cameras = []
    # Far and high enough that the robot (about 1 m tall at the origin) stays in frame with the table.
    for angle_deg, distance, height_m in ((35.0, 2.6, 1.0), (-50.0, 2.3, 1.5)):
        a = np.radians(angle_deg)
        direction = np.array([np.cos(a) * away[0] - np.sin(a) * away[1], np.sin(a) * away[0] + np.cos(a) * away[1]])
        eye = np.array([*(target[:2] + distance * direction), target[2] + height_m])
        cameras.append(look_at_camera(eye, target + np.array([0, 0, 0.2]), width=width, height=height))
    return cameras


def _spawned_cube(stage: Any, target: np.ndarray) -> Any:
    """A 8 cm cube 'spawned in simulation' (mesh only, no Gaussians) on the table beside the target."""
    from splattwin.render.meshes import SceneMeshes  # noqa: PLC0415

    del stage
    import trimesh  # noqa: PLC0415

    box = trimesh.creation.box(extents=(0.08, 0.08, 0.08))
    box.apply_translation(target + np.array([0.0, 0.0, 0.04]))
    triangles = np.asarray(box.vertices)[np.asarray(box.faces)]
    colors = np.broadcast_to([0.15, 0.35, 0.9], (len(triangles), 3))
    return SceneMeshes(triangles, colors.copy(), ["(spawned cube)"], np.zeros(len(triangles), dtype=np.int32))


def render_demo_views(stage_path: Path, out: Path, *, width: int = 480, height: int = 360) -> DemoRenders:
    """The demo's renders: the twin from two cameras at each robot pose, and a depth-composited overlay.

    Writes ``renders.png`` (rows: poses, columns: cameras), ``overlay.png`` (camera 1: splats | meshes that
    have no Gaussians plus a spawned cube | the depth composite | instance segmentation) into ``out``.
    """
    import time  # noqa: PLC0415

    import imageio.v3 as iio  # noqa: PLC0415

    from splattwin.render.meshes import SceneMeshes, rasterize_meshes  # noqa: PLC0415
    from splattwin.render.views import composite, render_view  # noqa: PLC0415
    from splattwin.scene import gather_gaussians, gather_meshes  # noqa: PLC0415
    from splattwin.usd import open_usd_stage  # noqa: PLC0415

    stage = open_usd_stage(stage_path)
    poses = _demo_poses(stage)
    rows, frame_times = [], []
    cameras: list[Any] = []
    first_view = first_scene = None
    for joints in poses:
        overrides = _link_overrides(stage, joints) if joints else {}
        scene = gather_gaussians(stage, overrides=overrides)
        cameras = cameras or _demo_cameras(scene, width, height)
        row = []
        for camera in cameras:
            start = time.perf_counter()
            view = render_view(scene, camera, backend="cpu")
            frame_times.append(time.perf_counter() - start)
            row.append(_to_uint8(view.rgb))
            if first_view is None:
                first_view, first_scene = view, scene
        rows.append(np.concatenate(_with_gaps(row, axis=1), axis=1))
    renders = out / "renders.png"
    iio.imwrite(renders, np.concatenate(_with_gaps(rows, axis=0), axis=0))

    mesh_paths = _meshes_without_gaussians(stage)
    skip = tuple(
        str(p.GetPath()) for p in stage.Traverse() if p.GetTypeName() == "Mesh" and str(p.GetPath()) not in mesh_paths
    )
    meshes = gather_meshes(stage, skip=skip) if mesh_paths else None
    objects = np.array([p.startswith("/World/Objects") for p in first_scene.prim_paths])[first_scene.prim_index]
    spot = first_scene.gaussians.means[objects].mean(axis=0).astype(np.float64) if objects.any() else np.zeros(3)
    # Just behind the object as camera 1 sees it and a little to the side: the object hides part of the cube,
    # and the cube hides the table behind it, which shows the depth test both ways.
    ray = spot[:2] - cameras[0].position[:2]
    ray /= max(np.linalg.norm(ray), 1e-9)
    side = np.array([-ray[1], ray[0]])
    base = spot[:2] + 0.09 * ray + 0.04 * side
    cube = _spawned_cube(stage, np.array([base[0], base[1], spot[2] - 0.025]))
    if meshes is not None and len(meshes.vertices):
        cube = SceneMeshes(
            np.concatenate([meshes.vertices, cube.vertices]),
            np.concatenate([meshes.colors, cube.colors]),
            [*meshes.prim_paths, *cube.prim_paths],
            np.concatenate([meshes.prim_index, cube.prim_index + len(meshes.prim_paths)]),
        )
    sim_rgb, sim_depth, _ = rasterize_meshes(cube, cameras[0])
    overlay = composite(first_view.premultiplied_rgb, first_view.depth, sim_rgb, sim_depth, first_view.alpha)
    palette = np.array([[0.85, 0.85, 0.85], [0.9, 0.6, 0.2], [0.2, 0.7, 0.3], [0.6, 0.3, 0.8], [0.9, 0.2, 0.2]])
    labels = first_view.segmentation
    seg = np.where(labels[..., None] >= 0, palette[np.clip(labels, 0, None) % len(palette)], 1.0)
    panels = [first_view.rgb, sim_rgb, overlay, seg]
    overlay_path = out / "overlay.png"
    iio.imwrite(overlay_path, np.concatenate(_with_gaps([_to_uint8(p) for p in panels], axis=1), axis=1))
    return DemoRenders(
        images=[renders, overlay_path],
        poses=poses,
        cameras=[{"eye": c.position.tolist()} for c in cameras],
        gaussians=len(first_scene.gaussians),
        seconds_per_frame=float(np.median(frame_times[1:] or frame_times)),  # the first loads the kernels
        meshes_composited=[*mesh_paths, "(spawned cube)"],
    )


def _with_gaps(images: list[np.ndarray], *, axis: int, gap: int = 4) -> list[np.ndarray]:
    """Images with white strips between them, for a grid."""
    out: list[np.ndarray] = []
    for i, image in enumerate(images):
        if i:
            shape = list(image.shape)
            shape[axis] = gap
            out.append(np.full(shape, 255, dtype=image.dtype))
        out.append(image)
    return out
