"""Hand a rigid object the Gaussians of a scene splat that lie on it, so they move with the body.

A reconstruction yields one splat for the whole workcell; the object's own Gaussians must live in the body frame
(a child prim of the body) for the USD hierarchy to carry them when the object moves. Which Gaussians are the
object's is decided by the collision mesh itself (inside it, or within a margin of its surface), not by its
convex hull, so a mug's opening or the space under an arch keeps its scene Gaussians. Without a mesh, a picked
point (``--point``) or a box (``--box``) selects them instead: the connected component of the splat's Gaussians
above the table (:func:`splattwin.surfaces.segment.segment_object`, docs/surfaces.md "Segmentation"); then the
body needs no collision mesh.

A claim is recorded on ``<body>/Gaussians`` (``splattwin:claimedFrom``, ``splattwin:claimMargin``) and survives a
new scene splat: an ``import-splat`` at the path a body claimed from (``--replace``, or after ``remove``) applies
every such claim again to the new Gaussians (:func:`reapply_claims`), so each Gaussian is drawn exactly once
(docs/guarantees.md, "Claimed Gaussians"). A segmentation claim records its selection
(``splattwin:claimSelection``: point, box, table, link radius) and is re-applied by segmenting the new splat.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError
from splattwin.geometry.inside import points_in_mesh, winding_numbers_and_distances
from splattwin.usd.prims import check_new_prim_path, check_prim_path_syntax, local_to_world
from splattwin.usd.splats import (
    CLAIM_MARGIN_KEY,
    CLAIMED_FROM_KEY,
    claims_from,
    define_gaussians_prim,
    read_gaussians_prim,
)
from splattwin.usd.stage import TwinStage, edit_twin

__all__ = [
    "CLAIM_SELECTION_KEY",
    "ClaimConfig",
    "claim_gaussians",
    "points_in_convex_hull",
    "points_in_mesh",
    "reapply_claims",
    "winding_numbers",
]

CLAIM_SELECTION_KEY = "splattwin:claimSelection"
"""``customData`` of a body's ``Gaussians`` claimed by segmentation: ``point`` / ``box`` [m], ``table``, ``linkM``."""

