"""Small pieces the pipeline runners share: prim-path checks, removal, parent frames, the frame an import lands
in (docs/frames.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError, StageError
from splattwin.geometry.alignment import up_axis_rotation
from splattwin.geometry.transforms import Similarity
from splattwin.usd.frames import (
    ALIGNED,
    FRAME_KEY,
    RECONSTRUCTION,
    alignment_record,
    frame_record,
    read_alignment,
    read_frame_state,
)
from splattwin.usd.prims import world_matrix
from splattwin.usd.stage import WORLD_PATH, TwinStage

if TYPE_CHECKING:
    from pxr import Usd

__all__ = [
    "ImportFrame",
    "check_new_prim_path",
    "check_prim_path_syntax",
    "import_frame",
    "imported_prims",
    "local_to_world",
    "remove_prim_specs",
    "same_source_warnings",
    "source_to_world",
    "up_axis_transform",
    "world_to_parent",
]


def source_to_world(*, up_axis: str, scale: float, argument: str = "--scale") -> Similarity:
    """The import-time frame change: the source's up axis onto +z, then a uniform scale (metres per unit)."""
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(argument, f"must be a finite number > 0, got {scale}")
    return up_axis_transform(up_axis).then(Similarity(scale=scale))


def up_axis_transform(up_axis: str, flag: str = "--up-axis") -> Similarity:
    """:func:`~splattwin.geometry.alignment.up_axis_rotation`, its error naming the flag as the user typed it."""
    try:
        return up_axis_rotation(up_axis)
    except InputError as exc:
        raise InputError(flag, exc.problem) from None


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


def same_source_warnings(twin: TwinStage, source: Path, prim_path: str) -> list[str]:
    """Warnings for a file that is already imported under another prim (its content would be in the twin twice)."""
    wanted = str(Path(source).resolve())
    found = []
    for prim in imported_prims(twin):
        state = read_frame_state(prim)
        if state and state.source and str(prim.GetPath()) != prim_path:
            try:
                same = str(Path(state.source).resolve()) == wanted
            except OSError:
                same = False
            if same:
                found.append(str(prim.GetPath()))
    return [
        f"{source} is already imported as {other}: its content is now in the twin twice "
        f"(to replace it: --prim {other} --replace)"
        for other in found
    ]


@dataclass
class ImportFrame:
    """Where an import lands: the source-to-twin transform, the frame record to store, what to tell the user.

    Attributes:
        to_twin: source file coordinates -> the twin's current world frame.
        record: the ``splattwin:frame`` customData.
        notes: informational lines (e.g. the recorded alignment was applied).
        warnings: lines about likely mistakes (mixed import-time transforms).
    """

    to_twin: Similarity
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def import_frame(twin: TwinStage, *, source: Path, up_axis: str, scale: float, metric: bool) -> ImportFrame:
    """The frame an import lands in, following the twin's frame state (docs/frames.md).

    - Unaligned twin: the source goes through the import-time ``--up-axis``/``--scale`` into the reconstruction
      frame.
    - Aligned twin: the source is taken in reconstruction units and frame, so the recorded alignment is applied
      after the import-time change; ``metric`` (``--metric``) says it is already z-up metres and skips it.
      An import-time up axis or scale that the alignment already applied is refused (it would double).

    Raises:
        InputError: ``--up-axis`` or ``--scale`` doubling what the twin's alignment already did.
    """
    import_tf = source_to_world(up_axis=up_axis, scale=scale)
    alignment = read_alignment(twin.stage)
    record = alignment_record(twin.stage)
    aligned = record is not None
    notes: list[str] = []
    warnings: list[str] = []
    if aligned and not metric:
        applied_axis = str(record.get("upAxisApplied", "z"))
        if _axis_key(up_axis) != "z" and _axis_key(applied_axis) != "z":
            raise InputError(
                "--up-axis",
                f"the twin's alignment already turned the reconstruction's {applied_axis} axis up (align --up-axis "
                f"{applied_axis}); import without --up-axis (the source is taken in the reconstruction frame), "
                "or add --metric if the file is already z-up metres",
            )
        if abs(scale - 1.0) > 1e-12 and bool(record.get("scaleApplied", False)):
            raise InputError(
                "--scale",
                f"the twin's alignment already scaled reconstruction units to metres (align --scale-from, "
                f"x{alignment.scale:.6g}); import without --scale, or add --metric if the file is already in metres",
            )
        to_twin = import_tf.then(alignment)
        notes.append(
            f"the twin is aligned: {source} was taken in reconstruction units and frame and brought into the "
            f"aligned frame (recorded alignment, scale x{alignment.scale:.6g}); give --metric if it is already "
            "z-up metres"
        )
    else:
        to_twin = import_tf
        if aligned:
            notes.append(f"--metric: {source} was taken as z-up metres in the twin's aligned frame")
        else:
            if metric:
                notes.append(
                    "--metric changes nothing on an unaligned twin: there is no recorded alignment to skip, and a "
                    "later align moves this prim with the rest"
                )
            warnings += _mixed_import_warnings(twin, up_axis, scale)
    state = ALIGNED if aligned else RECONSTRUCTION
    to_recon = to_twin.then(alignment.inverse()) if aligned else to_twin
    data = frame_record(
        source=str(source),
        source_to_world=to_twin,
        source_to_reconstruction=to_recon,
        state=state,
        imported_in=state,
        import_up_axis=_axis_key(up_axis),
        import_scale=scale,
        metric=metric,
    )
    return ImportFrame(to_twin=to_twin, record=data, notes=notes, warnings=warnings)


def _axis_key(up_axis: str) -> str:
    return str(up_axis).strip().lower().removeprefix("+")


def _mixed_import_warnings(twin: TwinStage, up_axis: str, scale: float) -> list[str]:
    """Imports into one reconstruction frame should share their import-time change; say where they do not."""
    for prim in imported_prims(twin):
        state = read_frame_state(prim)
        if state is None or state.metric or state.imported_in != RECONSTRUCTION:
            continue
        if state.import_up_axis != _axis_key(up_axis) or abs(state.import_scale - scale) > 1e-12:
            return [
                f"{prim.GetPath()} was imported with --up-axis {state.import_up_axis} --scale "
                f"{state.import_scale:g}, this import with --up-axis {_axis_key(up_axis)} --scale {scale:g}: "
                "they will not line up if both files share the reconstruction's frame"
            ]
    return []
