"""Frame records on the stage: how each imported prim's data got from its source frame into the world.

A reconstruction arrives y-up or in an SfM frame at arbitrary scale. Imports and ``splattwin align`` bake the
change of frame into the data (means, orientations, SH, mesh points) and record it in ``customData`` so it can
be inverted:

- every imported prim carries ``splattwin:frame`` = {``source``: file, ``sourceToWorld``: 16 floats, a 4x4
  column-vector matrix [[sR, t], [0, 1]] in row-major order};
  the same record says which frame the prim's data is in now (``state``: ``reconstruction`` or ``aligned``),
  which frame the twin was in when it was imported (``importedIn``), the import-time ``importUpAxis`` and
  ``importScale``, whether the source was declared metric (``metric``), and ``sourceToReconstruction`` (the
  source file to the twin's reconstruction frame; alignment never changes it, so ``--redo`` and ``--invert``
  have an original to go back to);
- ``/World`` carries ``splattwin:alignment`` = {``worldFromReconstruction``: the composed alignment (same
  encoding), ``steps``: one entry per step of the latest ``align`` (USD dictionaries cannot hold lists of
  dictionaries, so steps are keyed ``00_up_axis``, ``01_scale``...), ``upAxisApplied`` (the up axis an
  alignment turned onto z, ``z`` for none), ``scaleApplied`` (whether an alignment set the metric scale),
  ``tableFit`` (tilt, RMSE, inliers and the two sides spanned by the table plane, when one was fitted)}.

See docs/frames.md for the state diagram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.geometry.transforms import Similarity

if TYPE_CHECKING:
    from pxr import Usd

__all__ = [
    "ALIGNED",
    "ALIGNMENT_KEY",
    "FRAME_KEY",
    "RECONSTRUCTION",
    "FrameState",
    "alignment_record",
    "frame_record",
    "read_frame_state",
    "matrix_to_list",
    "read_alignment",
    "read_frame_record",
    "similarity_from_list",
    "to_custom_data",
]

FRAME_KEY = "splattwin:frame"
ALIGNMENT_KEY = "splattwin:alignment"
RECONSTRUCTION = "reconstruction"
"""Frame state: the data is in the twin's reconstruction frame (as imported, before any ``align``)."""
ALIGNED = "aligned"
"""Frame state: the data is in the twin's aligned world frame (z up, metres, origin at the robot base)."""


def matrix_to_list(transform: Similarity) -> list[float]:
    """The 4x4 column-vector matrix of ``transform`` as 16 floats, row-major."""
    return [float(v) for v in transform.matrix().reshape(-1)]


def similarity_from_list(values: Any) -> Similarity:
    """Inverse of :func:`matrix_to_list`."""
    return Similarity.from_matrix(np.asarray(list(values), dtype=np.float64).reshape(4, 4))


def to_custom_data(value: Any) -> Any:
    """Make a JSON-like value storable as USD ``customData``: lists of dicts become ``{"00": ..., "01": ...}``,
    numpy scalars and arrays become floats and lists, None becomes an empty string."""
    if isinstance(value, dict):
        return {str(k): to_custom_data(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return to_custom_data(value.tolist())
    if isinstance(value, list | tuple):
        items = [to_custom_data(v) for v in value]
        if any(isinstance(v, dict | list) for v in items):
            return {f"{i:02d}": v for i, v in enumerate(items)}
        return [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in items]
    if isinstance(value, np.generic):
        return value.item()
    if value is None:
        return ""
    return value


def read_frame_record(prim: Usd.Prim) -> tuple[str, Similarity] | None:
    """(source file, source-to-world transform) of an imported prim, or None if it has no frame record."""
    record = prim.GetCustomDataByKey(FRAME_KEY)
    if not record:
        return None
    return str(record.get("source", "")), similarity_from_list(record["sourceToWorld"])


def read_alignment(stage: Usd.Stage) -> Similarity:
    """The composed alignment recorded on ``/World`` (identity when the twin was never aligned)."""
    world = stage.GetDefaultPrim() or stage.GetPrimAtPath("/World")
    record = world.GetCustomDataByKey(ALIGNMENT_KEY) if world else None
    if not record:
        return Similarity()
    return similarity_from_list(record["worldFromReconstruction"])


@dataclass(frozen=True)
class FrameState:
    """What the frame record of one imported prim says (see the module docstring).

    Attributes:
        source: the file the prim was imported from.
        source_to_world: source file coordinates -> the twin's current world frame.
        source_to_reconstruction: source file coordinates -> the twin's reconstruction frame.
        state: :data:`RECONSTRUCTION` or :data:`ALIGNED`, the frame the prim's data is in now.
        imported_in: the frame the twin was in when the prim was imported.
        import_up_axis: the ``--up-axis`` of the import (``z``: none).
        import_scale: the ``--scale`` of the import (1: none).
        metric: the source was declared z-up metres (``--metric``): the recorded alignment was not applied.
    """

    source: str
    source_to_world: Similarity
    source_to_reconstruction: Similarity
    state: str
    imported_in: str
    import_up_axis: str
    import_scale: float
    metric: bool


def frame_record(
    *,
    source: str,
    source_to_world: Similarity,
    source_to_reconstruction: Similarity,
    state: str,
    imported_in: str,
    import_up_axis: str,
    import_scale: float,
    metric: bool,
) -> dict[str, Any]:
    """The ``splattwin:frame`` customData dictionary of an imported prim."""
    return {
        "source": str(source),
        "sourceToWorld": matrix_to_list(source_to_world),
        "sourceToReconstruction": matrix_to_list(source_to_reconstruction),
        "state": state,
        "importedIn": imported_in,
        "importUpAxis": str(import_up_axis),
        "importScale": float(import_scale),
        "metric": bool(metric),
    }


def read_frame_state(prim: Usd.Prim, *, twin_alignment: Similarity | None = None) -> FrameState | None:
    """The frame record of ``prim`` as a :class:`FrameState`; None if the prim has none.

    Records written before frame states existed hold only ``source`` and ``sourceToWorld``: their state is
    taken from the twin (aligned when ``twin_alignment`` is not the identity) and their reconstruction-frame
    transform from undoing that alignment.
    """
    record = prim.GetCustomDataByKey(FRAME_KEY)
    if not record:
        return None
    to_world = similarity_from_list(record["sourceToWorld"])
    alignment = twin_alignment if twin_alignment is not None else Similarity()
    default_state = RECONSTRUCTION if alignment.is_identity(atol=1e-12) else ALIGNED
    state = str(record.get("state", default_state))
    if "sourceToReconstruction" in record:
        to_recon = similarity_from_list(record["sourceToReconstruction"])
    else:
        to_recon = to_world.then(alignment.inverse()) if state == ALIGNED else to_world
    return FrameState(
        source=str(record.get("source", "")),
        source_to_world=to_world,
        source_to_reconstruction=to_recon,
        state=state,
        imported_in=str(record.get("importedIn", state)),
        import_up_axis=str(record.get("importUpAxis", "z")),
        import_scale=float(record.get("importScale", 1.0)),
        metric=bool(record.get("metric", False)),
    )


def alignment_record(stage: Usd.Stage) -> dict[str, Any] | None:
    """The ``splattwin:alignment`` dictionary on ``/World`` (None when the twin is not aligned)."""
    world = stage.GetDefaultPrim() or stage.GetPrimAtPath("/World")
    record = world.GetCustomDataByKey(ALIGNMENT_KEY) if world else None
    return dict(record) if record else None
