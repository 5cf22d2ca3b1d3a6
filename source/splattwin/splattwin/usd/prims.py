"""Operations on the twin's prims that every layer above shares: world transforms.

USD's ``GfMatrix4d`` is row-vector (``p' = p M``); the package works with column-vector 4x4 matrices
(``p' = M p``), so :func:`world_matrix` transposes once, here, instead of at every caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pxr import Usd

__all__ = ["world_matrix"]


def world_matrix(prim: Usd.Prim, time: Usd.TimeCode | float | None = None) -> np.ndarray:
    """The prim's local-to-world transform [4, 4], float64, column vectors (``x_world = M @ [x, 1]``), metres.

    Args:
        prim: any prim (a prim without transform ops inherits its parent's transform).
        time: a time code (a number or ``Usd.TimeCode``); None for the default (un-animated) values.
    """
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    code = Usd.TimeCode.Default() if time is None else Usd.TimeCode(time)
    return np.array(UsdGeom.Imageable(prim).ComputeLocalToWorldTransform(code)).T
