"""What a task needs from a twin stage: table height, the object (collision mesh, pose, mass), the robot base.

The object's mass comes through :func:`read_object_mass`: the identified mass with its uncertainty when mass
identification has written one, else the import's prior with a loud warning.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError, StageError
from splattwin_tasks.robots.franka import REQUIRED_LINKS

__all__ = [
    "DEFAULT_OBJECT_PRIM",
    "MassEstimate",
    "TwinScene",
    "find_robot_root",
    "read_object_mass",
    "read_twin_scene",
]

logger = logging.getLogger(__name__)

DEFAULT_OBJECT_PRIM = "/World/Objects/Block"
_DEFAULT_FRICTION = 0.5


@dataclass(frozen=True)
class MassEstimate:
    """An object's mass as the twin states it.

    Attributes:
        mass_kg: the value [kg].
        relative_uncertainty: relative standard deviation (std / mass); 0 when unknown.
        source: ``"identified"``, ``"prior"`` or ``"given"``.
        provenance: the customData the value was written with.
    """

    mass_kg: float
    relative_uncertainty: float
    source: str
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TwinScene:
    """The task scene read from a twin, in the twin's world frame (z up, metres, origin at the robot base).

    Attributes:
        twin_path: the twin's root layer.
        object_prim: the object's prim path.
        object_position: centre of mass [3], metres.
        object_quat_wxyz: body orientation [4].
        object_vertices: collision mesh vertices in the body frame [V, 3], metres.
        object_faces: triangles [F, 3].
        object_inertia: inertia about the centre of mass in the body frame [3, 3], kg m^2 (at ``mass.mass_kg``).
        mass: the mass estimate.
        friction: the object's physics material's dynamic friction coefficient.
        table_height: z of the table top under the object, metres.
        robot_prim: the robot's root prim.
        robot_base: the robot root's world position [3], metres.
        robot_yaw_rad: the robot root's heading about the world z axis [rad] (robots stand upright).
        object_parts: the object's convex collision parts in the body frame, each (vertices [V, 3] m, triangles
            [F, 3]) (:func:`splattwin.usd.bodies.read_collision_parts`); empty: the collision mesh's hull collides.
    """

    twin_path: Path
    object_prim: str
    object_position: np.ndarray
    object_quat_wxyz: np.ndarray
    object_vertices: np.ndarray
    object_faces: np.ndarray
    object_inertia: np.ndarray
    mass: MassEstimate
    friction: float
    table_height: float
    robot_prim: str
    robot_base: np.ndarray
    robot_yaw_rad: float = 0.0
    object_parts: tuple[tuple[np.ndarray, np.ndarray], ...] = ()


def read_object_mass(stage: Any, prim_path: str) -> MassEstimate:
    """The object's mass: identified (with uncertainty) when the twin has it, else the prior, loudly.

    Uses the twin's one mass reader, :func:`splattwin.usd.identified.read_mass` (uncertainty: standard deviation
    in kg). Anything but an identified mass triggers a warning, since a policy conditioned on a guess is only as good as
    the guess.
    """
    from splattwin.usd.identified import read_mass  # noqa: PLC0415

    mass, uncertainty, source, provenance = read_mass(stage, prim_path)
    relative = 0.0 if uncertainty is None else float(uncertainty) / float(mass)
    estimate = MassEstimate(float(mass), relative, str(source), dict(provenance or {}))
    if estimate.source != "identified":
        message = (
            f"MASS NOT IDENTIFIED: {prim_path} has a {estimate.source} mass of {estimate.mass_kg:.4g} kg "
            f"(+-{100 * estimate.relative_uncertainty:.0f}%), not an identified one; the task is conditioned on "
            "this guess. Run mass identification on the twin first."
        )
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=2)
    return estimate


def find_robot_root(stage: Any) -> str | None:
    """The first prim with ``UsdPhysics.ArticulationRootAPI`` (what ``import-robot`` writes), or None."""
    from pxr import UsdPhysics  # noqa: PLC0415

    for prim in stage.Traverse():
        if prim.HasAPI(UsdPhysics.ArticulationRootAPI):
            return str(prim.GetPath())
    return None


def _world_matrix(prim: Any) -> np.ndarray:
    from splattwin.usd.prims import world_matrix  # noqa: PLC0415

    return world_matrix(prim)


def _table_height(stage: Any, object_prim: str, object_xy: np.ndarray, below_z: float) -> float | None:
    """Highest static-collider surface straight under the object's centre (None: no collider there)."""
    from pxr import UsdGeom, UsdPhysics  # noqa: PLC0415

    best = None
    for prim in stage.Traverse():
        path = str(prim.GetPath())
        if path.startswith(object_prim) or not prim.IsA(UsdGeom.Mesh) or not prim.HasAPI(UsdPhysics.CollisionAPI):
            continue
        if any(p.HasAPI(UsdPhysics.RigidBodyAPI) for p in _ancestors(prim)):
            continue
        mesh = UsdGeom.Mesh(prim)
        points = np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float64)
        counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get())
        if len(points) == 0 or not np.all(counts == 3):
            continue
        matrix = _world_matrix(prim)
        world = points @ matrix[:3, :3].T + matrix[:3, 3]
        tris = world[np.asarray(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3)]
        a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
        # Barycentric coordinates of the object's (x, y) in each triangle's xy projection.
        v0, v1, v2 = (b - a)[:, :2], (c - a)[:, :2], object_xy - a[:, :2]
        det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
        valid = np.abs(det) > 1e-12
        safe = np.where(valid, det, 1.0)
        u = (v2[:, 0] * v1[:, 1] - v2[:, 1] * v1[:, 0]) / safe
        v = (v0[:, 0] * v2[:, 1] - v0[:, 1] * v2[:, 0]) / safe
        inside = valid & (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9)
        z = a[:, 2] + u * (b - a)[:, 2] + v * (c - a)[:, 2]
        candidates = z[inside & (z <= below_z)]
        if len(candidates):
            best = max(best if best is not None else -np.inf, float(candidates.max()))
    return best


