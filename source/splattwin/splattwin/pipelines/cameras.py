"""``splattwin import-cameras``: calibrated cameras from a reconstruction into the twin (docs/cameras.md).

:func:`place_cameras` puts the cameras of a :class:`~splattwin.io.cameras.CameraFile` into the twin's world frame
and says how (the frame record every imported prim carries, docs/frames.md). Where the file's frame comes from:

- ``frame_splat`` (``--frame PRIM``): the cameras were reconstructed together with that splat, so they are in the
  splat file's frame; they take the splat's recorded ``sourceToWorld`` (the import's ``--up-axis``/``--scale``
  and every ``align`` since), so camera and splat stay registered;
- ``metric`` (``--metric``): already z-up metres in the twin's frame;
- otherwise as any import (:func:`~splattwin.pipelines._common.import_frame`): the reconstruction frame after the
  import-time ``--up-axis``/``--scale``, brought into the aligned frame on an aligned twin.

A similarity moves a camera rigidly (its centre by the full similarity, its axes by the rotation); intrinsics
never change with the units. :func:`import_cameras` authors each camera with
:func:`splattwin.usd.cameras.define_camera` under ``/World/Cameras`` in the scene layer, inside one transaction:
any bad camera leaves the twin as it was. ``align`` moves imported cameras with the rest (their frame record).
``extract-mesh --mask-images`` places its cameras with the same :func:`place_cameras`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from splattwin.errors import InputError
from splattwin.geometry.transforms import Similarity
from splattwin.io.cameras import CameraFile, PosedCamera, read_camera_file
from splattwin.pipelines._common import import_frame, source_to_world
from splattwin.usd.cameras import CAMERAS_PATH, define_camera, moved_pose, prim_name
from splattwin.usd.frames import FRAME_KEY, frame_record, read_alignment, read_frame_state, to_custom_data
from splattwin.usd.prims import check_new_prim_path, check_prim_path_syntax
from splattwin.usd.stage import TwinStage, edit_twin

__all__ = [
    "CAMERA_KEY",
    "CameraPlacement",
    "MaskViews",
    "ImportCamerasConfig",
    "ImportCamerasResult",
    "import_cameras",
    "place_cameras",
    "read_cameras_for_twin",
    "read_mask_views",
]

logger = logging.getLogger(__name__)

CAMERA_KEY = "splattwin:camera"
"""customData of an imported camera: the file, its format, the camera's index there, its image and mask."""


@dataclass
class CameraPlacement:
    """Cameras in the twin's world frame.

    Attributes:
        to_twin: the file's frame -> the twin's world frame.
        record: the ``splattwin:frame`` customData the cameras carry.
        cameras: the cameras, ``camera_to_world`` now in the twin's world frame [m].
        frame_from: the splat prim whose frame was followed, or None.
        notes: what the user should know (the frame taken, an applied_transform kept, distortion).
    """

    to_twin: Similarity
    record: dict[str, Any]
    cameras: list[PosedCamera]
    frame_from: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_cameras_for_twin(source: Path, *, original_frame: bool = False, flag: str = "--original-frame") -> tuple[
    CameraFile, list[str]
]:  # fmt: skip
    """Read a camera file, undoing its ``applied_transform`` when ``original_frame``; notes about that choice."""
    cameras = read_camera_file(source)
    notes = []
    if original_frame:
        if cameras.applied_transform is None:
            raise InputError(flag, f"{source} records no applied_transform (only a nerfstudio transforms.json does)")
        cameras = cameras.in_original_frame()
        notes.append(
            f"{source}: applied_transform undone: the cameras are in the frame of the COLMAP model it came from"
        )
    elif cameras.applied_transform is not None:
        notes.append(
            f"{source} records an applied_transform (nerfstudio's change of the COLMAP poses): the cameras are taken "
            f"in the transforms.json frame; give {flag} for a splat trained on the COLMAP model itself"
        )
    distorted = [c.name for c in cameras.cameras if c.distorted]
    if distorted:
        notes.append(
            f"{len(distorted)} camera(s) have lens distortion ({distorted[0]}...): the coefficients are kept in "
            "customData; renders are pinhole (undistort the images to compare them)"
        )
    return cameras, notes


