"""``splattwin align``: unify a twin's frame (up axis, metric scale, gravity from the table, origin at the robot).

The transform from :func:`splattwin.geometry.alignment.unify_frame` is baked into every imported prim in the
layer that holds it: splat means, orientations, scales and SH coefficients; static mesh points; rigid-body poses
(their body-frame meshes and Gaussians are scaled, their mass and inertia follow the scale). The composed
transform is recorded on ``/World`` so ``--invert`` can undo it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError, StageError
from splattwin.geometry.alignment import PlaneFit, fit_table_plane, unify_frame
from splattwin.geometry.transforms import Similarity, matrix_to_quat_wxyz
from splattwin.pipelines._common import local_to_world
from splattwin.robot.frames import base_pose_world, move_robot_bases, robot_origin_step
from splattwin.usd.frames import (
    ALIGNMENT_KEY,
    FRAME_KEY,
    matrix_to_list,
    read_alignment,
    read_frame_record,
    to_custom_data,
)
from splattwin.usd.splats import define_gaussians_prim, read_gaussians_prim
from splattwin.usd.stage import WORLD_PATH, TwinStage, edit_twin

__all__ = ["AlignConfig", "AlignResult", "align_twin"]

logger = logging.getLogger(__name__)

_TABLE_FIT_POINTS = 200_000
"""Scene points the table plane is fitted on at most (a seeded subsample: RANSAC needs no more)."""


@dataclass(kw_only=True)
class AlignConfig:
    """``splattwin align`` options. Points are in the stage's current frame (before this alignment).

    Attributes:
        stage: the twin's root layer.
        up_axis: the current up axis of the twin's content (``z``: no axis change).
        scale_from: (p1 [3], p2 [3], metres): two points and their real distance.
        table: ``"auto"`` (RANSAC on all splats and static meshes) or a prim path whose points hold the table;
            None: no gravity step.
        table_height: z of the table top after the gravity step, metres, before the origin shift.
        origin: the point (e.g. the robot base) that becomes the world origin.
        robot: a robot prim (``import-robot``): the origin goes to its base and +x along its base's x axis
            (a turn about z after the other steps); robots always move rigidly with an alignment.
        invert: undo the recorded alignment instead (all other options must be left unset).
    """

    stage: Path
    up_axis: str = "z"
    scale_from: tuple[tuple[float, float, float], tuple[float, float, float], float] | None = None
    table: str | None = None
    table_height: float = 0.0
    origin: tuple[float, float, float] | None = None
    robot: str | None = None
    invert: bool = False

    def validate(self) -> None:
        """Check option combinations."""
        if self.invert and (self.scale_from or self.table or self.origin or self.robot or self.up_axis != "z"):
            raise InputError("--invert", "undoes the recorded alignment; give it without other alignment options")
        if not self.invert and not (self.scale_from or self.table or self.origin or self.robot or self.up_axis != "z"):
            raise InputError("align", "nothing to do: give --up-axis, --scale-from, --table, --origin and/or --robot")
        if self.origin is not None and self.robot is not None:
            raise InputError("--robot", "puts the origin at the robot base; give either --origin or --robot")


@dataclass
class AlignResult:
    """The transform applied (current frame -> new world), the composed alignment and what was changed."""

    applied: Similarity
    total: Similarity
    record: dict[str, Any]
    prims: list[str]


@dataclass
class _Targets:
    splats: list[Any]
    meshes: list[Any]
    bodies: list[Any]


def _collect(twin: TwinStage) -> _Targets:
    from pxr import UsdGeom, UsdPhysics, UsdVol  # noqa: PLC0415

    targets = _Targets([], [], [])
    iterator = iter(twin.stage.Traverse())
    for prim in iterator:
        if not prim.GetCustomDataByKey(FRAME_KEY):
            continue
        if prim.HasAPI(UsdPhysics.RigidBodyAPI):
            targets.bodies.append(prim)
            iterator.PruneChildren()  # body-frame children move with the body
        elif prim.IsA(UsdVol.ParticleField3DGaussianSplat):
            targets.splats.append(prim)
        elif prim.IsA(UsdGeom.Mesh):
            targets.meshes.append(prim)
    return targets


_MESH_SAMPLES = 20_000
"""Area-weighted surface samples per mesh for the plane fit (a box's 8 corners are no sample of its faces)."""


def _mesh_surface_samples(mesh: Any, rng: np.random.Generator) -> np.ndarray:
    points = np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float64)
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get())
    if len(counts) == 0 or not (counts == 3).all():
        return points  # only triangle meshes are authored here; anything else falls back to its vertices
    triangles = points[np.asarray(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3)]
    areas = 0.5 * np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=1)
    if not areas.sum() > 0:
        return points
    chosen = triangles[rng.choice(len(triangles), _MESH_SAMPLES, p=areas / areas.sum())]
    u, v = rng.random((2, _MESH_SAMPLES, 1))
    flip = (u + v) > 1  # fold the unit square onto the triangle so samples are uniform in area
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    return chosen[:, 0] + u * (chosen[:, 1] - chosen[:, 0]) + v * (chosen[:, 2] - chosen[:, 0])


