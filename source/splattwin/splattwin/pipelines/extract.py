"""``splattwin extract-mesh``: a collider (or a rigid body) made from a splat alone (Robo-GS, section III-B).

The runner reads the scene splat (and, with ``--object``, a splat prim or a body's claimed Gaussians) in the
twin's frame, finds the region's own table (:func:`splattwin.surfaces.extract.find_table_z`) unless told, runs
:func:`splattwin.surfaces.extract.extract_surface` (ray-Gaussian depth views -> TSDF -> marching cubes), then the
importer's cleaning and validation (:mod:`splattwin.mesh.clean`), the check that the Gaussians back the mesh
(:mod:`splattwin.surfaces.support`: a splat sparse in places is refused there), and authors the mesh as
``import-mesh`` does: a static collider in the scene layer or, with ``--dynamic``, a rigid body with a volume x
density mass prior in the objects layer. Everything is computed before the stage is edited; an error leaves every
file untouched.

Provenance: the prim's ``customData`` ``splattwin:extraction`` says what it was extracted from (splat, object or
region), the voxel size and band, the views and their depth estimate, the table cut, the support check's shares
(``support``); ``splattwin:frame`` is the splat's
own frame record, so ``align`` and ``align --invert`` move the mesh with the splat it came from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError
from splattwin.pipelines._units import units_findings
from splattwin.pipelines.importing import author_mesh_prim
from splattwin.usd.frames import FRAME_KEY, to_custom_data
from splattwin.usd.prims import check_new_prim_path, check_prim_path_syntax, local_to_world
from splattwin.usd.stage import TwinStage, edit_twin

__all__ = ["EXTRACTION_KEY", "ExtractMeshConfig", "ExtractMeshResult", "extract_mesh"]

logger = logging.getLogger(__name__)

EXTRACTION_KEY = "splattwin:extraction"
"""customData key of an extracted mesh's provenance."""

_OBJECT_MARGIN_M = 0.01  # an --object's region: its Gaussians' bounds grown by this
_TABLE_SEARCH_M = 0.05  # the scene around an --object searched for its table: this much wider and lower


@dataclass(kw_only=True)
class ExtractMeshConfig:
    """``splattwin extract-mesh`` options.

    Attributes:
        stage: the twin's root layer (must exist).
        splat: the scene's Gaussian splat prim.
        prim: the new prim (a static collider, or with ``dynamic`` a rigid body).
        region: (min corner, max corner) in the twin's frame [m]; or None.
        object: a splat prim or a rigid body with claimed ``Gaussians``: extract those; or None.
        mask_images: a folder of posed masks (a transforms.json with ``mask_path``, or a COLMAP model and
            ``masks/``): the object is what is inside every mask; its cameras are the fusion's views
            (:mod:`splattwin.surfaces.masks`, docs/surfaces.md).
        voxel: TSDF voxel edge [m].
        band_voxels: TSDF truncation band [voxels]: 1 (the default) keeps convex edges of a dense splat tight; a
            sparse one, whose rays slip between Gaussians and carve its inside, needs 2 (docs/surfaces.md).
        views: number of virtual views.
        depth: "RD" (expected ray-Gaussian depth, default), "MD" (median) or "ED" (expected centre depth).
        table: "auto" (the region's own table), "none", or a height [m] to cut below.
        dynamic: a rigid body with a mass prior instead of static scenery.
        material: physics material (friction, density of the prior).
        replace, force: as ``import-mesh``.
        collider, max_parts, threshold: a dynamic body's colliders, as ``import-mesh --collider``.
    """

    stage: Path
    splat: str
    prim: str
    region: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    object: str | None = None
    point: tuple[float, float, float] | None = None
    mask_images: Path | None = None
    voxel: float = 0.002
    band_voxels: float = 1.0
    views: int = 40
    depth: str = "RD"
    table: str | float = "auto"
    dynamic: bool = False
    material: str = "wood"
    replace: bool = False
    force: bool = False
    collider: str = "hull"
    max_parts: int = 32
    threshold: float = 0.05

    def validate(self) -> None:
        """Check the options that need no stage."""
        from splattwin.mesh.materials import get_material  # noqa: PLC0415

        if self.mask_images is not None and (self.region, self.object, self.point) != (None, None, None):
            raise InputError(
                "--mask-images", "selects the object by itself; give it without --region, --object, --point"
            )
        if self.region is not None and self.object is not None:
            raise InputError("--object", "give either --region or --object, not both")
        if self.point is not None:
            if self.object is not None:
                raise InputError("--point", "give either --point or --object, not both")
            point = np.asarray(self.point, dtype=np.float64)
            if point.shape != (3,) or not np.isfinite(point).all():
                raise InputError("--point", "needs three finite numbers X Y Z (metres)")
        check_prim_path_syntax(self.splat, "--splat")
        check_prim_path_syntax(self.prim, "--out-prim")
        if self.object is not None:
            check_prim_path_syntax(self.object, "--object")
        if self.region is not None:
            lo, hi = (np.asarray(c, dtype=np.float64) for c in self.region)
            if lo.shape != (3,) or hi.shape != (3,) or not (np.isfinite(lo).all() and np.isfinite(hi).all()):
                raise InputError("--region", "needs six finite numbers: xmin ymin zmin xmax ymax zmax (metres)")
            if not np.all(hi > lo):
                raise InputError("--region", f"max corner {hi.tolist()} must exceed min corner {lo.tolist()}")
        if isinstance(self.table, str) and self.table not in ("auto", "none"):
            raise InputError("--table", f"must be auto, none or a height in metres, got {self.table!r}")
        if not isinstance(self.table, str) and not np.isfinite(self.table):
            raise InputError("--table", f"must be a finite height in metres, got {self.table}")
        try:
            get_material(self.material)
        except InputError as exc:
            raise InputError("--material", exc.problem) from None
        from splattwin.pipelines.importing import check_collider_options  # noqa: PLC0415

        check_collider_options(self.collider, dynamic=self.dynamic, max_parts=self.max_parts, threshold=self.threshold)
        self.extraction_config("--region").validate()

    def extraction_config(self, source: str) -> Any:
        """The :class:`~splattwin.surfaces.extract.ExtractionConfig` of these options."""
        from splattwin.surfaces.extract import ExtractionConfig  # noqa: PLC0415

        return ExtractionConfig(
            voxel_m=self.voxel, views=self.views, depth_mode=self.depth, trunc_voxels=self.band_voxels, source=source
        )


