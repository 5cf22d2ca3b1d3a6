"""``splattwin align``: unify a twin's frame (up axis, metric scale, gravity from the table, origin at the robot).

The transform from :func:`splattwin.geometry.alignment.unify_frame` is baked into every imported prim in the
layer that holds it: splat means, orientations, scales and SH coefficients; static mesh points; rigid-body poses
(their body-frame meshes and Gaussians are scaled, their mass and inertia follow the scale). The composed
transform is recorded on ``/World`` so ``--invert`` can undo it, and every prim's frame record says it is now in
the aligned frame (docs/frames.md).

A twin is aligned once: ``align`` on an aligned twin refuses unless ``--compose`` (apply on top, points in the
aligned frame) or ``--redo`` (replace the recorded alignment, points in the reconstruction frame). An up axis or
scale already applied at import is refused rather than applied twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError, StageError
from splattwin.geometry.alignment import (
    DEFAULT_MIN_INLIER_FRACTION,
    MIN_TABLE_SIDE_M,
    PlaneFit,
    WeakTableError,
    fit_table_plane,
    suggest_up_axis,
    unify_frame,
)
from splattwin.geometry.transforms import Similarity, matrix_to_quat_wxyz
from splattwin.pipelines._common import up_axis_transform
from splattwin.pipelines._units import units_check
from splattwin.robot.frames import base_pose_world, move_robot_bases, robot_origin_step
from splattwin.usd.cameras import move_camera
from splattwin.usd.frames import (
    ALIGNED,
    ALIGNMENT_KEY,
    FRAME_KEY,
    RECONSTRUCTION,
    alignment_record,
    matrix_to_list,
    read_alignment,
    read_frame_state,
    to_custom_data,
)
from splattwin.usd.prims import check_prim_path_syntax, local_to_world
from splattwin.usd.splats import define_gaussians_prim, read_gaussians_prim
from splattwin.usd.stage import WORLD_PATH, TwinStage, edit_twin

__all__ = ["AlignConfig", "AlignResult", "align_twin", "table_fit_summary"]

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
        table_height: z of the table top after the gravity step, metres, before the origin shift; None (no
            ``--table-height``) is 0. Only with ``table``.
        origin: the point (e.g. the robot base) that becomes the world origin.
        robot: a robot prim (``import-robot``): the origin goes to its base and +x along its base's x axis
            (a turn about z after the other steps); robots always move rigidly with an alignment.
        invert: undo the recorded alignment instead (all other options must be left unset).
        compose: the twin is aligned already: apply this alignment on top (points in the aligned frame).
        redo: the twin is aligned already: replace its alignment by this one (points in the reconstruction
            frame, as for the first alignment).
        force: align even when a dynamic body would end beyond the units hard limits (size, mass).
        table_min_inliers: the least share of the fitted points a table plane must hold (``--table auto`` or a
            prim); a weaker plane is refused, it is a wall, a box top or the wrong ``--up-axis``, not a table.
    """

    stage: Path
    up_axis: str = "z"
    scale_from: tuple[tuple[float, float, float], tuple[float, float, float], float] | None = None
    table: str | None = None
    table_height: float | None = None
    origin: tuple[float, float, float] | None = None
    robot: str | None = None
    invert: bool = False
    compose: bool = False
    redo: bool = False
    force: bool = False
    table_min_inliers: float = DEFAULT_MIN_INLIER_FRACTION

    def _has_steps(self) -> bool:
        return bool(
            self.scale_from or self.table or self.origin or self.robot or str(self.up_axis).lower().lstrip("+") != "z"
        )

    def validate(self) -> None:
        """Check option combinations."""
        up_axis_transform(self.up_axis)
        if self.invert and (self._has_steps() or self.compose or self.redo):
            raise InputError("--invert", "undoes the recorded alignment; give it without other alignment options")
        if self.compose and self.redo:
            raise InputError("--compose", "and --redo exclude each other: compose on top, or redo from the originals")
        if not self.invert and not self._has_steps():
            raise InputError("align", "nothing to do: give --up-axis, --scale-from, --table, --origin and/or --robot")
        if self.table_height is not None and self.table is None:
            raise InputError("--table-height", "only applies with --table (the height the fitted table top goes to)")
        if self.table_height is not None and not np.isfinite(self.table_height):
            raise InputError("--table-height", f"must be a finite height in metres, got {self.table_height}")
        if self.table not in (None, "auto"):
            check_prim_path_syntax(self.table, "--table")
        if not (np.isfinite(self.table_min_inliers) and 0 <= self.table_min_inliers < 1):
            raise InputError("--table-min-inliers", f"must be a fraction in [0, 1), got {self.table_min_inliers}")
        if self.origin is not None and self.robot is not None:
            raise InputError("--robot", "puts the origin at the robot base; give either --origin or --robot")


