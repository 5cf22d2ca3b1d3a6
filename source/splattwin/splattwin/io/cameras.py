"""Calibrated cameras from the files reconstruction tools write: nerfstudio, COLMAP, 3DGS.

:func:`read_camera_file` reads any of them into a :class:`CameraFile` holding one :class:`PosedCamera` per image:
its name, image (and mask) path, size, pinhole ``K`` [px], camera-to-world pose in OpenCV axes (x right, y down,
z forward) in the FILE's frame and units, and its distortion coefficients. Every reader converts to that one
record; nothing downstream knows which format a camera came from.

- nerfstudio ``transforms.json``: intrinsics ``fl_x fl_y cx cy w h`` at the top level or per frame (a frame's
  own keys win; ``camera_angle_x`` gives ``fl_x`` when it is missing, ``fl_y`` defaults to ``fl_x``), distortion
  ``k1 k2 k3 k4 p1 p2`` (with ``camera_model``), per frame ``file_path``, ``transform_matrix`` (camera-to-world,
  OpenGL axes: y up, looking down -z) and optional ``mask_path``. ``applied_transform`` (a 3x4 or 4x4 that
  ``ns-process-data`` applied to the COLMAP poses: ``transform_matrix = applied @ c2w_colmap``) is kept on the
  :class:`CameraFile`; :meth:`CameraFile.in_original_frame` undoes it.
- COLMAP model, text or binary: ``cameras.txt`` (``CAMERA_ID MODEL WIDTH HEIGHT PARAMS``; SIMPLE_PINHOLE
  ``f cx cy``, PINHOLE ``fx fy cx cy``, SIMPLE_RADIAL ``f cx cy k``, RADIAL ``f cx cy k1 k2``, OPENCV ``fx fy cx cy
  k1 k2 p1 p2``) and ``images.txt`` (``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` then a line of 2D points:
  world-to-camera, OpenCV axes), or ``cameras.bin`` + ``images.bin`` (COLMAP's binary layout of the same fields).
  Give either file or the folder holding both (``sparse/0``). Images are looked up in an ``images/`` folder beside
  the model's folder or above it, as COLMAP lays them out.
- 3DGS ``cameras.json`` (the original implementation's output): a list of ``id img_name width height position
  rotation fx fy`` (``rotation`` camera-to-world, OpenCV axes; the principal point at the image centre). The plain
  form ``name K world_to_camera width height`` (OpenCV) is read from the same suffix.

Pixel coordinates: every format here puts pixel edges at integers (the top-left pixel's centre at (0.5, 0.5)),
as the project's cameras do, so ``cx cy`` are taken as they are. Errors are :class:`~splattwin.errors.InputError`
naming the file and, for a per-camera problem, the frame index or image name: a missing file, malformed JSON or
text, a non-rigid or non-finite pose, a zero focal length, an unknown camera model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from splattwin.errors import InputError
from splattwin.geometry.camera import Camera
from splattwin.geometry.transforms import quat_wxyz_to_matrix

__all__ = [
    "CAMERA_FORMATS",
    "COLMAP_MODELS",
    "CameraFile",
    "PosedCamera",
    "check_pose",
    "read_camera_file",
    "read_colmap_model",
    "read_gs_cameras_json",
    "read_transforms_json",
]

CameraFormat = Literal["nerfstudio", "colmap", "3dgs", "plain"]
CAMERA_FORMATS: tuple[str, ...] = ("nerfstudio", "colmap", "3dgs", "plain")
COLMAP_MODELS = {
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k1"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
}
"""COLMAP camera models read, with their parameters in file order."""
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
"""OpenGL camera axes (y up, looking down -z) <-> OpenCV's (y down, looking down +z); its own inverse."""
_DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
_RIGID_TOL = 1e-4