_DEFAULT_MARGIN = 0.005  # ClaimConfig.margin's default, taken for a claim made before margins were recorded


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
    point: (x, y, z) in the twin's frame [m]: claim the connected component nearest it instead of the mesh's.
    box: ((xmin, ymin, zmin), (xmax, ymax, zmax)) in the twin's frame [m]: claim the largest component inside
        (with ``point``: the point's component, inside the box).
    table: with a point or box: "auto" (the table under the selection), "none", or its height [m].
    link: with a point or box: the segmentation's link radius [m]; None: from the Gaussians' scales.
    """

    stage: Path
    splat: str
    body: str
    margin: float = 0.005
    point: tuple[float, float, float] | None = None
    box: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    table: str | float = "auto"
    link: float | None = None

    def selection(self) -> dict[str, Any] | None:
        """The segmentation selection (as recorded in ``splattwin:claimSelection``), or None: claim by the mesh."""
        if self.point is None and self.box is None:
            return None
        record: dict[str, Any] = {"table": self.table if isinstance(self.table, str) else float(self.table)}
        if self.point is not None:
            record["point"] = [float(v) for v in self.point]
        if self.box is not None:
            record["box"] = [float(v) for corner in self.box for v in corner]
        if self.link is not None:
            record["linkM"] = float(self.link)
        return record

    def validate(self) -> None:
        """Check the options."""
        if not (np.isfinite(self.margin) and self.margin >= 0):
            raise InputError("--margin", f"must be a finite distance >= 0 in metres, got {self.margin}")
        if self.point is not None:
            point = np.asarray(self.point, dtype=np.float64)
            if point.shape != (3,) or not np.isfinite(point).all():
                raise InputError("--point", "needs three finite numbers X Y Z (metres)")
        if self.box is not None:
            lo, hi = (np.asarray(c, dtype=np.float64) for c in self.box)
            if lo.shape != (3,) or hi.shape != (3,) or not (np.isfinite(lo).all() and np.isfinite(hi).all()):
                raise InputError("--box", "needs six finite numbers: xmin ymin zmin xmax ymax zmax (metres)")
            if not np.all(hi > lo):
                raise InputError("--box", f"max corner {hi.tolist()} must exceed min corner {lo.tolist()}")
        if self.link is not None and not (np.isfinite(self.link) and self.link > 0):
            raise InputError("--link", f"must be a distance > 0 in metres, got {self.link}")
        check_prim_path_syntax(self.splat, "--splat")
        check_prim_path_syntax(self.body, "--body")


def claim_gaussians(config: ClaimConfig) -> int:
    """Move the Gaussians inside the body's collision mesh (+ margin) into ``<body>/Gaussians``; returns the count."""
    config.validate()
    with edit_twin(config.stage, create=False) as twin:
        return _claim(twin, config.splat, config.body, config.margin, selection=config.selection())


def reapply_claims(twin: TwinStage, splat: str) -> tuple[list[str], list[str]]:
    """Apply again, to the (new) splat at ``splat``, every claim bodies made from that path; returns (notes, warnings).

    Each such body's ``Gaussians`` are replaced by the new splat's Gaussians on it (same margin), which leave the
    splat. A body the new splat has no Gaussians on keeps its previous ones (a warning says so). Call inside
    :func:`~splattwin.usd.stage.edit_twin`, after authoring the new splat.
    """
    notes, warnings = [], []
    for body in claims_from(twin.stage, splat):
        previous = twin.stage.GetPrimAtPath(f"{body}/Gaussians")
        margin = previous.GetCustomDataByKey(CLAIM_MARGIN_KEY)
        margin = float(margin) if margin is not None else _DEFAULT_MARGIN
        selection = previous.GetCustomDataByKey(CLAIM_SELECTION_KEY)
        selection = dict(selection) if selection else None
        had = len(previous.GetAttribute("positions").Get() or [])
        try:
            count = _claim(twin, splat, body, margin, reclaim=True, selection=selection)
        except InputError as exc:  # e.g. the body lost its collision mesh: say so, import the splat anyway
            warnings.append(
                f"could not re-apply the claim of {body} ({exc.problem}): it keeps its {had} previous Gaussians and "
                f"the new splat keeps its own on it, so that part is drawn twice; remove {body}/Gaussians, then "
                "claim again"
            )
            continue
        if count:
            notes.append(
                f"re-applied the claim of {body} (margin {margin:g} m): {count} Gaussians of the new splat moved "
                f"into {body}/Gaussians, replacing its {had} (each Gaussian is drawn once)"
            )
        else:
            warnings.append(
                f"{splat} has no Gaussians on {body}, which claimed from it: {body} keeps its {had} previous ones"
            )
    return notes, warnings


def _segment(splat: Any, selection: dict[str, Any]) -> np.ndarray:
    """[N] bool: the splat's Gaussians in the component the selection picks (see :func:`segment_object`)."""
    from splattwin.surfaces.segment import segment_object  # noqa: PLC0415

    gaussians = local_to_world(splat).apply_gaussians(read_gaussians_prim(splat))
    box = selection.get("box")
    box = None if box is None else np.asarray(list(box), dtype=np.float64)
    point = selection.get("point")
    segment = segment_object(
        gaussians,
        point=None if point is None else np.asarray(list(point), dtype=np.float64),
        box=None if box is None else (box[:3], box[3:]),
        table=selection.get("table", "auto"),
        link_radius=selection.get("linkM"),
        source="--point" if point is not None else "--box",
    )
    return segment.mask


def _claim(
    twin: TwinStage,
    splat_path: str,
    body_path: str,
    margin: float,
    *,
    reclaim: bool = False,
    selection: dict[str, Any] | None = None,
) -> int:
    """Move the splat's Gaussians on the body into ``<body>/Gaussians`` (replacing them with ``reclaim``); with a
    ``selection``, the segmented component's instead of those in the collision mesh."""
    from pxr import UsdGeom, UsdPhysics, UsdVol  # noqa: PLC0415

    splat = twin.stage.GetPrimAtPath(splat_path)
    if not splat or not splat.IsA(UsdVol.ParticleField3DGaussianSplat):
        raise InputError("--splat", f"{splat_path} is not a Gaussian splat prim in {twin.root_path}")
    body = twin.stage.GetPrimAtPath(body_path)
    if not body or not body.HasAPI(UsdPhysics.RigidBodyAPI):
        raise InputError(body_path, f"is not a rigid body in {twin.root_path}")
    target = f"{body_path}/Gaussians"
    if not reclaim:
        check_new_prim_path(twin, target)
    gaussians = read_gaussians_prim(splat)
    splat_to_body = local_to_world(splat).then(local_to_world(body).inverse())
    if selection is not None:
        inside = _segment(splat, selection)
        return _move(twin, splat, splat_path, target, gaussians, splat_to_body, inside, margin, selection)
    collision = twin.stage.GetPrimAtPath(f"{body_path}/collision")
    if not collision or not collision.IsA(UsdGeom.Mesh):
        raise InputError(body_path, "has no collision mesh child to claim Gaussians with (or give --point / --box)")
    mesh = UsdGeom.Mesh(collision)
    vertices = np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float64)
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get())
    if len(counts) == 0 or not (counts == 3).all():
        raise InputError(body_path, "its collision mesh is not a triangle mesh (as import-mesh writes it)")
    faces = np.asarray(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3)
    # The margin is metres in the world; the body frame has the world's scale (bodies sit below unscaled Xforms).
    inside = points_in_mesh(splat_to_body.apply_points(gaussians.means), vertices, faces, margin=margin)
    return _move(twin, splat, splat_path, target, gaussians, splat_to_body, inside, margin, None)


def _move(
    twin: TwinStage,
    splat: Any,
    splat_path: str,
    target: str,
    gaussians: Any,
    splat_to_body: Any,
    inside: np.ndarray,
    margin: float,
    selection: dict[str, Any] | None,
) -> int:
    """Author the split: the splat keeps ``~inside``, ``target`` (in the body frame) receives ``inside``."""
    body_path = target.rsplit("/", 1)[0]
    count = int(inside.sum())
    if count == 0:
        return 0
    if count == len(gaussians):
        raise InputError(splat_path, f"every Gaussian lies on {body_path}; nothing would be left")
    custom = dict(splat.GetCustomData())
    record: dict[str, Any] = {CLAIMED_FROM_KEY: splat_path, CLAIM_MARGIN_KEY: float(margin)}
    if selection is not None:
        from splattwin.usd.frames import to_custom_data  # noqa: PLC0415

        record[CLAIM_SELECTION_KEY] = to_custom_data(selection)
    with twin.edit_layer(twin.layer_of(splat_path) or "scene"):
        define_gaussians_prim(twin.stage, splat_path, gaussians.subset(~inside), custom_data=custom)
    with twin.edit_layer(twin.layer_of(body_path) or "objects"):
        define_gaussians_prim(
            twin.stage, target, splat_to_body.apply_gaussians(gaussians.subset(inside)), custom_data=record
        )
    return count
