"""Push log v1: robot pushes of one object, the input of mass identification (see docs/formats.md).

A push log is a folder with ``push.npz`` and ``meta.json``:

- ``t`` [T] seconds, strictly increasing;
- ``object_pose`` [T, 7] world frame: x, y, z [m], qw, qx, qy, qz (the object's body frame, origin at its
  centre of mass);
- ``pusher_target`` [T, 3] the commanded fingertip position, world frame [m];
- optional ``pusher_position`` [T, 3] measured fingertip position [m], ``pusher_force`` [T, 3] measured force
  on the object [N].

``meta.json`` holds ``pusher`` {``radius`` m, ``mass`` kg, ``kp`` N/m, ``kd`` N s/m, ``friction``},
``object`` {``mesh`` (a path relative to the folder, body frame, metres) and/or ``prim``, optional
``mass_prior`` kg}, ``table`` {``height`` m, ``friction``} and ``gravity`` [3] m/s^2.

Instead of ``object_pose`` in ``push.npz`` the folder may hold FoundationPose-style per-frame pose files:
``poses/<frame>.txt``, each a 4x4 row-major homogeneous matrix (world from body, metres), one per entry of
``t``, in the order of their names; :func:`read_pose_files` reads them.

Every check runs on the small header and arrays before anything derived is allocated, and every problem is an
:class:`~splattwin.errors.InputError` naming the file and the problem.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError

__all__ = [
    "MAX_SAMPLES",
    "PushLog",
    "PusherSpec",
    "read_pose_files",
    "read_push_log",
    "write_push_log",
]

MAX_SAMPLES = 2_000_000
"""Longest log accepted (samples); a larger header is refused before its arrays are read."""

_QUAT_NORM_TOLERANCE = 1e-3
_MAX_PLAUSIBLE_COORDINATE_M = 50.0  # a workcell is metres wide: larger coordinates are millimetres or garbage
_MAX_PLAUSIBLE_RADIUS_M = 0.2


@dataclass(frozen=True, kw_only=True)
class PusherSpec:
    """The fingertip: a sphere driven by ``kp * (target - x) + kd * (target_velocity - v)``, weight compensated.

    Attributes:
        radius: sphere radius [m].
        mass: moving mass of the fingertip [kg].
        kp: PD stiffness [N/m].
        kd: PD damping [N s/m].
        friction: Coulomb friction coefficient between fingertip and object.
    """

    radius: float
    mass: float
    kp: float
    kd: float
    friction: float


@dataclass(kw_only=True)
class PushLog:
    """A validated push log.

    Attributes:
        folder: where it was read from.
        t: sample times [s], shape [T], strictly increasing.
        object_pose: world frame, shape [T, 7]: position [m] then unit quaternion wxyz.
        pusher_target: commanded fingertip position, world frame [m], shape [T, 3].
        pusher_position: measured fingertip position, world frame [m], shape [T, 3], or None.
        pusher_force: measured force on the object, world frame [N], shape [T, 3], or None.
        pusher: the fingertip's description.
        mesh_path: the object's collision mesh (body frame, metres), or None when only a prim is named.
        prim: the object's prim in a twin, or None.
        mass_prior: prior mass [kg] or None.
        table_height: table plane height, world z [m].
        table_friction: object-table Coulomb friction coefficient.
        gravity: world gravity [m/s^2], shape [3].
        meta: the whole ``meta.json`` (extra keys such as a generator's ``truth`` stay available).
    """

    folder: Path
    t: np.ndarray
    object_pose: np.ndarray
    pusher_target: np.ndarray
    pusher_position: np.ndarray | None
    pusher_force: np.ndarray | None
    pusher: PusherSpec
    mesh_path: Path | None
    prim: str | None
    mass_prior: float | None
    table_height: float
    table_friction: float
    gravity: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Time from the first to the last sample [s]."""
        return float(self.t[-1] - self.t[0])


def _number(meta_path: Path, where: str, value: Any, *, low: float = -math.inf, high: float = math.inf) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(meta_path, f"{where} must be a number, got {value!r}") from None
    if not (math.isfinite(number) and low <= number <= high):
        raise InputError(meta_path, f"{where} must be a finite number in [{low}, {high}], got {value!r}")
    return number


def _meta(folder: Path) -> tuple[dict[str, Any], PusherSpec, dict[str, Any]]:
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise InputError(meta_path, "missing: a push log v1 folder needs meta.json and push.npz")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(meta_path, f"is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise InputError(meta_path, "must hold a JSON object")
    for key in ("pusher", "object", "table", "gravity"):
        if key not in meta:
            raise InputError(meta_path, f"has no {key!r} entry (push log v1 needs pusher, object, table, gravity)")
    pusher = meta["pusher"]
    if not isinstance(pusher, dict):
        raise InputError(meta_path, "'pusher' must be an object")
    missing = [k for k in ("radius", "mass", "kp", "kd", "friction") if k not in pusher]
    if missing:
        raise InputError(meta_path, f"pusher lacks {', '.join(missing)}")
    radius = _number(meta_path, "pusher.radius [m]", pusher["radius"], low=1e-4, high=_MAX_PLAUSIBLE_RADIUS_M)
    spec = PusherSpec(
        radius=radius,
        mass=_number(meta_path, "pusher.mass [kg]", pusher["mass"], low=1e-4, high=1e3),
        kp=_number(meta_path, "pusher.kp [N/m]", pusher["kp"], low=1e-3, high=1e7),
        kd=_number(meta_path, "pusher.kd [N s/m]", pusher["kd"], low=0.0, high=1e5),
        friction=_number(meta_path, "pusher.friction", pusher["friction"], low=0.0, high=10.0),
    )
    table = meta["table"]
    if not isinstance(table, dict) or "height" not in table or "friction" not in table:
        raise InputError(meta_path, "'table' must be an object with 'height' [m] and 'friction'")
    parsed = {
        "table_height": _number(
            meta_path, "table.height [m]", table["height"], low=-_MAX_PLAUSIBLE_COORDINATE_M, high=50
        ),
        "table_friction": _number(meta_path, "table.friction", table["friction"], low=0.0, high=10.0),
    }
    gravity = np.asarray(meta["gravity"], dtype=object)
    if gravity.shape != (3,):
        raise InputError(meta_path, f"gravity must be 3 numbers [m/s^2], got {meta['gravity']!r}")
    parsed["gravity"] = np.array([_number(meta_path, "gravity", g, low=-100, high=100) for g in gravity])
    obj = meta["object"]
    if not isinstance(obj, dict) or not ("mesh" in obj or "prim" in obj):
        raise InputError(meta_path, "'object' must name a 'mesh' file or a 'prim' in a twin")
    parsed["mesh_path"] = None
    if "mesh" in obj:
        parsed["mesh_path"] = (folder / str(obj["mesh"])).resolve()
        if not parsed["mesh_path"].is_file():
            raise InputError(meta_path, f"object.mesh {obj['mesh']!r}: no such file {parsed['mesh_path']}")
    parsed["prim"] = str(obj["prim"]) if "prim" in obj else None
    parsed["mass_prior"] = (
        None
        if obj.get("mass_prior") is None
        else _number(meta_path, "object.mass_prior [kg]", obj["mass_prior"], low=1e-6)
    )
    return meta, spec, parsed


def _array_header(npz: zipfile.ZipFile, name: str, npz_path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one ``.npy`` member read from its header only (nothing allocated)."""
    from numpy.lib import format as npy_format  # noqa: PLC0415

    with npz.open(f"{name}.npy") as handle:
        try:
            version = npy_format.read_magic(handle)
            reader = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = reader(handle)
        except ValueError as exc:
            raise InputError(npz_path, f"array {name!r} has a broken header ({exc})") from None
    return shape, dtype


def _read_arrays(npz_path: Path, pose_files: bool) -> dict[str, np.ndarray]:
    if not npz_path.is_file():
        raise InputError(npz_path, "missing: a push log v1 folder needs push.npz and meta.json")
    required = ["t", "pusher_target"] + ([] if pose_files else ["object_pose"])
    try:
        with zipfile.ZipFile(npz_path) as npz:
            names = {n.removesuffix(".npy") for n in npz.namelist()}
            missing = [n for n in required if n not in names]
            if missing:
                raise InputError(npz_path, f"lacks array(s) {', '.join(missing)}")
            expected = {"t": 1, "object_pose": 7, "pusher_target": 3, "pusher_position": 3, "pusher_force": 3}
            shapes = {}
            for name, width in expected.items():
                if name not in names:
                    continue
                shape, dtype = _array_header(npz, name, npz_path)
                if dtype.kind not in "fiu":
                    raise InputError(npz_path, f"array {name!r} must be numeric, got dtype {dtype}")
                wanted = "[T]" if width == 1 else f"[T, {width}]"
                if (width == 1 and len(shape) != 1) or (width > 1 and (len(shape) != 2 or shape[1] != width)):
                    raise InputError(npz_path, f"array {name!r} must have shape {wanted}, got {list(shape)}")
                if shape[0] > MAX_SAMPLES:
                    raise InputError(npz_path, f"array {name!r} has {shape[0]} samples, more than {MAX_SAMPLES}")
                shapes[name] = shape
            lengths = {name: shape[0] for name, shape in shapes.items()}
            if len(set(lengths.values())) != 1:
                raise InputError(npz_path, f"arrays have different lengths: {lengths}")
    except zipfile.BadZipFile:
        raise InputError(npz_path, "is not a valid .npz archive") from None
    with np.load(npz_path, allow_pickle=False) as data:
        return {name: np.asarray(data[name], dtype=np.float64) for name in shapes}


def _check_finite(npz_path: Path, name: str, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise InputError(npz_path, f"array {name!r} has {int(bad.sum())} NaN/inf value(s), first at sample {first}")


def _check_units(npz_path: Path, name: str, positions: np.ndarray) -> None:
    largest = float(np.abs(positions).max()) if positions.size else 0.0
    if largest > _MAX_PLAUSIBLE_COORDINATE_M:
        raise InputError(
            npz_path,
            f"array {name!r} reaches {largest:.4g} m from the origin: positions must be in metres "
            f"(millimetres? divide by 1000)",
        )


def read_pose_files(folder: str | Path) -> np.ndarray:
    """Read FoundationPose-style per-frame poses: one 4x4 matrix (world from body, metres) per ``*.txt`` file.

    Args:
        folder: the folder holding the files; they are taken in the order of their names.

    Returns:
        Poses, world frame, shape [T, 7]: position [m], unit quaternion wxyz.

    Raises:
        InputError: no files, a file that is not a 4x4 numeric matrix, NaN, a non-rigid rotation block.
    """
    from splattwin.geometry.transforms import matrix_to_quat_wxyz  # noqa: PLC0415

    folder = Path(folder)
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise InputError(folder, "no per-frame pose files (*.txt, a 4x4 matrix each)")
    if len(files) > MAX_SAMPLES:
        raise InputError(folder, f"{len(files)} pose files, more than {MAX_SAMPLES}")
    poses = np.empty((len(files), 7))
    for i, path in enumerate(files):
        try:
            matrix = np.loadtxt(path, dtype=np.float64, ndmin=2)
        except ValueError as exc:
            raise InputError(path, f"is not a numeric 4x4 matrix ({exc})") from None
        if matrix.shape != (4, 4):
            raise InputError(path, f"must hold a 4x4 matrix, got shape {list(matrix.shape)}")
        if not np.isfinite(matrix).all():
            raise InputError(path, "has NaN/inf entries")
        rotation = matrix[:3, :3]
        if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-3) or np.linalg.det(rotation) < 0:
            raise InputError(path, "its 3x3 block is not a rotation (scaled, sheared or mirrored pose)")
        poses[i, :3] = matrix[:3, 3]
        poses[i, 3:] = matrix_to_quat_wxyz(rotation)
    return poses


def read_push_log(folder: str | Path) -> PushLog:
    """Read and validate a push log v1 folder.

    Args:
        folder: the log folder (``push.npz`` + ``meta.json``, optionally ``poses/*.txt``).

    Returns:
        The validated log; quaternions are normalised (they were unit within 1e-3 already).

    Raises:
        InputError: a missing file or entry, NaN/inf, times not strictly increasing, arrays of different
            lengths or wrong shapes, positions in millimetres, quaternions far from unit length, poses below the
            table, a pose-file count that differs from ``t``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "no such push log folder")
    meta, spec, parsed = _meta(folder)
    npz_path = folder / "push.npz"
    pose_dir = folder / "poses"
    use_pose_files = pose_dir.is_dir()
    arrays = _read_arrays(npz_path, pose_files=use_pose_files)
    if use_pose_files and "object_pose" not in arrays:
        poses = read_pose_files(pose_dir)
        if len(poses) != len(arrays["t"]):
            raise InputError(pose_dir, f"{len(poses)} pose files but {len(arrays['t'])} times in push.npz")
        arrays["object_pose"] = poses
    for name, values in arrays.items():
        _check_finite(npz_path, name, values)
    t = arrays["t"]
    if len(t) < 3:
        raise InputError(npz_path, f"needs at least 3 samples, got {len(t)}")
    steps = np.diff(t)
    if (steps <= 0).any():
        first = int(np.argmax(steps <= 0))
        raise InputError(npz_path, f"times must be strictly increasing: t[{first + 1}] = {t[first + 1]} <= {t[first]}")
    pose = arrays["object_pose"]
    for name in ("object_pose", "pusher_target", "pusher_position"):
        if name in arrays:
            _check_units(npz_path, name, arrays[name][:, :3])
    norms = np.linalg.norm(pose[:, 3:], axis=1)
    off = np.abs(norms - 1.0)
    if (off > _QUAT_NORM_TOLERANCE).any():
        first = int(np.argmax(off > _QUAT_NORM_TOLERANCE))
        raise InputError(
            npz_path,
            f"object_pose quaternions must be unit (w, x, y, z): sample {first} has norm {norms[first]:.6g} "
            f"(xyzw order or Euler angles?)",
        )
    pose = pose.copy()
    pose[:, 3:] /= norms[:, None]
    return PushLog(
        folder=folder,
        t=t,
        object_pose=pose,
        pusher_target=arrays["pusher_target"],
        pusher_position=arrays.get("pusher_position"),
        pusher_force=arrays.get("pusher_force"),
        pusher=spec,
        meta=meta,
        **parsed,
    )


def write_push_log(
    folder: str | Path,
    *,
    t: np.ndarray,
    object_pose: np.ndarray,
    pusher_target: np.ndarray,
    meta: dict[str, Any],
    pusher_position: np.ndarray | None = None,
    pusher_force: np.ndarray | None = None,
) -> Path:
    """Write a push log v1 folder (``push.npz`` compressed + ``meta.json``), each file atomically.

    Args:
        folder: destination folder (created).
        t: times [s], shape [T].
        object_pose: world frame, shape [T, 7] (position [m], quaternion wxyz).
        pusher_target: commanded fingertip, world frame [m], shape [T, 3].
        meta: the ``meta.json`` content (see the module docstring).
        pusher_position: measured fingertip, world frame [m], shape [T, 3], optional.
        pusher_force: measured force on the object [N], shape [T, 3], optional.

    Returns:
        The folder.
    """
    from splattwin.io._atomic import atomic_output  # noqa: PLC0415

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"t": t, "object_pose": object_pose, "pusher_target": pusher_target}
    if pusher_position is not None:
        arrays["pusher_position"] = pusher_position
    if pusher_force is not None:
        arrays["pusher_force"] = pusher_force
    with atomic_output(folder / "push.npz") as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
    with atomic_output(folder / "meta.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    return folder
