"""Differentiable, batched forward kinematics in torch, built from a robot on the twin stage.

``load_robot(stage, prim)`` reads the articulation authored by ``import-robot`` (:mod:`splattwin.robot.usd_robot`)
and returns a :class:`Robot`: link poses ``[B, L, 4, 4]`` (column-vector, metres, world frame) for joint values
``q [B, dof]``, and the world-frame Gaussians of every link (:meth:`Robot.pose_gaussians`). Everything is plain
torch, so gradients flow to ``q`` (and to the base pose when it is given as a tensor).

Joints: revolute and continuous (rotation about the joint's USD axis, radians), prismatic (metres), fixed, and
mimic joints (``q_j = multiplier * q_master + offset``; they are not degrees of freedom, so ``joint_names`` lists
the independent movable joints only).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.robot.usd_robot import JointSpec, RobotSpec, read_robot_spec

if TYPE_CHECKING:
    import torch
    from pxr import Usd

    from splattwin.usd.stage import TwinStage

__all__ = ["Robot", "axis_motion", "free_joints", "load_robot", "spec_link_poses"]

_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


def axis_motion(values: torch.Tensor, axis: int, *, prismatic: bool) -> torch.Tensor:
    """Transforms [..., 4, 4] of a rotation by ``values`` rad (or a translation by ``values`` m) along one axis."""
    import torch  # noqa: PLC0415

    shape = values.shape
    out = torch.zeros(*shape, 4, 4, dtype=values.dtype, device=values.device)
    idx = torch.arange(4)
    out[..., idx, idx] = 1.0
    if prismatic:
        out[..., axis, 3] = values
        return out
    c, s = torch.cos(values), torch.sin(values)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]  # the plane the rotation turns, right-handed about ``axis``
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def free_joints(spec: RobotSpec) -> list[JointSpec]:
    """The robot's independent movable joints (its degrees of freedom) in stage order: not fixed, not mimic."""
    return [j for j in spec.joints if j.type != "fixed" and j.mimic is None]


def spec_link_poses(spec: RobotSpec, values: Mapping[str, float]) -> np.ndarray:
    """World transforms [L, 4, 4] float64 of every link (``spec.link_names`` order) at joint values by name.

    The chain :meth:`Robot.link_poses` evaluates (``T_child = T_parent @ L0 @ motion(axis, q) @ inv(L1)``, mimic
    joints following their master, unnamed joints at 0), for one configuration in plain numpy: not differentiable,
    but free of torch, whose import alone takes about 2 s (the browser viewer must draw a twin in under 5 s).
    """
    poses = np.zeros((len(spec.link_names), 4, 4))
    link_index = {name: i for i, name in enumerate(spec.link_names)}
    poses[0] = np.asarray(spec.base_world, dtype=np.float64) @ spec.root_local
    by_child = {j.child: j for j in spec.joints}
    for name in spec.link_names[1:]:
        joint = by_child[name]
        frame = poses[link_index[joint.parent]] @ joint.local0
        if joint.type != "fixed":
            if joint.mimic is not None:
                value = float(values.get(joint.mimic[0], 0.0)) * joint.mimic[1] + joint.mimic[2]
            else:
                value = float(values.get(joint.name, 0.0))
            motion = np.eye(4)
            axis = _AXIS_INDEX[joint.axis]
            if joint.type == "prismatic":
                motion[axis, 3] = value
            else:
                i, j = [(1, 2), (2, 0), (0, 1)][axis]  # as axis_motion: right-handed about ``axis``
                c, s = np.cos(value), np.sin(value)
                motion[i, i] = motion[j, j] = c
                motion[i, j], motion[j, i] = -s, s
            frame = frame @ motion
        poses[link_index[name]] = frame @ np.linalg.inv(joint.local1)
    return poses