@dataclass
class ExtractMeshResult:
    """What an extraction made: the prim, its layer, mesh report, mass (dynamic), the extraction's record."""

    prim: str
    layer: str
    dynamic: bool
    report: dict[str, Any]
    provenance: dict[str, Any]
    volume_m3: float
    mass_kg: float | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _world_gaussians(twin: TwinStage, path: str, flag: str) -> tuple[Any, Any]:
    """(the splat prim at ``path``, or a body's ``Gaussians`` child; its Gaussians in the world frame)."""
    from pxr import UsdVol  # noqa: PLC0415

    from splattwin.usd.splats import read_gaussians_prim  # noqa: PLC0415

    prim = twin.stage.GetPrimAtPath(path)
    if prim and not prim.IsA(UsdVol.ParticleField3DGaussianSplat):
        prim = twin.stage.GetPrimAtPath(f"{path}/Gaussians")
        if not prim or not prim.IsA(UsdVol.ParticleField3DGaussianSplat):
            raise InputError(flag, f"{path} is neither a Gaussian splat prim nor a body with claimed Gaussians")
    if not prim:
        raise InputError(flag, f"no prim at {path} in {twin.root_path}")
    gaussians = read_gaussians_prim(prim)
    return prim, local_to_world(prim).apply_gaussians(gaussians)