@dataclass
class AlignResult:
    """The transform applied (current frame -> new world), the composed alignment and what was changed."""

    applied: Similarity
    total: Similarity
    record: dict[str, Any]
    prims: list[str]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Targets:
    splats: list[Any]
    meshes: list[Any]
    bodies: list[Any]
    cameras: list[Any] = field(default_factory=list)


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
        elif prim.IsA(UsdGeom.Camera):
            targets.cameras.append(prim)  # imported cameras (import-cameras) move rigidly, intrinsics kept
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


def _rewrite_frame_record(prim: Any, transform: Similarity, previous: Similarity, state: str) -> None:
    """After moving ``prim`` by ``transform``: its source-to-world transform and frame state follow."""
    current = read_frame_state(prim, twin_alignment=previous)
    record = dict(prim.GetCustomDataByKey(FRAME_KEY))
    record["sourceToWorld"] = matrix_to_list(current.source_to_world.then(transform))
    record["sourceToReconstruction"] = matrix_to_list(current.source_to_reconstruction)
    record["state"] = state
    record.setdefault("importedIn", current.imported_in)
    prim.SetCustomDataByKey(FRAME_KEY, record)


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


def _check_not_doubled(twin: TwinStage, config: AlignConfig, previous: Similarity) -> None:
    """Refuse an up axis or scale that an import already applied to the reconstruction frame."""
    wants_axis = str(config.up_axis).lower().lstrip("+") != "z"
    for prim in _imported(twin):
        state = read_frame_state(prim, twin_alignment=previous)
        if state is None or state.metric:
            continue
        if wants_axis and state.import_up_axis != "z":
            raise InputError(
                "--up-axis",
                f"{prim.GetPath()} was imported with --up-axis {state.import_up_axis}, so the reconstruction frame "
                f"is z-up already; align without --up-axis, or re-import it without (--replace)",
            )
        if config.scale_from is not None and abs(state.import_scale - 1.0) > 1e-12:
            raise InputError(
                "--scale-from",
                f"{prim.GetPath()} was imported with --scale {state.import_scale:g}, so its units are set already; "
                "align without --scale-from, or re-import it without --scale (--replace)",
            )


def _imported(twin: TwinStage) -> list[Any]:
    return [prim for prim in twin.stage.Traverse() if prim.GetCustomDataByKey(FRAME_KEY)]


def _table_prim(twin: TwinStage, config: AlignConfig) -> Any:
    from pxr import UsdGeom, UsdVol  # noqa: PLC0415

    prim = twin.stage.GetPrimAtPath(config.table)
    if not prim:
        raise InputError("--table", f"no prim at {config.table} in {config.stage}")
    if not (prim.IsA(UsdGeom.Mesh) or prim.IsA(UsdVol.ParticleField3DGaussianSplat)):
        raise InputError(
            "--table",
            f"{config.table} is a {prim.GetTypeName() or 'typeless'} prim; give a mesh or a splat prim (or auto)",
        )
    return prim


