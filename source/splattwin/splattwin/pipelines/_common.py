"""Small pieces the import runners share: the frame an import lands in (docs/frames.md), the import-time frame
change, a warning for a file imported twice. Prim operations (path checks, removal, world transforms) are in
:mod:`splattwin.usd.prims`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError
from splattwin.geometry.alignment import up_axis_rotation
from splattwin.geometry.transforms import Similarity
from splattwin.usd.frames import (
    ALIGNED,
    RECONSTRUCTION,
    alignment_record,
    frame_record,
    read_alignment,
    read_frame_state,
)
from splattwin.usd.prims import imported_prims
from splattwin.usd.stage import TwinStage

__all__ = [
    "ImportFrame",
    "import_frame",
    "same_source_warnings",
    "source_to_world",
    "up_axis_transform",
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
