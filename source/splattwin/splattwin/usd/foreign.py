"""Splats and meshes from USD files that are not twins (NVIDIA's ``usd-convert-gsplat``, 3DGRUT, NuRec, any
DCC export), brought into z-up metres.

A foreign stage says its own frame: ``upAxis`` (Y for ``usd-convert-gsplat``), ``metersPerUnit`` and the prim's
transform. :func:`foreign_to_z_up_metres` composes them, so an import starts from z-up metres as every other
source does, and the import's own ``--up-axis``/``--scale`` apply on top only when given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from splattwin.errors import InputError
from splattwin.geometry.alignment import up_axis_rotation
from splattwin.geometry.transforms import Similarity
from splattwin.usd.prims import world_matrix
from splattwin.usd.stage import USD_SUFFIXES, open_usd_stage

if TYPE_CHECKING:
    from pxr import Usd

    from splattwin.gaussians import Gaussians

__all__ = [
    "ForeignMesh",
    "find_foreign_prim",
    "foreign_to_z_up_metres",
    "is_usd_file",
    "read_foreign_gaussians",
    "read_foreign_mesh",
]


def is_usd_file(path: str | Path) -> bool:
    """Whether ``path`` names a USD file (by suffix)."""
    return Path(path).suffix.lower() in USD_SUFFIXES


def find_foreign_prim(stage: Usd.Stage, path: Path, kind: str, from_prim: str | None) -> Usd.Prim:
    """The prim to import: ``from_prim``, or the only prim of ``kind`` (``splat`` or ``mesh``) in the stage.

    Raises:
        InputError: ``from_prim`` missing or of the wrong type, none or several candidates without it.
    """
    from pxr import UsdGeom, UsdVol  # noqa: PLC0415

    schema = UsdVol.ParticleField3DGaussianSplat if kind == "splat" else UsdGeom.Mesh
    what = "ParticleField3DGaussianSplat" if kind == "splat" else "UsdGeom.Mesh"
    if from_prim is not None:
        prim = stage.GetPrimAtPath(from_prim)
        if not prim:
            raise InputError("--from-prim", f"{path} has no prim at {from_prim}")
        if not prim.IsA(schema):
            raise InputError(
                "--from-prim", f"{from_prim} in {path} is a {prim.GetTypeName() or 'typeless'} prim, not a {what}"
            )
        return prim
    found = [prim for prim in stage.Traverse() if prim.IsA(schema)]
    if not found:
        raise InputError(path, f"holds no {what} prim")
    if len(found) > 1:
        names = ", ".join(str(p.GetPath()) for p in found[:5]) + (" ..." if len(found) > 5 else "")
        raise InputError(path, f"holds {len(found)} {what} prims ({names}); pick one with --from-prim")
    return found[0]


def foreign_to_z_up_metres(prim: Usd.Prim, path: Path) -> Similarity:
    """The prim's local frame -> the file's world (its transform) -> z up (``upAxis``) -> metres (``metersPerUnit``).

    Raises:
        InputError: a transform that is not a similarity (shear, non-uniform scale).
    """
    from pxr import UsdGeom  # noqa: PLC0415

    stage = prim.GetStage()
    matrix = world_matrix(prim)
    try:
        local_to_file = Similarity.from_matrix(matrix)
    except ValueError as exc:
        raise InputError(path, f"{prim.GetPath()} has a transform that is not a similarity: {exc}") from None
    up = str(UsdGeom.GetStageUpAxis(stage)).lower()
    metres = float(UsdGeom.GetStageMetersPerUnit(stage))
    if not (np.isfinite(metres) and metres > 0):
        raise InputError(path, f"metersPerUnit must be > 0, got {metres}")
    return local_to_file.then(up_axis_rotation(up)).then(Similarity(scale=metres))


def read_foreign_gaussians(path: Path, from_prim: str | None) -> tuple[Gaussians, str]:
    """Gaussians of a USD file's particle field in z-up metres, and the prim path they came from."""
    from splattwin.usd.splats import read_gaussians_prim  # noqa: PLC0415

    stage = open_usd_stage(path)
    prim = find_foreign_prim(stage, path, "splat", from_prim)
    gaussians = read_gaussians_prim(prim)
    transform = foreign_to_z_up_metres(prim, path)
    if not transform.is_identity():
        gaussians = transform.apply_gaussians(gaussians)
    return gaussians, str(prim.GetPath())


@dataclass
class ForeignMesh:
    """A USD mesh in z-up metres: vertices [V, 3] float64, triangles [F, 3] (polygons fan-triangulated)."""

    vertices: np.ndarray
    faces: np.ndarray
    prim: str


def read_foreign_mesh(path: Path, from_prim: str | None) -> ForeignMesh:
    """A ``UsdGeom.Mesh`` of a USD file, triangulated, in z-up metres.

    Raises:
        InputError: no or several meshes (without ``from_prim``), a mesh without points or faces, bad indices.
    """
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    stage = open_usd_stage(path)
    prim = find_foreign_prim(stage, path, "mesh", from_prim)
    mesh = UsdGeom.Mesh(prim)
    where = f"{path}:{prim.GetPath()}"
    points = mesh.GetPointsAttr().Get(Usd.TimeCode.Default())
    counts = mesh.GetFaceVertexCountsAttr().Get(Usd.TimeCode.Default())
    indices = mesh.GetFaceVertexIndicesAttr().Get(Usd.TimeCode.Default())
    if not points or not counts or not indices:
        raise InputError(where, "has no points or faces")
    points = np.asarray(points, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    if counts.min() < 3 or counts.sum() != len(indices) or indices.min() < 0 or indices.max() >= len(points):
        raise InputError(where, "has inconsistent faceVertexCounts / faceVertexIndices")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    triangles = [
        np.stack([np.full(n - 2, s), s + np.arange(1, n - 1), s + np.arange(2, n)], axis=1)
        for s, n in zip(starts, counts, strict=True)
    ]
    faces = indices[np.concatenate(triangles)]
    if mesh.GetOrientationAttr().Get() == UsdGeom.Tokens.leftHanded:
        faces = faces[:, ::-1]
    vertices = foreign_to_z_up_metres(prim, path).apply_points(points)
    return ForeignMesh(vertices=vertices, faces=faces, prim=str(prim.GetPath()))