def _scene_points(targets: _Targets, table_prim: Any | None) -> np.ndarray:
    from pxr import UsdGeom  # noqa: PLC0415

    prims = [table_prim] if table_prim is not None else targets.splats + targets.meshes
    clouds = []
    rng = np.random.default_rng(0)
    for prim in prims:
        if prim.IsA(UsdGeom.Mesh):
            local = _mesh_surface_samples(UsdGeom.Mesh(prim), rng)
        else:
            local = read_gaussians_prim(prim).means.astype(np.float64)
        clouds.append(local_to_world(prim).apply_points(local))
    if not clouds:
        raise InputError("--table", "the twin holds no imported splats or static meshes to fit a table plane on")
    points = np.concatenate(clouds)
    if len(points) > _TABLE_FIT_POINTS:
        points = points[rng.choice(len(points), _TABLE_FIT_POINTS, replace=False)]
    return points


def _in_local_frame(prim: Any, transform: Similarity) -> Similarity:
    """``transform`` (world frame) expressed in the frame of ``prim``'s own data."""
    frame = local_to_world(prim)
    return frame.then(transform).then(frame.inverse())


def _rewrite_frame_record(prim: Any, transform: Similarity) -> None:
    source, to_world = read_frame_record(prim)
    prim.SetCustomDataByKey(FRAME_KEY, {"source": source, "sourceToWorld": matrix_to_list(to_world.then(transform))})


def _move_splat(twin: TwinStage, prim: Any, transform: Similarity) -> None:
    moved = _in_local_frame(prim, transform).apply_gaussians(read_gaussians_prim(prim))
    custom = dict(prim.GetCustomData())
    define_gaussians_prim(twin.stage, str(prim.GetPath()), moved, custom_data=custom)


def _move_mesh_points(prim: Any, transform: Similarity) -> None:
    from pxr import UsdGeom, Vt  # noqa: PLC0415

    mesh = UsdGeom.Mesh(prim)
    points = transform.apply_points(np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float64)).astype(np.float32)
    mesh.GetPointsAttr().Set(Vt.Vec3fArray.FromNumpy(points))
    mesh.GetExtentAttr().Set(Vt.Vec3fArray.FromNumpy(np.stack([points.min(0), points.max(0)])))


def _move_body(twin: TwinStage, prim: Any, transform: Similarity) -> None:
    """Rigid motion of the body pose; the scale goes into its body-frame content, mass and inertia."""
    from pxr import Gf, Usd, UsdGeom, UsdPhysics, UsdVol  # noqa: PLC0415

    pose = local_to_world(prim)
    new_pose = Similarity(
        rotation=transform.rotation @ pose.rotation, translation=transform.apply_points(pose.translation)
    )
    parent = local_to_world(prim.GetParent())
    local = new_pose.then(parent.inverse())
    xform = UsdGeom.Xformable(prim)
    ops = {op.GetOpType(): op for op in xform.GetOrderedXformOps()}
    if set(ops) != {UsdGeom.XformOp.TypeTranslate, UsdGeom.XformOp.TypeOrient}:
        raise StageError(twin.root_path, f"{prim.GetPath()}: expected translate + orient xform ops on a body")
    ops[UsdGeom.XformOp.TypeTranslate].Set(Gf.Vec3d(*local.translation.tolist()))
    w, x, y, z = matrix_to_quat_wxyz(local.rotation).tolist()
    ops[UsdGeom.XformOp.TypeOrient].Set(Gf.Quatf(w, x, y, z))
    grow = Similarity(scale=transform.scale)
    for child in Usd.PrimRange(prim):
        if child == prim:
            continue
        if child.IsA(UsdVol.ParticleField3DGaussianSplat):
            define_gaussians_prim(
                twin.stage,
                str(child.GetPath()),
                grow.apply_gaussians(read_gaussians_prim(child)),
                custom_data=dict(child.GetCustomData()),
            )
        elif child.IsA(UsdGeom.Mesh):
            _move_mesh_points(child, grow)
    mass_api = UsdPhysics.MassAPI(prim)
    provenance = dict(mass_api.GetMassAttr().GetCustomDataByKey("splattwin:provenance") or {})
    s = transform.scale
    # A prior scales with volume (s^3); a mass someone gave stays. Inertia ~ mass * length^2.
    mass_factor = s**3 if provenance.get("kind") == "prior" else 1.0
    if mass_factor != 1.0:
        mass_api.GetMassAttr().Set(float(mass_api.GetMassAttr().Get()) * mass_factor)
        provenance["volumeM3"] = float(provenance.get("volumeM3", 0.0)) * s**3
        mass_api.GetMassAttr().SetCustomDataByKey("splattwin:provenance", provenance)
    inertia = np.asarray(mass_api.GetDiagonalInertiaAttr().Get(), dtype=np.float64) * mass_factor * s**2
    mass_api.GetDiagonalInertiaAttr().Set(Gf.Vec3f(*inertia.tolist()))