def place_cameras(
    twin: TwinStage,
    cameras: CameraFile,
    *,
    frame_splat: str | None = None,
    metric: bool = False,
    up_axis: str = "z",
    scale: float = 1.0,
) -> CameraPlacement:
    """The cameras of ``cameras`` in the twin's world frame (see the module docstring).

    Raises:
        InputError: ``--frame`` naming no prim or a prim without a frame record, or combined with ``--metric``,
            ``--up-axis`` or ``--scale`` (the splat's record already says all of it).
    """
    source = cameras.path
    notes: list[str] = []
    if frame_splat is not None:
        if metric or up_axis.strip().lower().lstrip("+") != "z" or scale != 1.0:
            raise InputError(
                "--frame", "takes the splat's recorded frame; give it without --metric, --up-axis, --scale"
            )
        check_prim_path_syntax(frame_splat, "--frame")
        prim = twin.stage.GetPrimAtPath(frame_splat)
        if not prim:
            raise InputError("--frame", f"no prim at {frame_splat} in {twin.root_path}")
        state = read_frame_state(prim, twin_alignment=read_alignment(twin.stage))
        if state is None:
            raise InputError(
                "--frame", f"{frame_splat} carries no frame record (it was not imported): nothing to follow"
            )
        to_twin = state.source_to_world
        record = frame_record(
            source=str(source), source_to_world=to_twin, source_to_reconstruction=state.source_to_reconstruction,
            state=state.state, imported_in=state.state, import_up_axis=state.import_up_axis,
            import_scale=state.import_scale, metric=state.metric,
        )  # fmt: skip
        record["frameOf"] = frame_splat
        notes.append(
            f"cameras in the frame of {frame_splat} (imported from {Path(state.source).name}): its recorded transform "
            f"to the twin was applied (scale x{to_twin.scale:.6g})"
        )
        warnings: list[str] = []
    else:
        source_to_world(up_axis=up_axis, scale=scale)
        frame = import_frame(twin, source=source, up_axis=up_axis, scale=scale, metric=metric)
        to_twin, record, notes, warnings = frame.to_twin, frame.record, list(frame.notes), list(frame.warnings)
    placed = [replace(c, camera_to_world=moved_pose(c.camera_to_world, to_twin)) for c in cameras.cameras]
    return CameraPlacement(
        to_twin=to_twin, record=record, cameras=placed, frame_from=frame_splat, notes=notes, warnings=warnings
    )


@dataclass(kw_only=True)
class ImportCamerasConfig:
    """``splattwin import-cameras`` options.

    Attributes:
        source: transforms.json, cameras.json, COLMAP cameras.txt / images.txt or their folder.
        stage: the twin's root layer (created when missing).
        frame_splat: follow this splat prim's recorded frame (the cameras were reconstructed with it).
        metric: the cameras are already z-up metres in the twin's frame.
        up_axis, scale: the import-time frame change (as ``import-splat``), without ``frame_splat``.
        original_frame: undo a transforms.json's ``applied_transform``.
        root: the prim the cameras go under.
        replace, force: replace cameras of the same names (force: also a person's root-layer edits of them).
    """

    source: Path
    stage: Path
    frame_splat: str | None = None
    metric: bool = False
    up_axis: str = "z"
    scale: float = 1.0
    original_frame: bool = False
    root: str = CAMERAS_PATH
    replace: bool = False
    force: bool = False

    def validate(self) -> None:
        """Check the options that need no file."""
        check_prim_path_syntax(self.root, "--root")
        if self.frame_splat is not None:
            check_prim_path_syntax(self.frame_splat, "--frame")
            if self.metric:
                raise InputError("--frame", "and --metric exclude each other (the splat's record says the frame)")
        source_to_world(up_axis=self.up_axis, scale=self.scale)


@dataclass
class ImportCamerasResult:
    """What an import made: the camera prims, the file's format, notes and warnings."""

    prims: list[str]
    format: str
    layer: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _prim_paths(root: str, cameras: list[PosedCamera]) -> list[str]:
    seen: dict[str, int] = {}
    paths = []
    for camera in cameras:
        name = prim_name(camera.name)
        count = seen.get(name, 0)
        seen[name] = count + 1
        paths.append(f"{root}/{name if count == 0 else f'{name}_{count}'}")
    return paths


def import_cameras(config: ImportCamerasConfig) -> ImportCamerasResult:
    """Read the cameras, place them in the twin's frame and author them (see the module docstring)."""
    from pxr import UsdGeom  # noqa: PLC0415

    config.validate()
    cameras, notes = read_cameras_for_twin(config.source, original_frame=config.original_frame)
    layer = "scene"
    with edit_twin(config.stage) as twin:
        placement = place_cameras(
            twin, cameras, frame_splat=config.frame_splat, metric=config.metric, up_axis=config.up_axis,
            scale=config.scale,
        )  # fmt: skip
        paths = _prim_paths(config.root, placement.cameras)
        for path in paths:
            check_new_prim_path(twin, path, replace=config.replace, force=config.force)
        with twin.edit_layer(layer):
            if not twin.stage.GetPrimAtPath(config.root):
                UsdGeom.Xform.Define(twin.stage, config.root)
            for path, camera in zip(paths, placement.cameras, strict=True):
                define_camera(
                    twin.stage, path, K=camera.K, width=camera.width, height=camera.height,
                    camera_to_world=camera.camera_to_world, distortion=camera.distortion or None,
                    custom_data={
                        FRAME_KEY: placement.record,
                        CAMERA_KEY: to_custom_data({
                            "file": str(cameras.path), "format": cameras.format, "index": int(camera.index),
                            "image": str(camera.image or ""), "mask": str(camera.mask or ""),
                        }),
                    },
                )  # fmt: skip
    logger.info("imported %d cameras from %s into %s", len(paths), config.source, config.stage)
    return ImportCamerasResult(
        prims=paths, format=cameras.format, layer=layer, notes=notes + placement.notes, warnings=placement.warnings
    )