@dataclass(frozen=True, kw_only=True)
class PosedCamera:
    """One calibrated image.

    Attributes:
        name: the image's name without folders or suffix (unique within a file).
        image: the image file (resolved against the camera file's folder), or None when the format names none.
        mask: the mask image (nerfstudio ``mask_path``), or None.
        width, height: image size [px].
        K: [3, 3] pinhole intrinsics [px] ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``.
        camera_to_world: [4, 4] rigid, OpenCV camera axes -> the file's world frame, in the file's units.
        distortion: ``model`` and the coefficients the file gave (``k1 k2 k3 k4 p1 p2``, OpenCV's); empty when
            the model has none.
        index: the camera's position in the file (frame index, line order).
    """

    name: str
    image: Path | None
    mask: Path | None
    width: int
    height: int
    K: np.ndarray  # noqa: N815
    camera_to_world: np.ndarray
    distortion: dict[str, float | str] = field(default_factory=dict)
    index: int = 0

    @property
    def distorted(self) -> bool:
        """Whether any distortion coefficient is non-zero (a pinhole renderer then does not reproduce the image)."""
        return any(not isinstance(v, str) and v != 0.0 for v in self.distortion.values())

    def camera(self, *, near: float = 0.01, far: float = 1e10) -> Camera:
        """The :class:`~splattwin.geometry.camera.Camera` of this image (in the file's frame)."""
        return Camera(
            viewmat=np.linalg.inv(self.camera_to_world), K=self.K.copy(), width=self.width, height=self.height,
            near=near, far=far,
        )  # fmt: skip


@dataclass(frozen=True)
class CameraFile:
    """What a camera file holds.

    Attributes:
        path: the file read.
        format: one of :data:`CAMERA_FORMATS`.
        cameras: one per image, in file order.
        applied_transform: [4, 4] for a nerfstudio file that records one (its poses are ``applied @ original``),
            else None.
    """

    path: Path
    format: str
    cameras: list[PosedCamera]
    applied_transform: np.ndarray | None = None

    def in_original_frame(self) -> CameraFile:
        """The cameras with ``applied_transform`` undone (the frame of the COLMAP model it was made from)."""
        if self.applied_transform is None:
            raise InputError(self.path, "records no applied_transform to undo")
        undo = np.linalg.inv(self.applied_transform)
        cameras = [replace(c, camera_to_world=_rigid(undo @ c.camera_to_world)) for c in self.cameras]
        return CameraFile(self.path, self.format, cameras, None)


def _rigid(matrix: np.ndarray) -> np.ndarray:
    """Re-orthonormalise a product of rigid matrices (rounding), keeping the translation."""
    out = np.array(matrix, dtype=np.float64)
    u, _, vt = np.linalg.svd(out[:3, :3])
    out[:3, :3] = u @ vt
    out[3] = (0.0, 0.0, 0.0, 1.0)
    return out


def check_pose(matrix: Any, where: str) -> np.ndarray:
    """A 4x4 (or 3x4) pose as a float64 4x4, refused unless finite and rigid (orthonormal, det +1).

    Raises:
        InputError: naming ``where``, with the problem (shape, NaN, scale or shear, reflection).
    """
    try:
        pose = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(where, "the pose is not a matrix of numbers") from None
    if pose.shape == (3, 4):
        pose = np.vstack([pose, (0.0, 0.0, 0.0, 1.0)])
    if pose.shape != (4, 4):
        raise InputError(where, f"the pose must be 4x4 (or 3x4), got shape {pose.shape}")
    if not np.isfinite(pose).all():
        raise InputError(where, "the pose has NaN or Inf entries")
    if not np.allclose(pose[3], (0.0, 0.0, 0.0, 1.0), atol=1e-9):
        raise InputError(where, f"the pose's last row must be 0 0 0 1, got {pose[3].tolist()}")
    rotation = pose[:3, :3]
    error = float(np.abs(rotation.T @ rotation - np.eye(3)).max())
    if error > _RIGID_TOL:
        scales = np.linalg.norm(rotation, axis=0)
        raise InputError(
            where,
            f"the pose is not rigid (rotation part off orthonormal by {error:.3g}; axis lengths "
            f"{', '.join(f'{s:.4g}' for s in scales)}): a camera pose has no scale or shear",
        )
    if np.linalg.det(rotation) < 0:
        raise InputError(where, "the pose is a reflection (determinant -1), not a rotation")
    return _rigid(pose)