def extract_mesh(config: ExtractMeshConfig) -> ExtractMeshResult:
    """Extract, clean, validate and author a mesh from the twin's Gaussians (see the module docstring)."""
    from splattwin.mesh import MeshCleaningConfig, clean_mesh, get_material, mass_prior, validate_mesh  # noqa: PLC0415
    from splattwin.surfaces.extract import extract_surface, find_table_z  # noqa: PLC0415
    from splattwin.surfaces.support import surface_support, validate_surface  # noqa: PLC0415

    config.validate()
    material = get_material(config.material)
    layer = "objects" if config.dynamic else "scene"
    with edit_twin(config.stage, create=False) as twin:
        check_new_prim_path(twin, config.prim, replace=config.replace, force=config.force)
        splat_prim, scene = _world_gaussians(twin, config.splat, "--splat")
        if config.object is not None:
            _, target = _world_gaussians(twin, config.object, "--object")
            if len(target) == 0:
                raise InputError("--object", f"{config.object} holds no Gaussians")
            lo = target.means.min(axis=0) - _OBJECT_MARGIN_M
            hi = target.means.max(axis=0) + _OBJECT_MARGIN_M
            search_lo = lo - _TABLE_SEARCH_M
            search_hi = np.array([*(hi[:2] + _TABLE_SEARCH_M), hi[2]])
            source, what = "--object", config.object
        elif config.mask_images is not None:
            from splattwin.pipelines.cameras import read_mask_views  # noqa: PLC0415
            from splattwin.surfaces.masks import masked_region, render_views  # noqa: PLC0415

            views = read_mask_views(twin, config.mask_images, splat=config.splat)
            seen = render_views(scene, views.cameras, mode=config.depth)
            lo, hi, selected = masked_region(scene, views.cameras, views.masks, *seen, names=views.names)
            lo, hi = lo - _OBJECT_MARGIN_M, hi + _OBJECT_MARGIN_M
            search_lo = lo - _TABLE_SEARCH_M
            search_hi = np.array([*(hi[:2] + _TABLE_SEARCH_M), hi[2]])
            target = scene
            source, what = "--mask-images", f"the masks in {config.mask_images}"
        elif config.point is not None:
            from splattwin.surfaces.segment import segment_object  # noqa: PLC0415

            box = None if config.region is None else tuple(np.asarray(c, dtype=np.float64) for c in config.region)
            segment = segment_object(
                scene, point=np.asarray(config.point, dtype=np.float64), box=box, table=config.table
            )
            target = scene.subset(segment.mask)
            lo, hi = segment.lo - _OBJECT_MARGIN_M, segment.hi + _OBJECT_MARGIN_M
            search_lo, search_hi = lo, hi
            source, what = "--point", f"the component of {config.splat} at {[round(v, 4) for v in config.point]}"
        else:
            target = scene
            if config.region is None:
                lo, hi = scene.means.min(axis=0), scene.means.max(axis=0)
            else:
                lo, hi = (np.asarray(c, dtype=np.float64) for c in config.region)
            search_lo, search_hi = lo, hi
            source, what = "--region", config.splat
        if config.table == "auto" and config.point is not None:
            table_z = segment.table_z
        elif config.table == "auto":
            table_z = find_table_z(scene, search_lo, search_hi)
        elif config.table == "none":
            table_z = None
        else:
            table_z = float(config.table)
        if config.mask_images is not None:
            from splattwin.surfaces.masks import fuse_masked_views  # noqa: PLC0415

            extracted = fuse_masked_views(
                *seen, views.masks, views.cameras, lo, hi, config=config.extraction_config(source), table_z=table_z,
                gaussians_used=len(scene),
            )  # fmt: skip
        else:
            extracted = extract_surface(target, lo, hi, config=config.extraction_config(source), table_z=table_z)
        cleaned, report = clean_mesh(extracted.mesh, config=MeshCleaningConfig(), source=source)
        validate_mesh(cleaned, source=source, require_watertight=True)
        # A splat sparse in places: the mesh checked against the Gaussians themselves, before anything is written.
        backing = scene.subset(selected) if config.mask_images is not None else extracted.region
        support = surface_support(cleaned, backing, voxel_m=config.voxel, table_z=table_z)
        support_warnings = validate_surface(
            support, what=what if config.splat in what else f"{what} ({config.splat})", voxel_m=config.voxel,
            source=source,
        )  # fmt: skip
        provenance = {
            "extractedFrom": what,
            "splat": config.splat,
            "method": "TSDF fusion of rendered depth, marching cubes (docs/surfaces.md)",
            "depth": config.depth,
            "voxelM": float(config.voxel),
            "views": int(extracted.views),
            "imagePx": int(extracted.image_px),
            "gaussians": int(extracted.gaussians_used),
            "regionMin": [float(v) for v in lo],
            "regionMax": [float(v) for v in hi],
            "tableCut": "none" if table_z is None else f"{table_z:.5f}",
            "tableFrom": config.table if isinstance(config.table, str) else "given",
            "bandVoxels": float(config.band_voxels),
            "support": {
                "unbackedShare": support.unbacked_share,
                "missingShare": support.missing_share,
                "extraShare": support.extra_share,
                "referenceVolumeM3": support.reference_volume_m3,
            },
        }
        if config.mask_images is not None:
            provenance["masks"] = str(views.source)
            provenance["method"] = "TSDF fusion of rendered depth from the masks' cameras, outside the masks carved"
        custom: dict[str, Any] = {
            EXTRACTION_KEY: to_custom_data(provenance),
            "splattwin:meshCleaning": to_custom_data(report.to_dict()),
        }
        frame = splat_prim.GetCustomDataByKey(FRAME_KEY) or twin.stage.GetPrimAtPath(config.splat).GetCustomDataByKey(
            FRAME_KEY
        )
        if frame:
            custom[FRAME_KEY] = dict(frame)
        volume = float(cleaned.volume)
        mass_kg, prior = None, None
        if config.dynamic:
            prior = mass_prior(volume, material.name)
            mass_kg = prior.mass_kg
        warnings, refusals = units_findings(
            what=f"the mesh extracted from {what}",
            size_m=float(np.max(cleaned.extents)),
            mass_kg=mass_kg,
            dynamic=config.dynamic,
            distance_m=float(np.linalg.norm(cleaned.bounds.mean(axis=0))),
        )
        if refusals and not config.force:
            raise InputError(source, refusals[0])
        warnings = support_warnings + warnings
        with twin.edit_layer(layer):
            notes = author_mesh_prim(
                twin, config.prim, cleaned, material, dynamic=config.dynamic, custom_data=custom, mass_kg=mass_kg,
                mass_provenance=None if prior is None else prior.provenance(
                    source=f"mesh extracted from {what}",
                    note="a prior, not an identified value: physics identification replaces it",
                ),
                decompose=(config.max_parts, config.threshold) if config.collider == "decompose" else None,
                source=config.prim,
            )  # fmt: skip
        if config.mask_images is not None:
            notes = views.notes + notes
    logger.info("extracted %s from %s: %d faces, %.4g m^3", config.prim, what, len(cleaned.faces), volume)
    return ExtractMeshResult(
        prim=config.prim,
        layer=layer,
        dynamic=config.dynamic,
        report=report.to_dict(),
        provenance=provenance,
        volume_m3=volume,
        mass_kg=mass_kg,
        warnings=warnings,
        notes=notes,
    )