def _ancestors(prim: Any) -> list[Any]:
    out = []
    while prim and prim.GetPath().pathString != "/":
        out.append(prim)
        prim = prim.GetParent()
    return out


def _friction(stage: Any, mesh_prim: Any) -> float:
    from pxr import UsdPhysics, UsdShade  # noqa: PLC0415

    material, _ = UsdShade.MaterialBindingAPI(mesh_prim).ComputeBoundMaterial("physics")
    if material and material.GetPrim().HasAPI(UsdPhysics.MaterialAPI):
        value = UsdPhysics.MaterialAPI(material.GetPrim()).GetDynamicFrictionAttr().Get()
        if value is not None and value > 0:
            return float(value)
    return _DEFAULT_FRICTION


def read_twin_scene(
    twin: str | Path, *, object_prim: str = DEFAULT_OBJECT_PRIM, require_robot: bool = True
) -> TwinScene:
    """Read the task scene from a twin; :class:`StageError` naming the twin and what is missing otherwise.

    Args:
        twin: the twin's root layer.
        object_prim: the dynamic object to push or lift.
        require_robot: fail when the twin has no robot (a prim with ``ArticulationRootAPI``) or its robot lacks
            :data:`splattwin_tasks.robots.franka.REQUIRED_LINKS`; without it the robot base is the world origin.
    """
    from pxr import UsdGeom, UsdPhysics  # noqa: PLC0415

    from splattwin.geometry.transforms import matrix_to_quat_wxyz  # noqa: PLC0415
    from splattwin.usd import open_twin  # noqa: PLC0415

    twin_path = Path(twin)
    if not twin_path.exists():
        raise InputError(twin_path, "no such twin (make one with `splattwin demo --out DIR`, then twin=DIR/twin.usda)")
    stage = open_twin(twin_path).stage
    prim = stage.GetPrimAtPath(object_prim)
    if not prim or not prim.IsActive() or not prim.HasAPI(UsdPhysics.RigidBodyAPI):
        bodies = [str(p.GetPath()) for p in stage.Traverse() if p.HasAPI(UsdPhysics.RigidBodyAPI)]  # active ones
        raise StageError(
            twin_path, f"has no rigid object at {object_prim} (rigid bodies on the stage: {bodies or 'none'})"
        )
    from splattwin.usd.bodies import read_collision_parts  # noqa: PLC0415

    parts = tuple(read_collision_parts(stage, object_prim))
    surface = prim.GetChild("collision")
    mesh_prim = next((c for c in prim.GetChildren() if c.IsA(UsdGeom.Mesh) and c.HasAPI(UsdPhysics.CollisionAPI)), None)
    if parts and surface and surface.IsA(UsdGeom.Mesh):
        mesh_prim = surface  # the surface the parts approximate (no collider itself)
    if mesh_prim is None:
        raise StageError(twin_path, f"object {object_prim} has no collision mesh child")
    material_prim = stage.GetPrimAtPath(f"{object_prim}/collisionParts/part_000") if parts else mesh_prim
    body = _world_matrix(prim)
    scale = np.linalg.norm(body[:3, :3], axis=0)
    rotation = body[:3, :3] / scale
    mesh = UsdGeom.Mesh(mesh_prim)
    local = _world_matrix(mesh_prim)
    vertices_world = np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float64) @ local[:3, :3].T + local[:3, 3]
    vertices_body = (vertices_world - body[:3, 3]) @ rotation
    faces = np.asarray(mesh.GetFaceVertexIndicesAttr().Get(), dtype=np.int64).reshape(-1, 3)
    mass = read_object_mass(stage, object_prim)
    mass_api = UsdPhysics.MassAPI(prim)
    moments = np.asarray(mass_api.GetDiagonalInertiaAttr().Get() or (0.0, 0.0, 0.0), dtype=np.float64)
    axes_quat = mass_api.GetPrincipalAxesAttr().Get()
    if np.any(moments <= 0):
        # No authored inertia: a solid box of the mesh's extent and this mass.
        extent = vertices_body.max(0) - vertices_body.min(0)
        squared = extent**2
        moments = mass.mass_kg / 12.0 * (squared.sum() - squared)
        axes = np.eye(3)
    else:
        from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: PLC0415

        axes = quat_wxyz_to_matrix([axes_quat.GetReal(), *axes_quat.GetImaginary()])
        stored_mass = float(mass_api.GetMassAttr().Get() or mass.mass_kg)
        moments = moments * mass.mass_kg / stored_mass
    inertia = axes @ np.diag(moments) @ axes.T
    table = _table_height(stage, object_prim, body[:2, 3], float(vertices_world[:, 2].min()) + 1e-3)
    if table is None:
        table = float(vertices_world[:, 2].min())
        logger.warning("no static collider under %s; the table top is taken at the object's lowest point", object_prim)
    robot_prim = find_robot_root(stage)
    if robot_prim is None:
        if require_robot:
            raise StageError(twin_path, "has no robot (no prim with UsdPhysics.ArticulationRootAPI); import one first")
        robot_base, robot_yaw = np.zeros(3), 0.0
        robot_prim = ""
    else:
        names = _descendant_names(stage.GetPrimAtPath(robot_prim))
        missing = [link for link in REQUIRED_LINKS if link not in names]
        if missing and require_robot:
            raise StageError(twin_path, f"robot {robot_prim} lacks the links {missing} the Panda tasks need")
        robot_pose = _world_matrix(stage.GetPrimAtPath(robot_prim))
        robot_base = robot_pose[:3, 3]
        robot_yaw = float(np.arctan2(robot_pose[1, 0], robot_pose[0, 0]))
    return TwinScene(
        twin_path=twin_path.resolve(),
        object_prim=object_prim,
        object_position=body[:3, 3].copy(),
        object_quat_wxyz=matrix_to_quat_wxyz(rotation),
        object_vertices=vertices_body,
        object_faces=faces,
        object_inertia=inertia,
        mass=mass,
        friction=_friction(stage, material_prim or mesh_prim),
        table_height=float(table),
        robot_prim=robot_prim,
        robot_base=np.asarray(robot_base, dtype=np.float64),
        robot_yaw_rad=robot_yaw,
        object_parts=parts,
    )


def _descendant_names(prim: Any) -> set[str]:
    from pxr import Usd  # noqa: PLC0415

    return {p.GetName() for p in Usd.PrimRange(prim)}
