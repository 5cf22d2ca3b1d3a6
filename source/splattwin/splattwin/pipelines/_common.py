"""Small pieces the pipeline runners share: prim-path checks, parent frames, source-to-world transforms."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from splattwin.errors import InputError, StageError
from splattwin.geometry.alignment import up_axis_rotation
from splattwin.geometry.transforms import Similarity
from splattwin.usd.stage import WORLD_PATH, TwinStage

if TYPE_CHECKING:
    from pxr import Usd

__all__ = ["check_new_prim_path", "local_to_world", "source_to_world", "world_to_parent"]


def source_to_world(*, up_axis: str, scale: float, argument: str = "--scale") -> Similarity:
    """The import-time frame change: the source's up axis onto +z, then a uniform scale (metres per unit)."""
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(argument, f"must be a finite number > 0, got {scale}")
    return up_axis_rotation(up_axis).then(Similarity(scale=scale))


def check_new_prim_path(twin: TwinStage, prim_path: str) -> None:
    """Raise :class:`StageError` unless ``prim_path`` is a valid, free path under /World."""
    from pxr import Sdf  # noqa: PLC0415

    if not Sdf.Path.IsValidPathString(prim_path) or not Sdf.Path(prim_path).IsAbsoluteRootOrPrimPath():
        raise StageError(twin.root_path, f"{prim_path!r} is not a valid absolute prim path (e.g. /World/Scene/Splat)")
    path = Sdf.Path(prim_path)
    if not path.HasPrefix(Sdf.Path(WORLD_PATH)) or path == Sdf.Path(WORLD_PATH):
        raise StageError(twin.root_path, f"prim path {prim_path} must be below {WORLD_PATH} (the default prim)")
    existing = twin.stage.GetPrimAtPath(prim_path)
    if existing:
        layer = twin.layer_of(prim_path) or "root"
        raise StageError(
            twin.root_path,
            f"prim {prim_path} already exists (a {existing.GetTypeName() or 'typeless'} prim in the {layer} "
            "layer); choose another --prim or remove it first",
        )


def local_to_world(prim: Usd.Prim) -> Similarity:
    """The prim's local-to-world transform as a similarity (StageError if it shears or scales unevenly)."""
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    if not prim or prim.IsPseudoRoot():
        return Similarity()
    matrix = np.array(UsdGeom.Imageable(prim).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
    try:
        return Similarity.from_matrix(matrix)
    except ValueError as exc:
        raise StageError(
            Path(prim.GetStage().GetRootLayer().identifier),
            f"{prim.GetPath()} has a transform that is not a similarity (rotation, uniform scale, translation): {exc}",
        ) from None


def world_to_parent(twin: TwinStage, prim_path: str) -> Similarity:
    """Transform from world coordinates into the frame of ``prim_path``'s parent."""
    from pxr import Sdf  # noqa: PLC0415

    parent = twin.stage.GetPrimAtPath(Sdf.Path(prim_path).GetParentPath())
    return local_to_world(parent).inverse()
