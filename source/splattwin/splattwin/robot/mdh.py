"""Modified Denavit-Hartenberg chains (Craig's convention; Robo-GS eq. 6-7, seed 000), batched and differentiable.

Frame i follows frame i-1 by ``T = RotX(alpha_{i-1}) TransX(a_{i-1}) RotZ(theta_i) TransZ(d_i)``, which is the
matrix of Robo-GS eq. 7::

    [[cos t,          -sin t,          0,       a      ],
     [sin t cos al,    cos t cos al,  -sin al, -sin al d],
     [sin t sin al,    cos t sin al,   cos al,  cos al d],
     [0, 0, 0, 1]]

(eq. 6 prints theta and alpha swapped; eq. 7 and Craig agree). A row holds ``a_{i-1}``, ``alpha_{i-1}``,
``d_i`` and an offset added to the joint value; a revolute row turns ``theta_i = q_i + offset``, a prismatic row
slides ``d_i + q_i``, a fixed row (e.g. a flange) uses ``offset`` and ``d`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["PANDA_MDH", "MdhChain", "MdhRow", "mdh_transform"]


@dataclass(frozen=True, kw_only=True)
class MdhRow:
    """One MDH row: a (m) and alpha (rad) of the previous frame, d (m), offset (rad, or m for prismatic) and kind."""

    a: float
    alpha: float
    d: float
    offset: float = 0.0
    kind: str = "revolute"  # revolute, prismatic or fixed


PANDA_MDH: tuple[MdhRow, ...] = (
    MdhRow(a=0.0, alpha=0.0, d=0.333),
    MdhRow(a=0.0, alpha=-1.5707963267948966, d=0.0),
    MdhRow(a=0.0, alpha=1.5707963267948966, d=0.316),
    MdhRow(a=0.0825, alpha=1.5707963267948966, d=0.0),
    MdhRow(a=-0.0825, alpha=-1.5707963267948966, d=0.384),
    MdhRow(a=0.0, alpha=1.5707963267948966, d=0.0),
    MdhRow(a=0.088, alpha=1.5707963267948966, d=0.0),
    MdhRow(a=0.0, alpha=0.0, d=0.107, kind="fixed"),
)
"""Franka Emika Panda, from Franka's published robot parameters (frames 1-7 = URDF panda_link1-7, then flange)."""


def mdh_transform(a: torch.Tensor, alpha: torch.Tensor, d: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Robo-GS eq. 7 for broadcastable tensors: [...] -> [..., 4, 4] (column-vector, metres)."""
    import torch  # noqa: PLC0415

    a, alpha, d, theta = torch.broadcast_tensors(a, alpha, d, theta)
    ct, st, ca, sa = torch.cos(theta), torch.sin(theta), torch.cos(alpha), torch.sin(alpha)
    zero, one = torch.zeros_like(ct), torch.ones_like(ct)
    rows = [
        torch.stack([ct, -st, zero, a], -1),
        torch.stack([st * ca, ct * ca, -sa, -sa * d], -1),
        torch.stack([st * sa, ct * sa, ca, ca * d], -1),
        torch.stack([zero, zero, zero, one], -1),
    ]
    return torch.stack(rows, -2)


class MdhChain:
    """A serial chain from an MDH parameter table.

    Args:
        rows: the table, base to tip; revolute and prismatic rows take one joint value each, in order.
    """

    def __init__(self, rows: tuple[MdhRow, ...] | list[MdhRow]) -> None:
        for row in rows:
            if row.kind not in ("revolute", "prismatic", "fixed"):
                raise ValueError(f"MDH row kind must be revolute, prismatic or fixed, got {row.kind!r}")
        self.rows = tuple(rows)
        self.dof = sum(row.kind != "fixed" for row in self.rows)

    def link_poses(self, q: torch.Tensor, *, base_world: torch.Tensor | None = None) -> torch.Tensor:
        """Frames of every row: q [B, dof] (rad/m) -> [B, rows, 4, 4] frame -> world, differentiable in q."""
        import torch  # noqa: PLC0415

        if q.ndim != 2 or q.shape[1] != self.dof:
            raise ValueError(f"q must have shape [B, {self.dof}], got {tuple(q.shape)}")
        frame = torch.eye(4, dtype=q.dtype).expand(q.shape[0], 4, 4) if base_world is None else base_world.to(q.dtype)
        frame = frame.expand(q.shape[0], 4, 4)
        out, j = [], 0
        for row in self.rows:
            theta = torch.full_like(q[:, 0], row.offset)
            d = torch.full_like(q[:, 0], row.d)
            if row.kind == "revolute":
                theta = q[:, j] + row.offset
                j += 1
            elif row.kind == "prismatic":
                d = q[:, j] + row.d
                theta = torch.full_like(q[:, 0], 0.0)
                j += 1
            step = mdh_transform(torch.tensor(row.a, dtype=q.dtype), torch.tensor(row.alpha, dtype=q.dtype), d, theta)
            frame = frame @ step
            out.append(frame)
        return torch.stack(out, dim=1)
