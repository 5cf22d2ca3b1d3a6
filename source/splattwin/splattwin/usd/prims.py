"""Operations on the twin's prims that every layer above shares: world transforms, prim-path checks, removal.

USD's ``GfMatrix4d`` is row-vector (``p' = p M``); the package works with column-vector 4x4 matrices
(``p' = M p``), so :func:`world_matrix` transposes once, here, instead of at every caller; :func:`local_to_world`
is the same transform as a :class:`~splattwin.geometry.transforms.Similarity`, checked to be one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from splattwin.errors import InputError, StageError
from splattwin.geometry.transforms import Similarity
from splattwin.usd.frames import FRAME_KEY
from splattwin.usd.stage import WORLD_PATH, TwinStage

if TYPE_CHECKING:
    from pxr import Usd

__all__ = [
    "check_new_prim_path",
    "check_prim_path_syntax",
    "imported_prims",
    "local_to_world",
    "remove_prim_specs",
    "world_matrix",
    "world_to_parent",
]


def world_matrix(prim: Usd.Prim, time: Usd.TimeCode | float | None = None) -> np.ndarray:
    """The prim's local-to-world transform [4, 4], float64, column vectors (``x_world = M @ [x, 1]``), metres.

    Args:
        prim: any prim (a prim without transform ops inherits its parent's transform).
        time: a time code (a number or ``Usd.TimeCode``); None for the default (un-animated) values.
    """
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    code = Usd.TimeCode.Default() if time is None else Usd.TimeCode(time)
    return np.array(UsdGeom.Imageable(prim).ComputeLocalToWorldTransform(code)).T


def check_prim_path_syntax(prim_path: str, flag: str = "--prim") -> None:
    """Raise :class:`InputError` naming ``flag`` unless ``prim_path`` is an absolute prim path below /World.

    Checked without OpenUSD so the message can say what is wrong: a missing leading ``/``, an empty name, or
    which character of which name USD does not allow (names are letters, digits and ``_``, not starting with a
    digit).
    """
    text = str(prim_path)
    if not text.startswith("/"):
        raise InputError(flag, f"{text!r} must start with / (an absolute prim path, e.g. /{text.lstrip('./')})")
    names = text[1:].split("/")
    for name in names:
        if not name:
            raise InputError(flag, f"{text!r} has an empty prim name (a doubled or trailing /)")
        bad = next((c for c in name if not (c.isascii() and (c.isalnum() or c == "_"))), None)
        if bad is not None:
            raise InputError(
                flag, f"{text!r}: prim name {name!r} holds the character {bad!r}; use letters, digits and _ only"
            )
        if name[0].isdigit():
            raise InputError(flag, f"{text!r}: prim name {name!r} starts with a digit, which USD does not allow")
    if names[0] != WORLD_PATH.strip("/") or len(names) < 2:
        raise InputError(flag, f"{text!r} must be below {WORLD_PATH} (the default prim), e.g. {WORLD_PATH}/Scene/Splat")


def check_new_prim_path(twin: TwinStage, prim_path: str, *, replace: bool = False, force: bool = False) -> None:
    """Raise unless ``prim_path`` is a valid, free path under /World; with ``replace``, free it first.

    Args:
        twin: the open twin (inside :func:`~splattwin.usd.stage.edit_twin`).
        prim_path: the new prim's path.
        replace: remove an existing prim at ``prim_path`` (see :func:`remove_prim_specs`) instead of refusing.
        force: with ``replace``, also remove a person's edits of it in the root layer.
    """
    check_prim_path_syntax(prim_path)
    existing = twin.stage.GetPrimAtPath(prim_path)
    if existing and replace:
        from pxr import Usd  # noqa: PLC0415

        # Replacing a parent would silently take other imports with it (e.g. --replace --prim /World/Scene).
        others = [
            str(p.GetPath()) for p in Usd.PrimRange(existing) if p != existing and p.GetCustomDataByKey(FRAME_KEY)
        ]
        if others:
            raise StageError(
                twin.root_path,
                f"--replace {prim_path} would also remove {len(others)} other import(s) below it ({others[0]}...); "
                "remove them with splattwin remove first, or pick the prim itself",
            )
        remove_prim_specs(twin, prim_path, force=force)
    elif existing:
        layer = twin.layer_of(prim_path) or "root"
        raise StageError(
            twin.root_path,
            f"prim {prim_path} already exists (a {existing.GetTypeName() or 'typeless'} prim in the {layer} "
            f"layer); choose another --prim, give --replace, or run splattwin remove --stage {twin.root_path.name} "
            f"--prim {prim_path}",
        )


def remove_prim_specs(twin: TwinStage, prim_path: str, *, force: bool = False) -> list[str]:
    """Remove ``prim_path`` (and everything below it) from every twin layer that holds it.

    The root layer holds a person's edits: it is only touched with ``force``; without it a prim that has
    opinions there is refused, naming the layer. Returns the names of the layers edited.
    """
    from pxr import Sdf  # noqa: PLC0415

    check_prim_path_syntax(prim_path)
    if not twin.stage.GetPrimAtPath(prim_path):
        raise StageError(twin.root_path, f"has no prim at {prim_path}")
    in_root = bool(twin.root_layer.GetPrimAtPath(prim_path))
    if in_root and not force:
        raise StageError(
            twin.root_path,
            f"{prim_path} has edits in the root layer {twin.root_path.name} (a person's, not an import's); "
            "give --force to remove them too",
        )
    layers = [(name, layer) for name, layer in twin.layers.items()]
    if force:
        layers.append(("root", twin.root_layer))
    removed = []
    for name, layer in layers:
        if not layer.GetPrimAtPath(prim_path):
            continue
        edit = Sdf.BatchNamespaceEdit()
        edit.Add(Sdf.NamespaceEdit.Remove(Sdf.Path(prim_path)))
        if not layer.Apply(edit):
            raise StageError(twin.root_path, f"OpenUSD could not remove {prim_path} from the {name} layer")
        removed.append(name)
    if twin.stage.GetPrimAtPath(prim_path):
        raise StageError(twin.root_path, f"{prim_path} is still defined after removal (by a layer outside the twin)")
    return removed


def local_to_world(prim: Usd.Prim) -> Similarity:
    """The prim's local-to-world transform as a similarity (StageError if it shears or scales unevenly)."""

    if not prim or prim.IsPseudoRoot():
        return Similarity()
    matrix = world_matrix(prim)
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


def imported_prims(twin: TwinStage) -> list[Usd.Prim]:
    """Every prim carrying a ``splattwin:frame`` record (splats, static meshes, body Xforms), in stage order."""
    return [prim for prim in twin.stage.Traverse() if prim.GetCustomDataByKey(FRAME_KEY)]