def align_twin(config: AlignConfig) -> AlignResult:
    """Compute the frame unification from the twin's content and bake it into every imported prim."""
    config.validate()
    with edit_twin(config.stage, create=False) as twin:
        targets = _collect(twin)
        previous = read_alignment(twin.stage)
        if config.invert:
            applied = previous.inverse()
            record: dict[str, Any] = {"steps": [{"name": "invert", "matrix": matrix_to_list(applied)}]}
        else:
            table: str | PlaneFit | None = None
            points = None
            if config.table == "auto":
                table, points = "auto", _scene_points(targets, None)
            elif config.table is not None:
                prim = twin.stage.GetPrimAtPath(config.table)
                if not prim:
                    raise InputError("--table", f"no prim at {config.table} in {config.stage}")
                table = fit_table_plane(_scene_points(targets, prim), up_hint=_up_hint(config.up_axis))
            applied, record = unify_frame(
                points,
                up_axis=config.up_axis,
                scale_from=config.scale_from,
                table=table,
                table_height=config.table_height,
                origin=config.origin,
            )
            if config.robot is not None:
                applied, record = _with_robot_step(twin, config.robot, applied, record)
        total = previous.then(applied)
        changed = []
        for prim in targets.splats + targets.meshes + targets.bodies:
            layer = twin.layer_of(str(prim.GetPath())) or "scene"
            with twin.edit_layer(layer):
                if prim in targets.bodies:
                    _move_body(twin, prim, applied)
                elif prim in targets.splats:
                    _move_splat(twin, prim, applied)
                else:
                    _move_mesh_points(prim, _in_local_frame(prim, applied))
                _rewrite_frame_record(prim, applied)
            changed.append(str(prim.GetPath()))
        changed += move_robot_bases(twin, applied)
        with twin.edit_layer("scene"):
            world = twin.stage.GetPrimAtPath(WORLD_PATH)
            data = {
                "worldFromReconstruction": matrix_to_list(total),
                "lastApplied": matrix_to_list(applied),
                "steps": to_custom_data(record["steps"]),
            }
            if total.is_identity(atol=1e-9):
                world.ClearCustomDataByKey(ALIGNMENT_KEY)
            else:
                world.SetCustomDataByKey(ALIGNMENT_KEY, data)
    logger.info("aligned %d prims of %s (scale %.6g)", len(changed), config.stage, applied.scale)
    return AlignResult(applied=applied, total=total, record=record, prims=changed)


def _with_robot_step(
    twin: TwinStage, robot: str, applied: Similarity, record: dict[str, Any]
) -> tuple[Similarity, dict[str, Any]]:
    """Append ``--robot``'s step (origin at the base, x along the base's x) to the alignment steps."""
    try:
        step, step_record = robot_origin_step(base_pose_world(twin.stage, robot), applied)
    except ValueError as exc:
        raise InputError("--robot", str(exc)) from None
    step_record["matrix"] = step.matrix().tolist()
    composed = applied.then(step)
    record = {**record, "steps": [*record["steps"], step_record], "matrix": composed.matrix().tolist()}
    return composed, record


def _up_hint(up_axis: str) -> np.ndarray:
    """A given table prim is fitted in the current frame, before the up-axis step: hint its current up."""
    axis = up_axis.lstrip("+").lower()
    sign = -1.0 if axis.startswith("-") else 1.0
    hint = np.zeros(3)
    hint["xyz".index(axis[-1])] = sign
    return hint