def align_twin(config: AlignConfig) -> AlignResult:
    """Compute the frame unification from the twin's content and bake it into every imported prim.

    Raises:
        StageError: ``align`` on an aligned twin without ``compose``/``redo``; ``invert`` on an unaligned one.
        InputError: bad options, an up axis or scale that an import already applied, a wrong ``--table`` prim.
    """
    config.validate()
    with edit_twin(config.stage, create=False) as twin:
        targets = _collect(twin)
        previous = read_alignment(twin.stage)
        existing = alignment_record(twin.stage)
        if config.invert and existing is None:
            raise StageError(twin.root_path, "is not aligned: there is no alignment to invert")
        if not config.invert and existing is not None and not (config.compose or config.redo):
            steps = existing.get("steps", {})
            names = " -> ".join(str(steps[k].get("name", k)) for k in sorted(steps)) or "recorded"
            raise StageError(
                twin.root_path,
                f"is already aligned ({names}, scale x{previous.scale:.6g}); give --compose to apply this on top "
                "(points in the aligned frame) or --redo to replace it (points in the reconstruction frame)",
            )
        if (config.compose or config.redo) and existing is None:
            flag = "--compose" if config.compose else "--redo"
            raise InputError(flag, f"{config.stage} is not aligned yet; run align without {flag}")
        previous_record = existing or {}
        if config.invert:
            applied = previous.inverse()
            total = Similarity()
            record: dict[str, Any] = {"steps": [{"name": "invert", "matrix": matrix_to_list(applied)}]}
        else:
            # The user's points are in the reconstruction frame for a first alignment and for --redo.
            to_points_frame = previous.inverse() if config.redo else Similarity()
            if existing is None or config.redo:
                _check_not_doubled(twin, config, previous)
            table: str | PlaneFit | None = None
            points = None
            options: dict[str, Any] = {"min_inlier_fraction": config.table_min_inliers}
            if config.table == "auto":
                table, points = "auto", to_points_frame.apply_points(_scene_points(targets, None))
                if _fits_in_metres(twin, config, existing, previous):
                    options["min_side"] = MIN_TABLE_SIDE_M  # a box top is no table (geometry/alignment.py)
            elif config.table is not None:
                table_points = to_points_frame.apply_points(_scene_points(targets, _table_prim(twin, config)))
                try:
                    table = fit_table_plane(table_points, up_hint=_up_hint(config.up_axis), **options)
                except WeakTableError as exc:
                    raise _weak_table(config, exc, table_points) from None
            try:
                unified, record = unify_frame(
                    points,
                    up_axis=config.up_axis,
                    scale_from=config.scale_from,
                    table=table,
                    table_height=config.table_height or 0.0,
                    table_options=options,
                    origin=config.origin,
                )
            except WeakTableError as exc:
                raise _weak_table(config, exc, points) from None
            applied = to_points_frame.then(unified)
            if config.robot is not None:
                applied, record = _with_robot_step(twin, config.robot, applied, record)
            # previous.then(applied) is `unified` itself for --redo (applied starts with previous.inverse()).
            total = previous.then(applied)
        # The import verbs' size / mass checks, on what this alignment would make of every prim; a refusal
        # raises here, before anything is moved, so the twin is left as it was.
        warnings = _units_after(targets, applied, config)
        # A twin that was aligned stays aligned (and refuses a second align) even when the result is the identity.
        state = RECONSTRUCTION if config.invert else ALIGNED
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
                _rewrite_frame_record(prim, applied, previous, state)
            changed.append(str(prim.GetPath()))
        for prim in targets.cameras:
            with twin.edit_layer(twin.layer_of(str(prim.GetPath())) or "scene"):
                move_camera(prim, applied)
                _rewrite_frame_record(prim, applied, previous, state)
            changed.append(str(prim.GetPath()))
        changed += move_robot_bases(twin, applied)
        with twin.edit_layer("scene"):
            world = twin.stage.GetPrimAtPath(WORLD_PATH)
            if state == RECONSTRUCTION:
                world.ClearCustomDataByKey(ALIGNMENT_KEY)
            else:
                world.SetCustomDataByKey(
                    ALIGNMENT_KEY, _alignment_data(config, record, applied, total, previous_record)
                )
    logger.info("aligned %d prims of %s (scale %.6g)", len(changed), config.stage, applied.scale)
    return AlignResult(applied=applied, total=total, record=record, prims=changed, warnings=warnings)


