"""Identified physical parameters in the twin's ``physics`` layer, and the one reader everything else uses.

Identification writes into ``physics.usda`` (stronger than ``objects.usdc``, where imports put the prior), so
re-importing an object never loses an identified mass and deleting the layer's opinion restores the prior:

- ``physics:mass`` (``UsdPhysics.MassAPI``) = the identified mass;
- ``physics:diagonalInertia`` rescaled by ``identified / previous`` mass (same shape, same density scaling);
- ``customData["splattwin:provenance"]`` on the mass attribute: ``kind = "identified"``, ``method``, ``loss``,
  ``uncertaintyKg`` (1 sigma), ``relativeUncertainty``, ``priorKg``, ``logs``, ``version``, ``note``.

:func:`read_mass` is the public reader (the Isaac Lab tasks condition their policies on it)::

    mass, sigma, source, provenance = read_mass(stage, "/World/Objects/Block")
    # source: "identified" (sigma from the fit), "prior" (sigma = relative prior uncertainty x mass),
    # or "given" (typed in by a person at import; sigma None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import StageError

if TYPE_CHECKING:
    from pxr import Usd

    from splattwin.usd.stage import TwinStage

__all__ = ["PROVENANCE_KEY", "read_collision_mesh", "read_mass", "write_identified_mass"]

PROVENANCE_KEY = "splattwin:provenance"


def _body(stage: Usd.Stage, prim_path: str) -> Usd.Prim:
    from pxr import UsdPhysics  # noqa: PLC0415

    prim = stage.GetPrimAtPath(prim_path)
    if not prim or not prim.IsValid():
        raise StageError(stage.GetRootLayer().identifier, f"no prim at {prim_path}")
    if not prim.HasAPI(UsdPhysics.RigidBodyAPI):
        raise StageError(stage.GetRootLayer().identifier, f"{prim_path} is not a rigid body (no RigidBodyAPI)")
    return prim


def read_mass(stage: Usd.Stage, prim_path: str) -> tuple[float, float | None, str, dict[str, Any]]:
    """The mass of a rigid body as the composed stage has it, with where it came from.

    Args:
        stage: an open stage (a twin's composed stage, or any stage using ``UsdPhysics.MassAPI``).
        prim_path: the rigid body prim.

    Returns:
        ``(mass [kg], uncertainty [kg] 1-sigma or None, source, provenance)``; ``source`` is ``"identified"``,
        ``"prior"`` or ``"given"`` (authored without SplatTwin provenance, or typed in at import), and
        ``provenance`` the composed ``customData`` dictionary (empty when none).

    Raises:
        StageError: no such prim, not a rigid body, or no authored mass.
    """
    from pxr import UsdPhysics  # noqa: PLC0415

    prim = _body(stage, prim_path)
    attr = UsdPhysics.MassAPI(prim).GetMassAttr()
    if not attr or not attr.HasAuthoredValue():
        raise StageError(stage.GetRootLayer().identifier, f"{prim_path} has no authored physics:mass")
    mass = float(attr.Get())
    provenance = dict(attr.GetCustomDataByKey(PROVENANCE_KEY) or {})
    kind = provenance.get("kind")
    if kind == "identified":
        sigma = provenance.get("uncertaintyKg")
        return mass, (float(sigma) if sigma not in (None, "") else None), "identified", provenance
    if kind == "prior":
        relative = provenance.get("relativeUncertainty")
        return mass, (mass * float(relative) if relative not in (None, "") else None), "prior", provenance
    return mass, None, "given", provenance


def read_collision_mesh(stage: Usd.Stage, prim_path: str) -> tuple[np.ndarray, np.ndarray]:
    """The collision mesh of a rigid body in its body frame: vertices [V, 3] (metres), triangles [F, 3].

    Takes the body's ``collision`` child mesh (the import's; with convex parts it is the surface they approximate,
    no collider itself: :func:`splattwin.usd.bodies.read_collision_parts` reads the parts), else the first
    ``UsdGeom.Mesh`` with ``CollisionAPI`` under the body, in the body frame (its own local transform applied).

    Raises:
        StageError: no collision mesh, or a mesh that is not made of triangles.
    """
    from pxr import Usd, UsdGeom, UsdPhysics  # noqa: PLC0415

    from splattwin.usd.bodies import triangles_in_body_frame  # noqa: PLC0415

    body = _body(stage, prim_path)
    surface = body.GetChild("collision")
    candidates = [surface] if surface and surface.IsA(UsdGeom.Mesh) else []
    for prim in [*candidates, *Usd.PrimRange(body)]:
        if prim in candidates or (prim.IsA(UsdGeom.Mesh) and prim.HasAPI(UsdPhysics.CollisionAPI)):
            return triangles_in_body_frame(prim, body)
    raise StageError(stage.GetRootLayer().identifier, f"{prim_path} has no collision mesh (CollisionAPI) under it")


def write_identified_mass(
    twin: TwinStage,
    prim_path: str,
    *,
    mass_kg: float,
    uncertainty_kg: float | None,
    method: str,
    loss: float,
    logs: list[str],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Author an identified mass as a stronger opinion in the twin's ``physics`` layer.

    Args:
        twin: a twin open for editing (``with edit_twin(path) as twin``).
        prim_path: the rigid body.
        mass_kg: identified mass > 0.
        uncertainty_kg: 1-sigma uncertainty [kg] or None.
        method: how it was identified (e.g. ``"warp push simulation, bracketed log-mass search"``).
        loss: final loss of the fit.
        logs: the push logs used.
        extra: more provenance entries (contact stiffness, friction...).

    Returns:
        The provenance written.

    Raises:
        StageError: no such rigid body, or a mass that is not finite and positive.
    """
    from pxr import Gf, Sdf, UsdPhysics  # noqa: PLC0415

    import splattwin  # noqa: PLC0415
    from splattwin.usd.frames import to_custom_data  # noqa: PLC0415

    if not (np.isfinite(mass_kg) and mass_kg > 0):
        raise StageError(twin.root_path, f"identified mass must be finite and > 0, got {mass_kg}")
    previous, _, previous_source, _ = read_mass(twin.stage, prim_path)
    inertia_attr = UsdPhysics.MassAPI(twin.stage.GetPrimAtPath(prim_path)).GetDiagonalInertiaAttr()
    inertia = inertia_attr.Get() if inertia_attr and inertia_attr.HasAuthoredValue() else None
    relative = None if uncertainty_kg is None else float(uncertainty_kg) / float(mass_kg)
    provenance = {
        "kind": "identified",
        "method": method,
        "loss": float(loss),
        "uncertaintyKg": "" if uncertainty_kg is None else float(uncertainty_kg),
        "relativeUncertainty": "" if relative is None else relative,
        "priorKg": float(previous),
        "priorSource": previous_source,
        "logs": [str(p) for p in logs],
        "version": splattwin.__version__,
        "note": "identified from robot pushes by differentiable simulation; remove this opinion from "
        "physics.usda to return to the prior",
        **(extra or {}),
    }
    with twin.edit_layer("physics") as stage, Sdf.ChangeBlock():
        prim = stage.OverridePrim(prim_path)
        api = UsdPhysics.MassAPI(prim)
        mass_attr = api.CreateMassAttr()
        mass_attr.Set(float(mass_kg))
        mass_attr.SetCustomDataByKey(PROVENANCE_KEY, to_custom_data(provenance))
        if inertia is not None:
            scaled = np.asarray(inertia, dtype=np.float64) * (float(mass_kg) / float(previous))
            api.CreateDiagonalInertiaAttr().Set(Gf.Vec3f(*scaled.tolist()))
    return provenance