def _intrinsics(fx: float, fy: float, cx: float, cy: float, width: int, height: int, where: str) -> np.ndarray:
    values = {"fx": fx, "fy": fy, "cx": cx, "cy": cy}
    for key, value in values.items():
        if not math.isfinite(value):
            raise InputError(where, f"{key} is {value}, not a finite number")
    if not (fx > 0 and fy > 0):
        raise InputError(where, f"focal lengths fx={fx:g}, fy={fy:g} px must be > 0")
    if not (width > 0 and height > 0):
        raise InputError(where, f"image size must be positive, got {width}x{height}")
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _number(data: dict[str, Any], key: str, where: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(where, f"{key} must be a number, got {value!r}")
    return float(value)


def _size(data: dict[str, Any], key: str, where: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value <= 0:
        raise InputError(where, f"{key} must be a positive whole number of pixels, got {value!r}")
    return int(value)


def _unique_names(cameras: list[PosedCamera]) -> list[PosedCamera]:
    """Names made unique by a numeric suffix (two images of one stem in different folders)."""
    seen: dict[str, int] = {}
    out = []
    for camera in cameras:
        count = seen.get(camera.name, 0)
        seen[camera.name] = count + 1
        out.append(camera if count == 0 else replace(camera, name=f"{camera.name}_{count}"))
    return out


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise InputError(path, "no such camera file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(path, "is not a text (UTF-8) JSON file") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def read_transforms_json(path: str | Path) -> CameraFile:
    """Read a nerfstudio ``transforms.json`` (see the module docstring)."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise InputError(path, "is not a nerfstudio transforms.json (no 'frames' list)")
    if not data["frames"]:
        raise InputError(path, "has no frames")
    applied = None
    if "applied_transform" in data:
        applied = check_pose(data["applied_transform"], f"{path}: applied_transform")
    cameras = []
    for index, frame in enumerate(data["frames"]):
        where = f"{path}: frame {index}"
        if not isinstance(frame, dict):
            raise InputError(where, f"must be an object, got {type(frame).__name__}")
        merged = {**{k: v for k, v in data.items() if k != "frames"}, **frame}
        for key in ("file_path", "transform_matrix"):
            if key not in frame:
                raise InputError(where, f"has no {key!r}")
        missing = [k for k in ("w", "h") if k not in merged]
        if missing:
            raise InputError(where, f"has no image size ({', '.join(missing)} neither in the frame nor at the top)")
        width, height = _size(merged, "w", where), _size(merged, "h", where)
        if "fl_x" in merged:
            fx = _number(merged, "fl_x", where)
        elif "camera_angle_x" in merged:
            fx = 0.5 * width / math.tan(0.5 * _number(merged, "camera_angle_x", where))
        else:
            raise InputError(where, "has no focal length (fl_x or camera_angle_x, in the frame or at the top)")
        fy = _number(merged, "fl_y", where) if "fl_y" in merged else fx
        cx = _number(merged, "cx", where) if "cx" in merged else width / 2.0
        cy = _number(merged, "cy", where) if "cy" in merged else height / 2.0
        K = _intrinsics(fx, fy, cx, cy, width, height, where)  # noqa: N806
        pose_gl = check_pose(frame["transform_matrix"], where)
        distortion: dict[str, float | str] = {}
        for key in _DISTORTION_KEYS:
            if key in merged:
                distortion[key] = _number(merged, key, where)
                if not math.isfinite(float(distortion[key])):
                    raise InputError(where, f"{key} is {distortion[key]}, not a finite number")
        if distortion:
            distortion = {"model": str(merged.get("camera_model", "OPENCV")), **distortion}
        image = path.parent / str(frame["file_path"])
        mask = path.parent / str(frame["mask_path"]) if frame.get("mask_path") else None
        cameras.append(
            PosedCamera(
                name=Path(str(frame["file_path"])).stem,
                image=image,
                mask=mask,
                width=width,
                height=height,
                K=K,
                camera_to_world=pose_gl @ OPENGL_TO_OPENCV,
                distortion=distortion,
                index=index,
            )  # fmt: skip
        )
    return CameraFile(path, "nerfstudio", _unique_names(cameras), applied)


def _colmap_lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise InputError(path, "no such COLMAP model file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "is not text (UTF-8): a binary COLMAP model is named cameras.bin / images.bin") from None
    return [(n + 1, line.rstrip("\n")) for n, line in enumerate(text.splitlines()) if not line.startswith("#")]


def _colmap_cameras(path: Path) -> dict[int, tuple[str, int, int, list[float]]]:
    cameras = {}
    for number, line in _colmap_lines(path):
        tokens = line.split()
        if not tokens:
            continue
        where = f"{path}: line {number}"
        if len(tokens) < 4:
            raise InputError(where, "expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...")
        model = tokens[1]
        if model not in COLMAP_MODELS:
            raise InputError(
                where, f"camera model {model!r} is not read (read: {', '.join(COLMAP_MODELS)}); undistort the images "
                "(colmap image_undistorter) for a PINHOLE model",
            )  # fmt: skip
        try:
            camera_id, width, height = int(tokens[0]), int(tokens[2]), int(tokens[3])
            params = [float(t) for t in tokens[4:]]
        except ValueError:
            raise InputError(where, f"expected numbers after the model, got {' '.join(tokens[2:])!r}") from None
        if len(params) != len(COLMAP_MODELS[model]):
            names = " ".join(COLMAP_MODELS[model])
            raise InputError(
                where, f"{model} takes {len(COLMAP_MODELS[model])} parameters ({names}), got {len(params)}"
            )
        cameras[camera_id] = (model, width, height, params)
    if not cameras:
        raise InputError(path, "holds no cameras")
    return cameras


def _colmap_intrinsics(
    model: str, width: int, height: int, params: list[float], where: str
) -> tuple[np.ndarray, dict[str, float | str]]:
    values = dict(zip(COLMAP_MODELS[model], params, strict=True))
    fx = values.get("fx", values.get("f", 0.0))
    fy = values.get("fy", values.get("f", 0.0))
    K = _intrinsics(fx, fy, values["cx"], values["cy"], width, height, where)  # noqa: N806
    distortion: dict[str, float | str] = {k: v for k, v in values.items() if k in _DISTORTION_KEYS}
    for key, value in distortion.items():
        if not math.isfinite(float(value)):
            raise InputError(where, f"{key} is {value}, not a finite number")
    return K, ({"model": model, **distortion} if distortion else {})


def _colmap_images_folder(folder: Path) -> Path:
    for candidate in (folder / "images", folder.parent / "images", folder.parent.parent / "images"):
        if candidate.is_dir():
            return candidate
    return folder.parent / "images"


def _colmap_images_text(images_txt: Path) -> list[tuple[str, np.ndarray, np.ndarray, int, str]]:
    """(name, quaternion wxyz, translation, camera id, where) of every image of an ``images.txt``."""
    images = []
    expect_image = True
    for number, line in _colmap_lines(images_txt):
        if not expect_image:
            expect_image = True  # the 2D points line (possibly empty) of the image above
            continue
        tokens = line.split()
        if not tokens:
            continue
        where = f"{images_txt}: line {number}"
        if len(tokens) < 10:
            raise InputError(where, "expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME")
        try:
            quat = np.array([float(t) for t in tokens[1:5]])
            translation = np.array([float(t) for t in tokens[5:8]])
            camera_id = int(tokens[8])
        except ValueError:
            raise InputError(
                where, f"expected numbers for the pose and camera id, got {' '.join(tokens[1:9])!r}"
            ) from None
        name = " ".join(tokens[9:])
        images.append((name, quat, translation, camera_id, f"{images_txt}: image {name!r} (line {number})"))
        expect_image = False
    return images


_COLMAP_MODEL_IDS = {0: "SIMPLE_PINHOLE", 1: "PINHOLE", 2: "SIMPLE_RADIAL", 3: "RADIAL", 4: "OPENCV"}
_COLMAP_OTHER_MODELS = {5: 8, 6: 12, 7: 5, 8: 4, 9: 5, 10: 12}  # model id -> parameter count (refused models)


class _Reader:
    """Little-endian fields of a COLMAP binary file, refusing a file that ends early."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise InputError(path, "no such COLMAP model file")
        self.path, self.data, self.at = path, path.read_bytes(), 0

    def take(self, fmt: str) -> tuple:
        import struct  # noqa: PLC0415

        size = struct.calcsize("<" + fmt)
        if self.at + size > len(self.data):
            raise InputError(self.path, f"ends early (truncated at byte {len(self.data)}): not a complete COLMAP model")
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += size
        return values

    def name(self) -> str:
        end = self.data.find(b"\x00", self.at)
        if end < 0:
            raise InputError(self.path, "ends inside an image name: not a complete COLMAP model")
        text = self.data[self.at : end].decode("utf-8", errors="replace")
        self.at = end + 1
        return text


def _colmap_cameras_bin(path: Path) -> dict[int, tuple[str, int, int, list[float]]]:
    reader = _Reader(path)
    cameras = {}
    for index in range(reader.take("Q")[0]):
        camera_id, model_id, width, height = reader.take("iiQQ")
        if model_id in _COLMAP_OTHER_MODELS:
            raise InputError(
                f"{path}: camera {camera_id}",
                f"camera model id {model_id} is not read (read: {', '.join(COLMAP_MODELS)}); undistort the images "
                "(colmap image_undistorter) for a PINHOLE model",
            )
        if model_id not in _COLMAP_MODEL_IDS:
            raise InputError(f"{path}: camera {index}", f"unknown camera model id {model_id}: not a COLMAP model")
        model = _COLMAP_MODEL_IDS[model_id]
        cameras[camera_id] = (model, int(width), int(height), list(reader.take("d" * len(COLMAP_MODELS[model]))))
    if not cameras:
        raise InputError(path, "holds no cameras")
    return cameras


def _colmap_images_bin(path: Path) -> list[tuple[str, np.ndarray, np.ndarray, int, str]]:
    reader = _Reader(path)
    images = []
    for _ in range(reader.take("Q")[0]):
        values = reader.take("idddddddi")
        name = reader.name()
        reader.take("ddq" * reader.take("Q")[0])
        images.append((name, np.array(values[1:5]), np.array(values[5:8]), int(values[8]), f"{path}: image {name!r}"))
    return images


def read_colmap_model(path: str | Path) -> CameraFile:
    """Read a COLMAP model: ``cameras.txt`` + ``images.txt``, or ``cameras.bin`` + ``images.bin`` (either file, or
    their folder; the text model wins when a folder holds both)."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if not path.exists():
        raise InputError(path, "no such COLMAP model (give cameras.txt, images.txt or their folder)")
    binary = path.suffix == ".bin" or (path.is_dir() and not (folder / "cameras.txt").is_file())
    if binary:
        cameras_file, images_file = folder / "cameras.bin", folder / "images.bin"
        intrinsics, images = _colmap_cameras_bin(cameras_file), _colmap_images_bin(images_file)
    else:
        cameras_file, images_file = folder / "cameras.txt", folder / "images.txt"
        intrinsics, images = _colmap_cameras(cameras_file), _colmap_images_text(images_file)
    images_folder = _colmap_images_folder(folder)
    cameras = []
    for name, quat, translation, camera_id, where in images:
        if not (np.isfinite(quat).all() and np.isfinite(translation).all()):
            raise InputError(where, "the pose has NaN or Inf entries")
        norm = float(np.linalg.norm(quat))
        if not abs(norm - 1.0) < 1e-3:
            raise InputError(where, f"the quaternion QW QX QY QZ has norm {norm:.6g}, not 1 (not a rotation)")
        if camera_id not in intrinsics:
            raise InputError(where, f"names camera {camera_id}, which {cameras_file.name} does not hold")
        model, width, height, params = intrinsics[camera_id]
        K, distortion = _colmap_intrinsics(model, width, height, params, f"{cameras_file}: camera {camera_id}")  # noqa: N806
        world_to_camera = np.eye(4)
        world_to_camera[:3, :3] = quat_wxyz_to_matrix(quat / norm)
        world_to_camera[:3, 3] = translation
        cameras.append(
            PosedCamera(
                name=Path(name).stem,
                image=images_folder / name,
                mask=None,
                width=width,
                height=height,
                K=K,
                camera_to_world=_rigid(np.linalg.inv(world_to_camera)),
                distortion=distortion,
                index=len(cameras),
            )  # fmt: skip
        )
    if not cameras:
        raise InputError(images_file, "holds no images")
    return CameraFile(folder, "colmap", _unique_names(cameras), None)


def read_gs_cameras_json(path: str | Path) -> CameraFile:
    """Read a 3DGS ``cameras.json`` or the plain ``K`` / ``world_to_camera`` form (see the module docstring)."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, list) or not data:
        raise InputError(path, "is not a cameras.json (expected a non-empty list of cameras)")
    plain = isinstance(data[0], dict) and "world_to_camera" in data[0]
    cameras = []
    for index, entry in enumerate(data):
        where = f"{path}: camera {index}"
        if not isinstance(entry, dict):
            raise InputError(where, f"must be an object, got {type(entry).__name__}")
        keys = ("K", "world_to_camera", "width", "height") if plain else (
            "img_name", "width", "height", "position", "rotation", "fx", "fy"
        )  # fmt: skip
        missing = [k for k in keys if k not in entry]
        if missing:
            raise InputError(where, f"has no {', '.join(repr(k) for k in missing)}")
        width, height = _size(entry, "width", where), _size(entry, "height", where)
        name = str(entry.get("name", entry.get("img_name", f"camera_{index:04d}")))
        if plain:
            try:
                K = np.asarray(entry["K"], dtype=np.float64)  # noqa: N806
            except (TypeError, ValueError):
                raise InputError(where, "K is not a 3x3 matrix of numbers") from None
            if K.shape != (3, 3):
                raise InputError(where, f"K must be 3x3, got shape {K.shape}")
            K = (
                _intrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], width, height, where)
                if np.allclose(  # noqa: N806
                    [K[0, 1], K[1, 0], K[2, 0], K[2, 1], K[2, 2]], [0, 0, 0, 0, 1]
                )
                else _refuse_skew(where, K)
            )
            pose = np.linalg.inv(check_pose(entry["world_to_camera"], where))
        else:
            K = _intrinsics(  # noqa: N806
                _number(entry, "fx", where), _number(entry, "fy", where), width / 2.0, height / 2.0, width, height,
                where,
            )  # fmt: skip
            rotation = np.asarray(entry["rotation"], dtype=np.float64)
            position = np.asarray(entry["position"], dtype=np.float64)
            if rotation.shape != (3, 3) or position.shape != (3,):
                raise InputError(where, f"rotation must be 3x3 and position 3 numbers, got {rotation.shape}, "
                                 f"{position.shape}")  # fmt: skip
            pose = np.eye(4)
            pose[:3, :3], pose[:3, 3] = rotation, position
        image = path.parent / "images" / name if Path(name).suffix else None
        cameras.append(
            PosedCamera(
                name=Path(name).stem if Path(name).suffix else name,
                image=image,
                mask=None,
                width=width,
                height=height,
                K=K,
                camera_to_world=check_pose(pose, where),
                index=index,
            )  # fmt: skip
        )
    return CameraFile(path, "plain" if plain else "3dgs", _unique_names(cameras), None)


def _refuse_skew(where: str, K: np.ndarray) -> np.ndarray:  # noqa: N803
    raise InputError(where, f"K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew), got {K.tolist()}")


def read_camera_file(path: str | Path) -> CameraFile:
    """Read cameras from any supported file, told apart by name and content (see the module docstring).

    Raises:
        InputError: a missing file, an unknown kind of file, or any reader's refusal.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such camera file or COLMAP model folder")
    if path.is_dir() or path.name in ("cameras.txt", "images.txt", "cameras.bin", "images.bin"):
        if path.is_dir() and not any((path / f"cameras.{kind}").is_file() for kind in ("txt", "bin")):
            if (path / "transforms.json").is_file():
                return read_transforms_json(path / "transforms.json")
            raise InputError(path, "is a folder without cameras.txt + images.txt or cameras.bin + images.bin (a "
                             "COLMAP model) or transforms.json")  # fmt: skip
        return read_colmap_model(path)
    if path.suffix.lower() != ".json":
        raise InputError(path, "unknown camera file: give a transforms.json, a cameras.json, or a COLMAP "
                         "cameras.txt / images.txt (or their folder)")  # fmt: skip
    data = _load_json(path)
    if isinstance(data, dict) and "frames" in data:
        return read_transforms_json(path)
    if isinstance(data, list):
        return read_gs_cameras_json(path)
    raise InputError(path, "is neither a nerfstudio transforms.json (an object with 'frames') nor a cameras.json "
                     "(a list of cameras)")  # fmt: skip
