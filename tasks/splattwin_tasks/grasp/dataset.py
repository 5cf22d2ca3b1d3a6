"""Grasp demonstrations, npz format v1: what a grasp was tried on, how, and what came of it.

One ``.npz`` file (``numpy.savez``) holds D demonstrations of O objects. Frames: the robot-base frame (z up,
metres), as the tasks use it. Arrays (shapes; units):

- ``format``: the string ``splattwin-grasp-v1``.
- ``objects`` [O] str: object names (the twin's prim path for trials made here).
- ``object_points`` [O, P, 3] float, m: points on each object's surface in its body frame (the policy's input).
- ``object_index`` [D] int: the object of each demonstration.
- ``object_pose`` [D, 7] float: the object's pose at the grasp: position (m) and quaternion (w, x, y, z).
- ``mass_kg`` [D] float > 0: the object's mass; ``mass_rel_uncertainty`` [D] float >= 0: its relative standard
  deviation (0 for a known mass).
- ``pregrasp_pose`` [D, 7] float: the grasp frame at the pre-grasp: grasp-centre position (m) and quaternion.
- ``joint_targets`` [D, 9] float: the Panda's 7 arm joints (rad) and 2 finger openings (m) there; NaN rows
  for demonstrations without joints (a retargeted human grasp often has only the pose).
- ``grip_force_n`` [D] float >= 0: the commanded closing force per finger, newtons.
- ``contacts`` [D] int: pads on the object after closing (DREAM's ``num_contacts``).
- ``outcome`` [D] int: 1 success (lifted, held without slip, under the force ceiling), 0 failure.
- ``contact_sustained`` [D] int: 1 when the pads stayed on the object through lift and hold.
- ``source`` [D] str: ``twin`` (tried here) or anything else (external, e.g. ``retargeted``).

:func:`load_demonstrations` also accepts external files that leave out ``joint_targets`` (NaN), ``contacts`` (2),
``outcome`` and ``contact_sustained`` (1: a demonstration is taken as a success), ``mass_rel_uncertainty`` (0) and
``source`` (``external``). Every array is checked for shape, dtype and range; a wrong unit (millimetres, a
normalised force, grams) is reported with the file and the field.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from splattwin.errors import InputError

__all__ = ["FORMAT", "GraspDataset", "concatenate", "load_demonstrations", "save_demonstrations"]

FORMAT = "splattwin-grasp-v1"
_MAX_FORCE_N = 200.0  # a parallel gripper's closing force; more is a unit mistake (mN, or a normalised value)
_MAX_POSITION_M = 3.0  # positions beyond this from the base are millimetres or another frame
_MAX_MASS_KG = 50.0


@dataclass
class GraspDataset:
    """The arrays of format v1 (see the module docstring for shapes and units)."""

    objects: np.ndarray
    object_points: np.ndarray
    object_index: np.ndarray
    object_pose: np.ndarray
    mass_kg: np.ndarray
    mass_rel_uncertainty: np.ndarray
    pregrasp_pose: np.ndarray
    joint_targets: np.ndarray
    grip_force_n: np.ndarray
    contacts: np.ndarray
    outcome: np.ndarray
    contact_sustained: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.mass_kg)

    def subset(self, mask: np.ndarray) -> GraspDataset:
        """The demonstrations where ``mask`` [D] is true (the objects kept whole)."""
        per_demo = {f.name for f in fields(self)} - {"objects", "object_points"}
        return GraspDataset(
            **{
                f.name: getattr(self, f.name)[mask] if f.name in per_demo else getattr(self, f.name)
                for f in fields(self)
            }
        )

    def validate(self, where: str | Path = "dataset") -> None:
        """InputError naming ``where`` and the field for any wrong shape, dtype or range."""
        _validate(self, str(where))


def _fail(where: str, name: str, problem: str) -> None:
    raise InputError(where, f"{name}: {problem}")


def _validate(ds: GraspDataset, where: str) -> None:
    d = len(ds.mass_kg)
    shapes = {
        "object_index": (d,),
        "object_pose": (d, 7),
        "mass_kg": (d,),
        "mass_rel_uncertainty": (d,),
        "pregrasp_pose": (d, 7),
        "joint_targets": (d, 9),
        "grip_force_n": (d,),
        "contacts": (d,),
        "outcome": (d,),
        "contact_sustained": (d,),
        "source": (d,),
    }
    if d == 0:
        _fail(where, "mass_kg", "no demonstrations")
    if ds.object_points.ndim != 3 or ds.object_points.shape[2] != 3 or ds.object_points.shape[1] < 8:
        _fail(where, "object_points", f"expected [O, P >= 8, 3] metres, got shape {ds.object_points.shape}")
    if ds.objects.shape != (ds.object_points.shape[0],):
        _fail(where, "objects", f"expected [{ds.object_points.shape[0]}] names, got shape {ds.objects.shape}")
    for name, shape in shapes.items():
        value = getattr(ds, name)
        if value.shape != shape:
            _fail(where, name, f"expected shape {list(shape)}, got {list(value.shape)}")
    for name in ("object_points", "object_pose", "mass_kg", "mass_rel_uncertainty", "pregrasp_pose", "grip_force_n"):
        if not np.issubdtype(getattr(ds, name).dtype, np.floating) or not np.isfinite(getattr(ds, name)).all():
            _fail(where, name, "must be finite floats")
    if np.issubdtype(ds.joint_targets.dtype, np.floating):
        rows = np.isfinite(ds.joint_targets).all(1) | np.isnan(ds.joint_targets).all(1)
        if not rows.all():
            _fail(where, "joint_targets", f"row {int(np.argmin(rows))} is partly NaN (a row is all numbers or all NaN)")
    else:
        _fail(where, "joint_targets", "must be floats (NaN rows for demonstrations without joints)")
    index = ds.object_index
    if not np.issubdtype(index.dtype, np.integer) or index.min() < 0 or index.max() >= len(ds.objects):
        _fail(where, "object_index", f"must be integers in [0, {len(ds.objects)})")
    extent = np.abs(ds.object_points).max()
    if extent > 1.0:
        _fail(where, "object_points", f"{extent:.3g} m from the body origin: metres expected (millimetres?)")
    for name in ("object_pose", "pregrasp_pose"):
        pose = getattr(ds, name)
        far = np.linalg.norm(pose[:, :3], axis=1).max()
        if far > _MAX_POSITION_M:
            _fail(where, name, f"a position {far:.3g} m from the robot base: metres expected (millimetres?)")
        norm = np.linalg.norm(pose[:, 3:], axis=1)
        if np.abs(norm - 1).max() > 1e-3:
            _fail(
                where,
                name,
                f"quaternions (w, x, y, z) must be unit, found norm {norm[np.argmax(np.abs(norm - 1))]:.4g}",
            )
    if (ds.mass_kg <= 0).any() or ds.mass_kg.max() > _MAX_MASS_KG:
        _fail(
            where,
            "mass_kg",
            f"must be in (0, {_MAX_MASS_KG}] kg, got [{ds.mass_kg.min():.4g}, {ds.mass_kg.max():.4g}] (grams?)",
        )
    if (ds.mass_rel_uncertainty < 0).any() or ds.mass_rel_uncertainty.max() > 10:
        _fail(where, "mass_rel_uncertainty", "must be a relative standard deviation in [0, 10]")
    force = ds.grip_force_n
    if (force < 0).any() or force.max() > _MAX_FORCE_N:
        _fail(
            where, "grip_force_n", f"must be newtons in [0, {_MAX_FORCE_N}], got max {force.max():.4g} (millinewtons?)"
        )
    successful = ds.outcome == 1
    if successful.any() and force[successful].max() <= 1.0 and len(force) > 1 and force.max() <= 1.0:
        _fail(where, "grip_force_n", "every force is <= 1 N: a normalised force in [0, 1]? newtons expected")
    joints = ds.joint_targets[np.isfinite(ds.joint_targets).all(1)]
    if len(joints) and (
        np.abs(joints[:, :7]).max() > 2 * np.pi or (joints[:, 7:] < -1e-3).any() or joints[:, 7:].max() > 0.05
    ):
        _fail(
            where, "joint_targets", "arm joints must be radians within +-2 pi and finger openings metres in [0, 0.05]"
        )
    for name in ("contacts", "outcome", "contact_sustained"):
        value = getattr(ds, name)
        if not np.issubdtype(value.dtype, np.integer) and value.dtype != bool:
            _fail(where, name, "must be integers")
    if ((ds.outcome != 0) & (ds.outcome != 1)).any() or (
        (ds.contact_sustained != 0) & (ds.contact_sustained != 1)
    ).any():
        _fail(where, "outcome", "outcome and contact_sustained must be 0 or 1")
    if (ds.contacts < 0).any() or ds.contacts.max() > 64:
        _fail(where, "contacts", "must be a count in [0, 64]")


def save_demonstrations(ds: GraspDataset, path: str | Path) -> Path:
    """Validate and write ``ds`` to ``path`` (atomically: a temp file renamed, never half-written)."""
    path = Path(path)
    ds.validate(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f.name: getattr(ds, f.name) for f in fields(ds)}
    arrays["objects"] = np.asarray(ds.objects, dtype=str)
    arrays["source"] = np.asarray(ds.source, dtype=str)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    os.close(handle)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, format=np.array(FORMAT), **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_demonstrations(path: str | Path) -> GraspDataset:
    """Read and validate a v1 file (own or external; see the module docstring for the optional fields)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such demonstrations file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as error:
        raise InputError(path, f"not a readable .npz file: {error}") from None
    fmt = str(arrays.pop("format", ""))
    if fmt != FORMAT:
        raise InputError(path, f"format: expected {FORMAT!r}, got {fmt or 'none'!r}")
    required = ("objects", "object_points", "object_index", "object_pose", "mass_kg", "pregrasp_pose", "grip_force_n")
    missing = [name for name in required if name not in arrays]
    if missing:
        raise InputError(path, f"missing arrays: {', '.join(missing)}")
    d = len(arrays["mass_kg"])
    arrays.setdefault("mass_rel_uncertainty", np.zeros(d))
    arrays.setdefault("joint_targets", np.full((d, 9), np.nan))
    arrays.setdefault("contacts", np.full(d, 2, dtype=np.int64))
    arrays.setdefault("outcome", np.ones(d, dtype=np.int64))
    arrays.setdefault("contact_sustained", np.ones(d, dtype=np.int64))
    arrays.setdefault("source", np.full(d, "external"))
    unknown = set(arrays) - {f.name for f in fields(GraspDataset)}
    if unknown:
        raise InputError(path, f"unknown arrays: {', '.join(sorted(unknown))}")
    ds = GraspDataset(**arrays)
    ds.validate(path)
    return ds