class Robot:
    """A robot read from the stage: names, limits, batched differentiable FK and Gaussian posing.

    Attributes:
        prim: the robot prim path.
        joint_names: independent movable joints in stage order (dof = len); mimic joints are left out.
        link_names: URDF link names, root first, depth-first.
        link_paths: USD prim path of each link Xform, same order.
        joint_limits: [dof, 2] lower, upper (rad or m; +-inf for continuous joints), float64.
        base_world: robot prim local-to-world [4, 4] float64 (change it to move the robot).
    """

    def __init__(self, spec: RobotSpec, gaussians: dict[str, Any] | None = None) -> None:
        import torch  # noqa: PLC0415

        self.spec = spec
        self.prim = spec.prim
        self.link_names = list(spec.link_names)
        self.link_paths = list(spec.link_paths)
        self.base_world = torch.tensor(spec.base_world, dtype=torch.float64)
        free = free_joints(spec)
        self.joint_names = [j.name for j in free]
        index = {name: i for i, name in enumerate(self.joint_names)}
        self.joint_limits = torch.tensor([[j.lower, j.upper] for j in free], dtype=torch.float64)
        if not self.joint_names:
            self.joint_limits = torch.zeros(0, 2, dtype=torch.float64)
        by_child = {j.child: j for j in spec.joints}
        link_index = {name: i for i, name in enumerate(self.link_names)}
        # One entry per non-root link, in link order: (link idx, parent idx, L0, inv(L1), axis, kind, q idx, mult, off)
        self._chain = []
        for name in self.link_names[1:]:
            joint = by_child[name]
            if joint.type == "fixed":
                q_index, mult, offset = -1, 0.0, 0.0
            elif joint.mimic is not None:
                q_index, mult, offset = index[joint.mimic[0]], joint.mimic[1], joint.mimic[2]
            else:
                q_index, mult, offset = index[joint.name], 1.0, 0.0
            self._chain.append(
                (
                    link_index[name],
                    link_index[joint.parent],
                    torch.tensor(joint.local0, dtype=torch.float64),
                    torch.tensor(np.linalg.inv(joint.local1), dtype=torch.float64),
                    _AXIS_INDEX[joint.axis],
                    joint.type,
                    q_index,
                    mult,
                    offset,
                )
            )
        self._root_local = torch.tensor(spec.root_local, dtype=torch.float64)
        self.gaussians = gaussians

    @property
    def dof(self) -> int:
        """Number of independent joint values."""
        return len(self.joint_names)

    def link_poses(self, q: torch.Tensor, *, base_world: torch.Tensor | None = None) -> torch.Tensor:
        """World transforms of every link.

        Args:
            q: joint values [B, dof] (rad or m) in ``joint_names`` order; any float dtype (float64 recommended).
            base_world: robot prim pose [4, 4] or [B, 4, 4] (world frame); default :attr:`base_world`.

        Returns:
            [B, L, 4, 4] column-vector transforms link frame -> world (metres), ``link_names`` order, dtype of q,
            differentiable in ``q`` and ``base_world``.
        """
        import torch  # noqa: PLC0415

        if q.ndim != 2 or q.shape[1] != self.dof:
            raise ValueError(f"q must have shape [B, {self.dof}] ({', '.join(self.joint_names)}), got {tuple(q.shape)}")
        dtype, device = q.dtype, q.device
        batch = q.shape[0]
        base = self.base_world if base_world is None else base_world
        base = base.to(dtype=dtype, device=device)
        root = (base @ self._root_local.to(dtype=dtype, device=device)).expand(batch, 4, 4)
        poses: list[torch.Tensor | None] = [None] * len(self.link_names)
        poses[0] = root
        for link, parent, local0, inv_local1, axis, kind, q_index, mult, offset in self._chain:
            frame = poses[parent] @ local0.to(dtype=dtype, device=device)
            if kind != "fixed":
                values = q[:, q_index] * mult + offset
                frame = frame @ axis_motion(values, axis, prismatic=kind == "prismatic")
            poses[link] = frame @ inv_local1.to(dtype=dtype, device=device)
        return torch.stack(poses, dim=1)  # type: ignore[arg-type]

    def check_joint_values(self, values: dict[str, float], source: str) -> np.ndarray:
        """Joint values by name -> q [dof] (joints not named stay 0); InputError on unknown names or limits."""
        from splattwin.errors import InputError  # noqa: PLC0415

        q = np.zeros(self.dof)
        mimic = {j.name for j in self.spec.joints if j.mimic is not None}
        for name, value in values.items():
            if name in mimic:
                continue  # follows its master; the value given is ignored
            if name not in self.joint_names:
                raise InputError(
                    source,
                    f"names joint {name!r}, which robot {self.prim} does not have "
                    f"(movable joints: {', '.join(self.joint_names)})",
                )
            if not isinstance(value, int | float) or not np.isfinite(value):
                raise InputError(source, f"joint {name!r} value {value!r} is not a finite number")
            i = self.joint_names.index(name)
            lower, upper = (float(v) for v in self.joint_limits[i])
            if not lower - 1e-9 <= value <= upper + 1e-9:
                raise InputError(source, f"joint {name!r} = {value} is outside its limits [{lower:.6g}, {upper:.6g}]")
            q[i] = float(value)
        return q

    def pose_gaussians(self, q: torch.Tensor, *, out: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """World-frame Gaussians of every link at ``q`` [B, dof], differentiable in q.

        Returns ``means`` [B, N, 3], ``quats_wxyz`` [B, N, 4], ``scales`` [N, 3], ``opacities`` [N], ``sh``
        [B, N, K, 3], ``link_index`` [N] (float32; see :func:`splattwin.robot.posing.pose_bound_gaussians`, which
        also explains ``out``, buffers a render loop can pass back in to avoid reallocating them).
        """
        from splattwin.robot.posing import pose_bound_gaussians  # noqa: PLC0415

        if self.gaussians is None:
            raise ValueError(f"robot {self.prim} has no bound Gaussians (import it with import-robot first)")
        return pose_bound_gaussians(self.gaussians, self.link_poses(q), out=out)


def load_robot(stage: str | Path | Usd.Stage | TwinStage, prim: str, *, gaussians: bool = True) -> Robot:
    """Build a :class:`Robot` from a robot prim on a stage (not from its URDF).

    Args:
        stage: a USD file path (any stage, e.g. the twin's root layer), an open ``Usd.Stage`` or a ``TwinStage``.
        prim: the robot prim written by ``import-robot``.
        gaussians: also load each link's ``Gaussians`` child (for :meth:`Robot.pose_gaussians`).

    Raises:
        StageError: the file is not USD, or ``prim`` is not a robot.
    """
    from splattwin.usd.stage import TwinStage, open_usd_stage  # noqa: PLC0415

    if isinstance(stage, str | Path):
        stage = open_usd_stage(stage)
    elif isinstance(stage, TwinStage):
        stage = stage.stage
    spec = read_robot_spec(stage, prim)
    bound = None
    if gaussians:
        from splattwin.robot.posing import read_bound_gaussians  # noqa: PLC0415

        bound = read_bound_gaussians(stage, spec)
    return Robot(spec, bound)
