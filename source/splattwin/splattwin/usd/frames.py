"""Frame records on the stage: how each imported prim's data got from its source frame into the world.

A reconstruction arrives y-up or in an SfM frame at arbitrary scale. Imports and ``splattwin align`` bake the
change of frame into the data (means, orientations, SH, mesh points) and record it in ``customData`` so it can
be inverted:

- every imported prim carries ``splattwin:frame`` = {``source``: file, ``sourceToWorld``: 16 floats, a 4x4
  column-vector matrix [[sR, t], [0, 1]] in row-major order};
- ``/World`` carries ``splattwin:alignment`` = {``worldFromReconstruction``: the composed alignment (same
  encoding), ``steps``: one entry per step of the latest ``align`` (USD dictionaries cannot hold lists of
  dictionaries, so steps are keyed ``00_up_axis``, ``01_scale``...)}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.geometry.transforms import Similarity

if TYPE_CHECKING:
    from pxr import Usd

__all__ = [
    "ALIGNMENT_KEY",
    "FRAME_KEY",
    "matrix_to_list",
    "read_alignment",
    "read_frame_record",
    "similarity_from_list",
    "to_custom_data",
]

FRAME_KEY = "splattwin:frame"
ALIGNMENT_KEY = "splattwin:alignment"


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
