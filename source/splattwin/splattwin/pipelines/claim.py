"""Hand a rigid object the Gaussians of a scene splat that lie on it, so they move with the body.

A reconstruction yields one splat for the whole workcell; the object's own Gaussians must live in the body frame
(a child prim of the body) for the USD hierarchy to carry them when the object moves. Which Gaussians are the
object's is decided by the collision mesh itself (inside it, or within a margin of its surface), not by its
convex hull, so a mug's opening or the space under an arch keeps its scene Gaussians.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splattwin.errors import InputError
from splattwin.geometry.inside import points_in_mesh, winding_numbers_and_distances
from splattwin.pipelines._common import check_new_prim_path, check_prim_path_syntax, local_to_world
from splattwin.usd.splats import define_gaussians_prim, read_gaussians_prim
from splattwin.usd.stage import edit_twin

__all__ = ["ClaimConfig", "claim_gaussians", "points_in_convex_hull", "points_in_mesh", "winding_numbers"]


def winding_numbers(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Generalised winding numbers [N] of points [N, 3] for a triangle mesh (see
    :func:`splattwin.geometry.inside.winding_numbers_and_distances`)."""
    return winding_numbers_and_distances(points, vertices, faces, with_distance=False)[0]


def points_in_convex_hull(points: np.ndarray, hull_vertices: np.ndarray, *, margin: float = 0.0) -> np.ndarray:
    """Mask [N] of points [N, 3] inside the convex hull of ``hull_vertices`` [V, 3] grown by ``margin`` (same units).

    The hull's facet planes ``a . x + b <= 0`` come from scipy's Qhull; a concave object claims its concavities
    too, which for Gaussians sitting on its surface is the safe side.
    """
    from scipy.spatial import ConvexHull  # noqa: PLC0415

    equations = ConvexHull(np.asarray(hull_vertices, dtype=np.float64)).equations  # [F, 4], unit normals
    distances = np.asarray(points, dtype=np.float64) @ equations[:, :3].T + equations[:, 3]
    return (distances <= margin).all(axis=1)


@dataclass(kw_only=True)
class ClaimConfig:
    """Attributes:
    stage: the twin's root layer.
    splat: the scene's ParticleField prim to take Gaussians from.
    body: the rigid body (with a ``collision`` mesh child) that receives them as ``<body>/Gaussians``.
    margin: metres outside the collision mesh still counted as the object's surface.
    """

    stage: Path
    splat: str
    body: str
    margin: float = 0.005

    def validate(self) -> None:
        """Check the options."""
        if not (np.isfinite(self.margin) and self.margin >= 0):
            raise InputError("--margin", f"must be a finite distance >= 0 in metres, got {self.margin}")
        check_prim_path_syntax(self.splat, "--splat")
        check_prim_path_syntax(self.body, "--body")


def claim_gaussians(config: ClaimConfig) -> int:
    """Move the Gaussians inside the body's collision mesh (+ margin) into ``<body>/Gaussians``; returns the count."""
    from pxr import UsdGeom, UsdPhysics, UsdVol  # noqa: PLC0415

    config.validate()
    with edit_twin(config.stage, create=False) as twin:
        splat = twin.stage.GetPrimAtPath(config.splat)
        if not splat or not splat.IsA(UsdVol.ParticleField3DGaussianSplat):
            raise InputError("--splat", f"{config.splat} is not a Gaussian splat prim in {config.stage}")
        body = twin.stage.GetPrimAtPath(config.body)
        if not body or not body.HasAPI(UsdPhysics.RigidBodyAPI):
            raise InputError(config.body, f"is not a rigid body in {config.stage}")
        collision = twin.stage.GetPrimAtPath(f"{config.body}/collision")
        if not collision or not collision.IsA(UsdGeom.Mesh):
            raise InputError(config.body, "has no collision mesh child to claim Gaussians with")
        target = f"{config.body}/Gaussians"
        check_new_prim_path(twin, target)
        gaussians = read_gaussians_prim(splat)
        splat_to_body = local_to_world(splat).then(local_to_world(body).inverse())
        mesh = UsdGeom.Mesh(collision)
        vertices = np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float64)
        counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get())
        if len(counts) == 0 or not (counts == 3).all():
            raise InputError(config.body, "its collision mesh is not a triangle mesh (as import-mesh writes it)")
        faces = np.asarray(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3)
        # The margin is metres in the world; the body frame has the world's scale (bodies sit below unscaled Xforms).
        inside = points_in_mesh(splat_to_body.apply_points(gaussians.means), vertices, faces, margin=config.margin)
        count = int(inside.sum())
        if count == 0:
            return 0
        if count == len(gaussians):
            raise InputError(config.splat, f"every Gaussian lies on {config.body}; nothing would be left")
        custom = dict(splat.GetCustomData())
        with twin.edit_layer(twin.layer_of(config.splat) or "scene"):
            define_gaussians_prim(twin.stage, config.splat, gaussians.subset(~inside), custom_data=custom)
        with twin.edit_layer(twin.layer_of(config.body) or "objects"):
            define_gaussians_prim(
                twin.stage,
                target,
                splat_to_body.apply_gaussians(gaussians.subset(inside)),
                custom_data={"splattwin:claimedFrom": config.splat},
            )
    return count
