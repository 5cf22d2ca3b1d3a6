"""Collision geometry and rigid bodies with UsdPhysics: static scenery, dynamic objects, physics materials.

- Static scenery: a ``UsdGeom.Mesh`` with ``CollisionAPI`` and ``MeshCollisionAPI`` (approximation ``none``,
  the triangle mesh itself, which PhysX allows for static colliders).
- Dynamic object: an Xform at the body pose (origin at the centre of mass) with ``RigidBodyAPI`` and
  ``MassAPI`` (mass, centre of mass, principal inertia), whose child ``collision`` mesh carries
  ``CollisionAPI`` + ``MeshCollisionAPI`` with a convex approximation (PhysX cannot simulate a dynamic triangle
  mesh), in the body frame.
- Dynamic object with convex parts (``import-mesh --collider decompose``): the ``collision`` mesh keeps the
  object's surface (what ``claim`` and mass identification read) but is no collider; the colliders are
  ``<body>/collisionParts/part_<k>``, each a ``UsdGeom.Mesh`` (purpose ``guide``) with ``CollisionAPI`` +
  ``MeshCollisionAPI`` approximation ``convexHull``, the physics material bound; the Scope carries the
  decomposition's provenance in ``customData["splattwin:decomposition"]`` (library, version, threshold, part
  count, fit). :func:`read_collision_parts` reads them back for every consumer (the embedded runtime, sysid).
- Both bind a physics material (``UsdShade.Material`` + ``UsdPhysics.MaterialAPI``: friction, restitution,
  density) under :data:`PHYSICS_MATERIALS_PATH` with the ``physics`` binding purpose.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.geometry.transforms import matrix_to_quat_wxyz

if TYPE_CHECKING:
    from pxr import Usd, UsdGeom, UsdShade

    from splattwin.mesh.materials import PhysicsMaterial

__all__ = [
    "PHYSICS_MATERIALS_PATH",
    "CollisionApproximation",
    "define_mesh",
    "define_physics_material",
    "define_rigid_object",
    "define_static_collider",
    "principal_inertia",
    "read_collision_parts",
    "triangles_in_body_frame",
]

PHYSICS_MATERIALS_PATH = "/World/PhysicsMaterials"
PARTS_SCOPE = "collisionParts"
"""Name of the Scope under a body holding its convex collision parts."""
DECOMPOSITION_KEY = "splattwin:decomposition"
"""``customData`` key of the parts Scope: the decomposition's provenance."""


class CollisionApproximation(StrEnum):
    """``physics:approximation`` tokens of ``UsdPhysics.MeshCollisionAPI``."""

    NONE = "none"
    CONVEX_HULL = "convexHull"
    CONVEX_DECOMPOSITION = "convexDecomposition"
    MESH_SIMPLIFICATION = "meshSimplification"
    BOUNDING_CUBE = "boundingCube"
    BOUNDING_SPHERE = "boundingSphere"


def define_physics_material(stage: Usd.Stage, material: PhysicsMaterial) -> UsdShade.Material:
    """Author (or re-author) the physics material ``material.name`` under :data:`PHYSICS_MATERIALS_PATH`."""
    from pxr import UsdGeom, UsdPhysics, UsdShade  # noqa: PLC0415

    UsdGeom.Scope.Define(stage, PHYSICS_MATERIALS_PATH)
    shade = UsdShade.Material.Define(stage, f"{PHYSICS_MATERIALS_PATH}/{material.name}")
    api = UsdPhysics.MaterialAPI.Apply(shade.GetPrim())
    api.CreateStaticFrictionAttr().Set(float(material.static_friction))
    api.CreateDynamicFrictionAttr().Set(float(material.dynamic_friction))
    api.CreateRestitutionAttr().Set(float(material.restitution))
    api.CreateDensityAttr().Set(float(material.density_kg_m3))
    return shade


def define_mesh(
    stage: Usd.Stage, prim_path: str, vertices: np.ndarray, faces: np.ndarray, *, double_sided: bool = False
) -> UsdGeom.Mesh:
    """Author a triangle mesh: vertices [V, 3] (metres, prim frame), faces [F, 3] vertex indices."""
    from pxr import UsdGeom, Vt  # noqa: PLC0415

    vertices = np.ascontiguousarray(vertices, dtype=np.float32)
    faces = np.ascontiguousarray(faces, dtype=np.int32)
    mesh = UsdGeom.Mesh.Define(stage, prim_path)
    mesh.CreatePointsAttr().Set(Vt.Vec3fArray.FromNumpy(vertices))
    mesh.CreateFaceVertexCountsAttr().Set(Vt.IntArray.FromNumpy(np.full(len(faces), 3, np.int32)))
    mesh.CreateFaceVertexIndicesAttr().Set(Vt.IntArray.FromNumpy(faces.reshape(-1)))
    mesh.CreateExtentAttr().Set(Vt.Vec3fArray.FromNumpy(np.stack([vertices.min(0), vertices.max(0)])))
    mesh.CreateSubdivisionSchemeAttr().Set(UsdGeom.Tokens.none)
    mesh.CreateDoubleSidedAttr().Set(double_sided)
    return mesh