def _fits_in_metres(
    twin: TwinStage, config: AlignConfig, existing: dict[str, Any] | None, previous: Similarity
) -> bool:
    """Whether the table is fitted on metric points: scaled by this align's --scale-from, composed on a twin whose
    alignment set the scale, or every imported prim brought to metres at import (--scale or --metric)."""
    if config.scale_from is not None:
        return True
    if config.compose:
        return bool((existing or {}).get("scaleApplied", False))
    states = [read_frame_state(prim, twin_alignment=previous) for prim in _imported(twin)]
    states = [state for state in states if state is not None]
    return bool(states) and all(state.metric or abs(state.import_scale - 1.0) > 1e-12 for state in states)


def _weak_table(config: AlignConfig, exc: WeakTableError, points: np.ndarray | None) -> InputError:
    """The refusal of a table fit that found no table, with the up axis that would give one if there is one."""
    problem = exc.problem
    given = str(config.up_axis).lower().lstrip("+")
    suggestions = suggest_up_axis(points) if points is not None and config.table == "auto" else []
    better = next(((a, f) for a, f in suggestions if a != given and f >= max(config.table_min_inliers, 1e-9)), None)
    if better is not None and (exc.best is None or better[1] > 2 * exc.best.inlier_fraction):
        problem += (
            f"; is the up axis right? with --up-axis {better[0]} the table plane holds {100 * better[1]:.1f}% "
            f"of the points (this fit: --up-axis {given})"
        )
    elif config.table == "auto":
        problem += "; give the table's prim (--table PRIM), or lower --table-min-inliers if this plane is the table"
    else:
        problem += f"; check --up-axis and that {config.table} holds the table, or lower --table-min-inliers"
    return InputError("--table", problem)


def _body_points(body: Any) -> np.ndarray:
    """World points of a body's collision and render meshes (its extent, as the import measured it)."""
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    clouds = [
        local_to_world(child).apply_points(np.asarray(UsdGeom.Mesh(child).GetPointsAttr().Get(), dtype=np.float64))
        for child in Usd.PrimRange(body)
        if child.IsA(UsdGeom.Mesh) and UsdGeom.Mesh(child).GetPointsAttr().Get() is not None
    ]
    return np.concatenate(clouds) if clouds else local_to_world(body).translation[None]


def _extent_findings(
    prim: Any, points: np.ndarray, config: AlignConfig, scale: float, **kwargs: Any
) -> tuple[list, list]:
    """units_check of points [N, 3] (world) of one prim, with align's remedy."""
    if len(points) == 0:
        return [], []
    if kwargs.get("splat"):
        low, high = np.percentile(points, [1, 99], axis=0)
    else:
        low, high = points.min(axis=0), points.max(axis=0)
    return units_check(
        what=str(prim.GetPath()),
        size_m=float((high - low).max()),
        distance_m=float(np.linalg.norm((low + high) / 2)),
        remedy=_align_remedy(config, scale),
        action="align anyway",
        **kwargs,
    )


def _align_remedy(config: AlignConfig, scale: float) -> Any:
    """What to do about a length factor after an alignment: the --scale-from distance is the usual culprit; an
    alignment that scales nothing can only have moved things far away (its --origin)."""
    if config.scale_from is not None:
        metres = config.scale_from[2]
        return lambda factor: f"--scale-from takes metres: try {metres * factor:g} instead of {metres:g}"
    if abs(scale - 1.0) < 1e-9:
        return lambda factor: "check --origin: it is a point in the twin's current frame and units"
    return lambda factor: f"the content is off by x{factor:g}: check --scale-from or the imports' --scale"