def concatenate(parts: list[GraspDataset]) -> GraspDataset:
    """One dataset of ``parts`` (objects with the same name are taken as the same object and must match)."""
    names: list[str] = []
    points: list[np.ndarray] = []
    out: dict[str, list[np.ndarray]] = {f.name: [] for f in fields(GraspDataset)}
    for part in parts:
        remap = []
        for name, cloud in zip(part.objects, part.object_points, strict=True):
            if str(name) in names:
                known = points[names.index(str(name))]
                if known.shape != cloud.shape or not np.allclose(known, cloud):
                    raise InputError("objects", f"{name} appears with different surface points")
                remap.append(names.index(str(name)))
            else:
                names.append(str(name))
                points.append(cloud)
                remap.append(len(names) - 1)
        for f in fields(GraspDataset):
            if f.name not in ("objects", "object_points"):
                value = getattr(part, f.name)
                out[f.name].append(np.asarray(remap)[value] if f.name == "object_index" else value)
    counts = {cloud.shape[0] for cloud in points}
    if len(counts) > 1:
        raise InputError(
            "object_points", f"the files hold different numbers of surface points per object: {sorted(counts)}"
        )
    merged = {name: np.concatenate(values) for name, values in out.items() if values}
    return GraspDataset(objects=np.asarray(names), object_points=np.stack(points), **merged)