def _bind_physics_material(prim: Usd.Prim, material: UsdShade.Material) -> None:
    from pxr import UsdShade  # noqa: PLC0415

    UsdShade.MaterialBindingAPI.Apply(prim).Bind(material, UsdShade.Tokens.weakerThanDescendants, "physics")


def _collider(mesh: UsdGeom.Mesh, approximation: CollisionApproximation, material: UsdShade.Material) -> None:
    from pxr import UsdPhysics  # noqa: PLC0415

    UsdPhysics.CollisionAPI.Apply(mesh.GetPrim())
    UsdPhysics.MeshCollisionAPI.Apply(mesh.GetPrim()).CreateApproximationAttr().Set(
        CollisionApproximation(approximation).value
    )
    _bind_physics_material(mesh.GetPrim(), material)


def define_static_collider(
    stage: Usd.Stage,
    prim_path: str,
    vertices: np.ndarray,
    faces: np.ndarray,
    material: UsdShade.Material,
    *,
    approximation: CollisionApproximation = CollisionApproximation.NONE,
    custom_data: dict[str, Any] | None = None,
) -> UsdGeom.Mesh:
    """Static scenery: a collision mesh that never moves (vertices in world frame, metres)."""
    mesh = define_mesh(stage, prim_path, vertices, faces, double_sided=True)
    _collider(mesh, approximation, material)
    for key, value in (custom_data or {}).items():
        mesh.GetPrim().SetCustomDataByKey(key, value)
    return mesh