def _units_after(targets: _Targets, applied: Similarity, config: AlignConfig) -> list[str]:
    """The size / mass checks of the import verbs on every prim after ``applied``: new warnings, and a refusal
    (InputError unless ``config.force``) for a dynamic body this alignment would put beyond the hard limits.

    Findings a prim already had before the alignment are not repeated (it was imported that way, with --force)."""
    from pxr import UsdPhysics  # noqa: PLC0415

    warnings: list[str] = []
    s = applied.scale
    for prim in targets.splats + targets.meshes + targets.bodies:
        if prim in targets.bodies:
            points = _body_points(prim)
            mass_attr = UsdPhysics.MassAPI(prim).GetMassAttr()
            mass = mass_attr.Get()
            provenance = dict(mass_attr.GetCustomDataByKey("splattwin:provenance") or {})
            prior = provenance.get("kind") == "prior"
            mass_after = None if mass is None else float(mass) * (s**3 if prior else 1.0)
            kind = {"dynamic": True, "mass_given": not prior}
            mass_before = None if mass is None else float(mass)
            before = _extent_findings(prim, points, config, s, mass_kg=mass_before, **kind)
            after = _extent_findings(prim, applied.apply_points(points), config, s, mass_kg=mass_after, **kind)
        else:
            if prim in targets.splats:
                points = local_to_world(prim).apply_points(read_gaussians_prim(prim).means.astype(np.float64))
            else:
                points = local_to_world(prim).apply_points(_mesh_points(prim))
            kind = {"splat": prim in targets.splats}
            before = _extent_findings(prim, points, config, s, **kind)
            after = _extent_findings(prim, applied.apply_points(points), config, s, **kind)
        seen = {finding.kind for finding in before[0] + before[1]}
        new_refusals = [f for f in after[1] if f.kind not in seen]
        if new_refusals and not config.force:
            flag = "--scale-from" if config.scale_from is not None else "align"
            raise InputError(flag, f"after this alignment {prim.GetPath()}: {new_refusals[0].text}")
        warnings += [f"{f.text} (after align)" for f in after[0] if f.kind not in seen]
    return warnings


def _mesh_points(prim: Any) -> np.ndarray:
    from pxr import UsdGeom  # noqa: PLC0415

    return np.asarray(UsdGeom.Mesh(prim).GetPointsAttr().Get(), dtype=np.float64).reshape(-1, 3)


def _alignment_data(
    config: AlignConfig, record: dict[str, Any], applied: Similarity, total: Similarity, previous: dict[str, Any]
) -> dict[str, Any]:
    """The ``splattwin:alignment`` record: the composition, the latest steps, which kinds of step were applied."""
    keep = {} if config.redo else previous
    axis = str(config.up_axis).lower().lstrip("+")
    data = {
        "worldFromReconstruction": matrix_to_list(total),
        "lastApplied": matrix_to_list(applied),
        "steps": to_custom_data(record["steps"]),
        "upAxisApplied": axis if axis != "z" else str(keep.get("upAxisApplied", "z")),
        "scaleApplied": bool(config.scale_from is not None or keep.get("scaleApplied", False)),
        "composed": int(keep.get("composed", 0)) + (1 if config.compose else 0),
    }
    table = table_fit_summary(record)
    if table is not None:
        data["tableFit"] = table
    elif "tableFit" in keep:
        data["tableFit"] = keep["tableFit"]
    return data


def table_fit_summary(record: dict[str, Any]) -> dict[str, Any] | None:
    """Tilt (degrees), RMSE (twin units, metres once scaled), inliers of the table step of an align record."""
    step = next((s for s in record.get("steps", []) if s.get("name") == "table"), None)
    if step is None:
        return None
    return {
        "tiltDeg": float(step["tilt_deg"]),
        "rmse": float(step["rmse"]),
        "inlierFraction": float(step["inlier_fraction"]),
        "inliers": int(step.get("inliers", 0)),
        "method": str(step.get("method", "")),
        "sides": [float(v) for v in step.get("sides", [])],
    }


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
