"""Quaternion order at the Isaac Lab boundary: the task terms work in (w, x, y, z), as the rest of SplatTwin.

Isaac Lab 2.x hands out (w, x, y, z) and Isaac Lab 3.0 (x, y, z, w); MuJoCo uses (w, x, y, z). The one place a
quaternion changes order is :func:`convert_quat_order`, called where a runtime's tensors enter the terms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["QUAT_ORDERS", "convert_quat_order"]

QUAT_ORDERS = ("wxyz", "xyzw")


def convert_quat_order(quats: torch.Tensor, source: str, target: str) -> torch.Tensor:
    """Reorder quaternion components.

    Args:
        quats: quaternions in ``source`` order, shape [..., 4].
        source: ``"wxyz"`` or ``"xyzw"``.
        target: ``"wxyz"`` or ``"xyzw"``.

    Returns:
        The same rotations in ``target`` order, shape [..., 4] (the input itself when the orders match).
    """
    for name, order in (("source", source), ("target", target)):
        if order not in QUAT_ORDERS:
            raise ValueError(f"{name} quaternion order must be one of {QUAT_ORDERS}, got {order!r}")
    import torch  # noqa: PLC0415

    # A raw warp array of quaternions has shape [N] (one quatf per env): with 4 envs its last dimension is 4 too and
    # the reorder below would shuffle envs, not components. Only tensors (to_torch'd: [N, 4]) pass.
    if not isinstance(quats, torch.Tensor):
        raise TypeError(f"quaternions must be a torch tensor [..., 4], got {type(quats).__name__}")
    if quats.shape[-1] != 4:
        raise ValueError(f"quaternions need a last dimension of 4, got shape {tuple(quats.shape)}")
    if source == target:
        return quats
    if source == "xyzw":
        return quats[..., [3, 0, 1, 2]]
    return quats[..., [1, 2, 3, 0]]