@dataclass
class MaskViews:
    """Posed masks in the twin's frame (``extract-mesh --mask-images``).

    Attributes:
        cameras: per image its :class:`~splattwin.geometry.camera.Camera` in the twin's world frame.
        masks: per image [H, W] bool, True on the object.
        names: per image its name (for messages); files: per image the mask file.
        source: the camera file read; notes: how the cameras were placed.
    """

    cameras: list[Any]
    masks: list[Any]
    names: list[str]
    files: list[Path]
    source: Path
    notes: list[str] = field(default_factory=list)


def _camera_file_in(folder: Path, flag: str) -> CameraFile:
    if not folder.is_dir():
        raise InputError(flag, f"{folder} is not a folder (give the folder holding transforms.json, or a COLMAP "
                         "model and masks/)")  # fmt: skip
    for candidate in (folder, folder / "sparse" / "0", folder / "sparse"):
        if any((candidate / name).is_file() for name in ("transforms.json", "cameras.txt", "cameras.bin")):
            return read_camera_file(candidate)
    raise InputError(
        flag, f"{folder} holds no transforms.json and no COLMAP cameras.txt + images.txt (or .bin; nor sparse/0/)"
    )


def _mask_file(folder: Path, camera: PosedCamera) -> Path:
    if camera.mask is not None:
        return camera.mask
    from splattwin.io.images import IMAGE_SUFFIXES  # noqa: PLC0415

    found = [folder / "masks" / f"{camera.name}{suffix}" for suffix in IMAGE_SUFFIXES]
    found = [path for path in found if path.is_file()]
    if not found:
        raise InputError(folder / "masks", f"no mask for image {camera.name} (looked for masks/{camera.name}.png ...)")
    return found[0]


def read_mask_views(twin: TwinStage, folder: Path, *, splat: str, flag: str = "--mask-images") -> MaskViews:
    """Read the cameras and masks in ``folder`` and place the cameras in the frame of ``splat`` (they were
    reconstructed with it); a splat without a frame record is taken as being in the twin's frame (a note says so).

    Masks: a transforms.json's ``mask_path`` per frame, else ``masks/<image stem>.<image suffix>`` in ``folder``.

    Raises:
        InputError: no camera file, a missing or unreadable mask, a mask whose size is not its camera's, a camera
            with lens distortion (undistort first), or a bad camera file.
    """
    from splattwin.io.images import read_mask  # noqa: PLC0415

    folder = Path(folder)
    cameras = _camera_file_in(folder, flag)
    distorted = [c for c in cameras.cameras if c.distorted]
    if distorted:
        c = distorted[0]
        coefficients = ", ".join(f"{k}={v:g}" for k, v in c.distortion.items() if not isinstance(v, str) and v)
        raise InputError(cameras.path, f"camera {c.name} has lens distortion ({coefficients}): undistort the images "
                         "and masks first (colmap image_undistorter) to fuse them with a pinhole renderer")  # fmt: skip
    masks, files = [], []
    for camera in cameras.cameras:
        path = _mask_file(folder, camera)
        mask = read_mask(path)
        if mask.shape != (camera.height, camera.width):
            raise InputError(path, f"is {mask.shape[1]}x{mask.shape[0]} but camera {camera.name} is "
                             f"{camera.width}x{camera.height}")  # fmt: skip
        masks.append(mask)
        files.append(path)
    prim = twin.stage.GetPrimAtPath(splat)
    if prim and prim.GetCustomDataByKey(FRAME_KEY):
        placement = place_cameras(twin, cameras, frame_splat=splat)
    else:
        placement = place_cameras(twin, cameras, metric=True)
        placement.notes = [
            f"{splat} carries no frame record: the cameras in {cameras.path} are taken in the twin's frame"
        ]
    return MaskViews(
        cameras=[c.camera() for c in placement.cameras], masks=masks, names=[c.name for c in placement.cameras],
        files=files, source=cameras.path, notes=placement.notes,
    )  # fmt: skip
