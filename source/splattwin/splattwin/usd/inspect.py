"""Describe a twin: its layers and what each holds, splats, meshes, bodies with mass provenance, cameras, frames.

Any other USD stage is described too (:func:`describe_stage`): its metadata, splats, meshes and bodies, with
the stage's own layer stack in place of the twin's named layers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError
from splattwin.usd.cameras import DISTORTION_KEY, camera_from_usd_prim, stored_image_size
from splattwin.usd.frames import ALIGNMENT_KEY, read_alignment, read_frame_state, similarity_from_list
from splattwin.usd.prims import world_matrix
from splattwin.usd.stage import LAYER_NAMES, TwinStage

__all__ = ["describe_stage", "describe_twin"]


def _prim_specs(layer: Any) -> list[str]:
    paths: list[str] = []
    layer.Traverse(layer.pseudoRoot.path, lambda p: paths.append(str(p)) if p.IsPrimPath() else None)
    return paths


def _strongest_layer(twin: TwinStage, attr: Any) -> str | None:
    """Name of the twin layer holding the strongest opinion of ``attr`` (``root`` for the person's layer)."""
    names = {layer.identifier: name for name, layer in twin.layers.items()}
    names[twin.root_layer.identifier] = "root"
    for spec in attr.GetPropertyStack():
        if spec.HasDefaultValue():
            return names.get(spec.layer.identifier, spec.layer.identifier)
    return None


def _frame(prim: Any, alignment: Any = None) -> dict[str, Any] | None:
    """The prim's frame state (docs/frames.md): where its data is, where it was imported, how."""
    state = read_frame_state(prim, twin_alignment=alignment)
    if state is None:
        return None
    transform = state.source_to_world
    return {
        "source": state.source,
        "state": state.state,
        "imported_in": state.imported_in,
        "import_up_axis": state.import_up_axis,
        "import_scale": state.import_scale,
        "metric": state.metric,
        "scale": transform.scale,
        "matrix": transform.matrix().tolist(),
    }


def describe_twin(twin: TwinStage) -> dict[str, Any]:
    """A JSON-friendly description of the twin (what ``splattwin inspect`` prints)."""
    layers = []
    for name in LAYER_NAMES:
        path = twin.layer_path(name)
        specs = _prim_specs(twin.layers[name])
        layers.append(
            {
                "name": name,
                "file": str(path),
                "bytes": path.stat().st_size if path.exists() else 0,
                "prim_specs": len(specs),
            }
        )
    return _describe(twin.stage, str(twin.root_path), layers, twin)


def describe_stage(stage: Any, path: str) -> dict[str, Any]:
    """A JSON-friendly description of any USD stage (not a twin): the same keys as :func:`describe_twin`.

    ``layers`` lists the stage's own layer stack (root first) by file; ``twin`` is False.
    """
    layers = []
    for layer in stage.GetLayerStack(includeSessionLayers=False):
        file = layer.realPath or layer.identifier
        layers.append(
            {
                "name": layer.GetDisplayName(),
                "file": file,
                "bytes": Path(file).stat().st_size if file and Path(file).is_file() else 0,
                "prim_specs": len(_prim_specs(layer)),
            }
        )
    return _describe(stage, path, layers, None)


def _layer_name(twin: TwinStage | None, stage: Any, path: str) -> str:
    if twin is not None:
        return twin.layer_of(path) or "root"
    for layer in stage.GetLayerStack(includeSessionLayers=False):
        if layer.GetPrimAtPath(path):
            return layer.GetDisplayName()
    return "?"


def _describe(stage: Any, root: str, layers: list[dict[str, Any]], twin: TwinStage | None) -> dict[str, Any]:
    from pxr import UsdGeom, UsdPhysics, UsdShade, UsdVol  # noqa: PLC0415

    alignment_transform = read_alignment(stage)
    splats, meshes, bodies, cameras = [], [], [], []
    for prim in stage.Traverse():
        path = str(prim.GetPath())
        if prim.IsA(UsdGeom.Camera):
            cameras.append(_describe_camera(stage, prim, _layer_name(twin, stage, path)))
        if prim.IsA(UsdVol.ParticleField3DGaussianSplat):
            field = UsdVol.ParticleField3DGaussianSplat(prim)
            positions = field.GetPositionsAttr().Get()
            extent = field.GetExtentAttr().Get()
            splats.append(
                {
                    "prim": path,
                    "layer": _layer_name(twin, stage, path),
                    "count": len(positions) if positions is not None else 0,
                    "sh_degree": int(field.GetRadianceSphericalHarmonicsDegreeAttr().Get() or 0),
                    "extent": np.asarray(extent).tolist() if extent is not None else None,
                    "frame": _frame(prim, alignment_transform),
                }
            )
        elif prim.IsA(UsdGeom.Mesh):
            mesh = UsdGeom.Mesh(prim)
            points = mesh.GetPointsAttr().Get()
            counts = mesh.GetFaceVertexCountsAttr().Get()
            material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial("physics")
            approximation = UsdPhysics.MeshCollisionAPI(prim).GetApproximationAttr().Get()
            meshes.append(
                {
                    "prim": path,
                    "layer": _layer_name(twin, stage, path),
                    "points": len(points) if points is not None else 0,
                    "faces": len(counts) if counts is not None else 0,
                    "collider": prim.HasAPI(UsdPhysics.CollisionAPI),
                    "approximation": str(approximation) if approximation else None,
                    "material": str(material.GetPath()) if material else None,
                    "frame": _frame(prim, alignment_transform),
                }
            )
        if prim.HasAPI(UsdPhysics.RigidBodyAPI):
            mass_attr = UsdPhysics.MassAPI(prim).GetMassAttr()
            provenance = mass_attr.GetCustomDataByKey("splattwin:provenance") if mass_attr else None
            position = world_matrix(prim)[:3, 3]
            bodies.append(
                {
                    "prim": path,
                    "layer": _layer_name(twin, stage, path),
                    "mass_kg": float(mass_attr.Get()) if mass_attr and mass_attr.HasAuthoredValue() else None,
                    "mass_layer": _strongest_layer(twin, mass_attr) if mass_attr and twin else None,
                    "mass_provenance": dict(provenance) if provenance else None,
                    "position": position.tolist(),
                    "frame": _frame(prim, alignment_transform),
                }
            )
    world = stage.GetPrimAtPath("/World")
    alignment = world.GetCustomDataByKey(ALIGNMENT_KEY) if world else None
    frame = None
    if alignment:
        transform = similarity_from_list(alignment["worldFromReconstruction"])
        steps = alignment.get("steps", {})
        table = alignment.get("tableFit")
        frame = {
            "scale": transform.scale,
            "matrix": transform.matrix().tolist(),
            "steps": [steps[k].get("name", k) for k in sorted(steps)],
            "up_axis_applied": str(alignment.get("upAxisApplied", "")),
            "scale_applied": bool(alignment.get("scaleApplied", False)),
            "composed": int(alignment.get("composed", 0)),
            "table_fit": (
                {
                    "tilt_deg": float(table["tiltDeg"]),
                    "rmse": float(table["rmse"]),
                    "inliers": int(table.get("inliers", 0)),
                    "inlier_fraction": float(table.get("inlierFraction", 0.0)),
                }
                if table
                else None
            ),
        }
    return {
        "stage": root,
        "twin": twin is not None,
        "up_axis": UsdGeom.GetStageUpAxis(stage),
        "meters_per_unit": UsdGeom.GetStageMetersPerUnit(stage),
        "kilograms_per_unit": UsdPhysics.GetStageKilogramsPerUnit(stage),
        "default_prim": str(stage.GetDefaultPrim().GetPath()) if stage.GetDefaultPrim() else None,
        "layers": layers,
        "splats": splats,
        "meshes": meshes,
        "bodies": bodies,
        "cameras": cameras,
        "alignment": frame,
    }


def _describe_camera(stage: Any, prim: Any, layer: str) -> dict[str, Any]:
    """A camera's image size, intrinsics [px] and position as ``render --camera`` would use them.

    A camera without a stored image size (authored elsewhere, not imported) is listed with its size unknown; one
    whose attributes are impossible is listed with the problem, as ``render`` would refuse it.
    """
    path = str(prim.GetPath())
    size = stored_image_size(prim)
    entry: dict[str, Any] = {"prim": path, "layer": layer, "width": None, "height": None, "K": None}
    entry["position"] = world_matrix(prim)[:3, 3].tolist()
    entry["distortion"] = dict(prim.GetCustomDataByKey(DISTORTION_KEY) or {}) or None
    entry["problem"] = None if size is not None else "no stored image size: render --camera needs --size WxH"
    if size is not None:
        try:
            camera = camera_from_usd_prim(stage, path)
        except InputError as error:
            entry["problem"] = error.problem
        else:
            entry.update(width=camera.width, height=camera.height, K=np.asarray(camera.K).tolist())
    return entry