def principal_inertia(inertia: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Principal moments [3] (kg m^2, ascending) and the rotation [3, 3] whose columns are the principal axes."""
    moments, axes = np.linalg.eigh(np.asarray(inertia, dtype=np.float64))
    if np.linalg.det(axes) < 0:
        axes[:, 2] *= -1
    return moments, axes


def define_rigid_object(
    stage: Usd.Stage,
    prim_path: str,
    *,
    position: np.ndarray,
    quat_wxyz: np.ndarray,
    vertices_body: np.ndarray,
    faces: np.ndarray,
    material: UsdShade.Material,
    mass_kg: float,
    inertia_body: np.ndarray,
    mass_provenance: dict[str, Any],
    approximation: CollisionApproximation = CollisionApproximation.CONVEX_HULL,
    custom_data: dict[str, Any] | None = None,
    parts: list[tuple[np.ndarray, np.ndarray]] | None = None,
    parts_provenance: dict[str, Any] | None = None,
) -> Usd.Prim:
    """A dynamic rigid body whose frame origin is its centre of mass.

    Args:
        stage: stage at the edit target to author into.
        prim_path: the body Xform's path; the collision mesh becomes ``<prim_path>/collision``.
        position: body origin in the parent frame [3], metres.
        quat_wxyz: body orientation in the parent frame [4].
        vertices_body: collision mesh vertices [V, 3] in the body frame, metres.
        faces: triangles [F, 3].
        material: the bound physics material.
        mass_kg: mass > 0 written to ``physics:mass``.
        inertia_body: inertia tensor [3, 3] about the centre of mass in the body frame, kg m^2.
        mass_provenance: ``customData`` of ``physics:mass`` saying where the value came from (``kind``: ``prior``,
            ``user`` or ``identified``, method, uncertainty...).
        approximation: convex approximation of the collision mesh.
        custom_data: extra ``customData`` for the body prim.
        parts: convex collision parts, each (vertices [V, 3] body frame [m], triangles [F, 3]); when given they
            are the colliders (``collisionParts/part_<k>``, ``convexHull``) and the ``collision`` mesh is the
            surface only (no ``CollisionAPI``), ``approximation`` then unused.
        parts_provenance: ``customData`` of the parts Scope (the decomposition's library, version, threshold...).

    Returns:
        The body prim.
    """
    from pxr import Gf, UsdGeom, UsdPhysics  # noqa: PLC0415

    body = UsdGeom.Xform.Define(stage, prim_path)
    body.AddTranslateOp().Set(Gf.Vec3d(*np.asarray(position, dtype=np.float64).tolist()))
    w, x, y, z = np.asarray(quat_wxyz, dtype=np.float64).tolist()
    body.AddOrientOp().Set(Gf.Quatf(w, x, y, z))
    prim = body.GetPrim()
    UsdPhysics.RigidBodyAPI.Apply(prim)
    mass_api = UsdPhysics.MassAPI.Apply(prim)
    mass_attr = mass_api.CreateMassAttr()
    mass_attr.Set(float(mass_kg))
    mass_attr.SetCustomDataByKey("splattwin:provenance", mass_provenance)
    mass_api.CreateCenterOfMassAttr().Set(Gf.Vec3f(0.0, 0.0, 0.0))
    moments, axes = principal_inertia(inertia_body)
    mass_api.CreateDiagonalInertiaAttr().Set(Gf.Vec3f(*moments.tolist()))
    qw, qx, qy, qz = matrix_to_quat_wxyz(axes).tolist()
    mass_api.CreatePrincipalAxesAttr().Set(Gf.Quatf(qw, qx, qy, qz))
    mesh = define_mesh(stage, f"{prim_path}/collision", vertices_body, faces)
    if parts:
        _define_parts(stage, prim_path, parts, material, parts_provenance or {})
        mesh.GetPrim().SetCustomDataByKey("splattwin:collider", f"surface only; the colliders are {PARTS_SCOPE}/")
    else:
        _collider(mesh, approximation, material)
    for key, value in (custom_data or {}).items():
        prim.SetCustomDataByKey(key, value)
    return prim


def _define_parts(
    stage: Usd.Stage,
    prim_path: str,
    parts: list[tuple[np.ndarray, np.ndarray]],
    material: UsdShade.Material,
    provenance: dict[str, Any],
) -> None:
    from pxr import UsdGeom  # noqa: PLC0415

    scope = UsdGeom.Scope.Define(stage, f"{prim_path}/{PARTS_SCOPE}")
    scope.GetPrim().SetCustomDataByKey(DECOMPOSITION_KEY, provenance)
    for k, (vertices, faces) in enumerate(parts):
        mesh = define_mesh(stage, f"{prim_path}/{PARTS_SCOPE}/part_{k:03d}", vertices, faces)
        mesh.CreatePurposeAttr().Set(UsdGeom.Tokens.guide)
        _collider(mesh, CollisionApproximation.CONVEX_HULL, material)


def read_collision_parts(stage: Usd.Stage, prim_path: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """A rigid body's convex collision parts in its body frame, or ``[]`` when it has none (a single collider).

    Args:
        stage: an open stage.
        prim_path: the rigid body prim.

    Returns:
        One (vertices [V, 3] body frame [m], triangles [F, 3]) per ``Mesh`` with ``CollisionAPI`` under
        ``<body>/collisionParts``, in name order, each part's own transform applied.

    Raises:
        StageError: a part that is not a triangle mesh.
    """
    from pxr import UsdGeom, UsdPhysics  # noqa: PLC0415

    body = stage.GetPrimAtPath(prim_path)
    scope = body.GetChild(PARTS_SCOPE) if body else None
    if not scope:
        return []
    return [
        triangles_in_body_frame(prim, body)
        for prim in sorted(scope.GetChildren(), key=lambda p: p.GetName())
        if prim.IsA(UsdGeom.Mesh) and prim.HasAPI(UsdPhysics.CollisionAPI)
    ]


def triangles_in_body_frame(prim: Usd.Prim, body: Usd.Prim) -> tuple[np.ndarray, np.ndarray]:
    """A triangle ``Mesh`` prim below ``body`` as vertices [V, 3] in the body's frame (metres) and triangles [F, 3].

    Raises:
        StageError: the mesh is not made of triangles.
    """
    from pxr import UsdGeom  # noqa: PLC0415

    from splattwin.errors import StageError  # noqa: PLC0415
    from splattwin.usd.prims import world_matrix  # noqa: PLC0415

    mesh = UsdGeom.Mesh(prim)
    points = np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float64)
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get())
    if len(counts) == 0 or (counts != 3).any():
        raise StageError(prim.GetStage().GetRootLayer().identifier, f"{prim.GetPath()} is not a triangle mesh")
    faces = np.asarray(mesh.GetFaceVertexIndicesAttr().Get(), dtype=np.int64).reshape(-1, 3)
    relative = np.linalg.inv(world_matrix(body)) @ world_matrix(prim)
    return points @ relative[:3, :3].T + relative[:3, 3], faces
