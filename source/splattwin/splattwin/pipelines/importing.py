"""Import runners: Gaussian splats and meshes from files into a twin's own layers.

Each runner validates everything before the stage is touched, authors into one sublayer inside
:func:`~splattwin.usd.stage.edit_twin` (which saves atomically or discards), and records the frame the prim
landed in (:mod:`splattwin.usd.frames`). An import into an aligned twin is brought into the aligned frame
(docs/frames.md). Mesh code (trimesh, scipy) is imported inside :func:`import_mesh` only, so ``import-splat``
never pays for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError
from splattwin.geometry.transforms import matrix_to_quat_wxyz
from splattwin.pipelines._common import import_frame, same_source_warnings, source_to_world
from splattwin.pipelines._units import units_findings
from splattwin.usd.bodies import CollisionApproximation
from splattwin.usd.foreign import is_usd_file, read_foreign_gaussians, read_foreign_mesh
from splattwin.usd.frames import FRAME_KEY, to_custom_data
from splattwin.usd.prims import check_new_prim_path, check_prim_path_syntax, world_to_parent
from splattwin.usd.stage import TwinStage, edit_twin

if TYPE_CHECKING:
    from splattwin.mesh import MeshCleaningConfig

__all__ = [
    "COLLIDERS",
    "ImportMeshConfig",
    "ImportMeshResult",
    "ImportSplatConfig",
    "ImportSplatResult",
    "author_mesh_prim",
    "import_mesh",
    "check_collider_options",
    "decompose_for_body",
    "import_splat",
]

logger = logging.getLogger(__name__)

SCENE_CLEANING_OPTIONS = {"min_component_fraction": 1e-4, "min_component_extent_fraction": 1e-3}
"""Cleaning of static scenery: only pieces under 0.01% of the largest one's faces or 0.1% of the scene's size
are floaters, so table legs and small fixtures stay."""


def __getattr__(name: str) -> Any:
    # SCENE_CLEANING is a MeshCleaningConfig, built on first use so importing this module loads no mesh code.
    if name == "SCENE_CLEANING":
        from splattwin.mesh import MeshCleaningConfig  # noqa: PLC0415

        return MeshCleaningConfig(**SCENE_CLEANING_OPTIONS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(kw_only=True)
class ImportSplatConfig:
    """``splattwin import-splat``: a Gaussian file into a twin.

    Attributes:
        source: the .ply (3DGS), .spz or .splat file.
        stage: the twin's root layer; created when missing, extended when it exists.
        prim: absolute path of the new particle-field prim, below /World.
        up_axis: the source's up axis (x, y, z, -x, -y, -z); turned onto world +z.
        scale: metres per source unit, applied after the axis change.
        metric: the source is already z-up metres in the twin's aligned frame: an aligned twin's recorded
            alignment is not applied (without it, an import into an aligned twin is taken in reconstruction
            units and brought into the aligned frame).
        replace: replace an existing prim at ``prim`` instead of refusing.
        force: with ``replace``, also remove a person's root-layer edits of that prim.
        from_prim: for a USD source, the ParticleField3DGaussianSplat prim to import (default: the only one).
            A USD source's ``upAxis``, ``metersPerUnit`` and the prim's transform are honoured.
        spz_frame: for an ``.spz`` source, the axes it stores (:data:`splattwin.io.spz.SPZ_FRAMES`): ``rub``
            (the SPZ spec's, turned into a PLY's RDF) or ``rdf`` (taken as stored); None is
            :data:`~splattwin.io.spz.DEFAULT_SPZ_FRAME`. Refused for other sources.
    """

    source: Path
    stage: Path
    prim: str = "/World/Scene/Splat"
    up_axis: str = "z"
    scale: float = 1.0
    metric: bool = False
    replace: bool = False
    force: bool = False
    from_prim: str | None = None
    spz_frame: str | None = None

    def validate(self) -> None:
        """Check the options that need no file access."""
        from splattwin.io import GAUSSIAN_SUFFIXES  # noqa: PLC0415
        from splattwin.io.spz import SPZ_FRAMES  # noqa: PLC0415

        _check_suffix(self.source, GAUSSIAN_SUFFIXES, "Gaussian")
        source_to_world(up_axis=self.up_axis, scale=self.scale)
        check_prim_path_syntax(self.prim)
        _check_from_prim(self.source, self.from_prim)
        if self.spz_frame is not None and Path(self.source).suffix.lower() != ".spz":
            raise InputError("--spz-frame", f"only applies to an .spz source, not {Path(self.source).name}")
        if self.spz_frame is not None and self.spz_frame not in SPZ_FRAMES:
            raise InputError("--spz-frame", f"must be one of {', '.join(SPZ_FRAMES)}, got {self.spz_frame!r}")


@dataclass
class ImportSplatResult:
    """What an import did: the prim, its layer, the Gaussian count and SH degree."""

    prim: str
    layer: str
    count: int
    sh_degree: int
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _check_suffix(source: Path, suffixes: tuple[str, ...], what: str) -> None:
    """One line naming every suffix an import verb reads, USD included (the readers know only their own)."""
    suffix = Path(source).suffix.lower()
    if suffix not in suffixes and not is_usd_file(source):
        known = ", ".join((*suffixes, ".usd", ".usda", ".usdc"))
        raise InputError(source, f"unsupported {what} file suffix {suffix or '(none)'!r}; supported: {known}")


def _check_from_prim(source: Path, from_prim: str | None) -> None:
    if from_prim is not None and not is_usd_file(source):
        raise InputError("--from-prim", f"only applies to a USD source (.usd, .usda, .usdc), not {Path(source).name}")
    if from_prim is not None and not str(from_prim).startswith("/"):
        raise InputError("--from-prim", f"{from_prim!r} must start with / (an absolute prim path, e.g. /nv)")


def _define_missing_ancestors(twin: TwinStage, prim_path: str) -> None:
    from pxr import Sdf, UsdGeom  # noqa: PLC0415

    for prefix in Sdf.Path(prim_path).GetPrefixes()[:-1]:
        if not twin.stage.GetPrimAtPath(prefix):
            UsdGeom.Xform.Define(twin.stage, prefix)


def author_mesh_prim(
    twin: TwinStage,
    prim: str,
    mesh: Any,
    material: Any,
    *,
    dynamic: bool,
    custom_data: dict[str, Any],
    mass_kg: float | None = None,
    mass_provenance: dict[str, Any] | None = None,
    mass_body: Any = None,
    approximation: CollisionApproximation | None = None,
    decompose: tuple[int, float] | None = None,
    source: object = "mesh",
) -> list[str]:
    """Author a cleaned mesh (world frame [m]) at ``prim``: a static collider, or a rigid body of ``mass_kg`` whose
    centre of mass and inertia come from ``mass_body`` (default the mesh itself). Call inside the caller's
    ``twin.edit_layer``; missing ancestors become Xforms. ``approximation`` is the collider (default: none for a
    static mesh, the convex hull for a body); ``decompose`` = (part budget, CoACD threshold) gives a body convex
    parts instead (:func:`decompose_for_body`; ``source`` is named in its errors). Shared by ``import-mesh`` and
    ``extract-mesh``. Returns notes (the decomposition's fit)."""
    from splattwin.usd.bodies import define_physics_material, define_rigid_object, define_static_collider  # noqa: PLC0415

    to_parent = world_to_parent(twin, prim)
    _define_missing_ancestors(twin, prim)
    shade = define_physics_material(twin.stage, material)
    if not dynamic:
        define_static_collider(
            twin.stage,
            prim,
            to_parent.apply_points(mesh.vertices),
            mesh.faces,
            shade,
            approximation=approximation or CollisionApproximation.NONE,
            custom_data=custom_data,
        )
        return []
    if abs(to_parent.scale - 1.0) > 1e-9:
        raise InputError(prim, "a dynamic body cannot sit below a scaled Xform; unscale its parents")
    mass_body = mesh if mass_body is None else mass_body
    centre = np.asarray(mass_body.center_mass, dtype=np.float64)
    inertia = np.asarray(mass_body.moment_inertia, dtype=np.float64) * (mass_kg / mass_body.mass)
    parts, parts_provenance, notes = None, None, []
    if decompose is not None:
        parts, parts_provenance, note = decompose_for_body(
            mesh.vertices - centre, mesh.faces, max_parts=decompose[0], threshold=decompose[1], source=source
        )
        notes.append(note)
    define_rigid_object(
        twin.stage,
        prim,
        position=to_parent.apply_points(centre),
        quat_wxyz=matrix_to_quat_wxyz(to_parent.rotation),
        vertices_body=mesh.vertices - centre,
        faces=mesh.faces,
        material=shade,
        mass_kg=mass_kg,
        inertia_body=inertia,
        mass_provenance=to_custom_data(mass_provenance or {}),
        approximation=approximation or CollisionApproximation.CONVEX_HULL,
        custom_data=custom_data,
        parts=parts,
        parts_provenance=to_custom_data(parts_provenance) if parts_provenance else None,
    )
    return notes


COLLIDERS = ("hull", "decompose")
"""A dynamic body's collider choices (``--collider``)."""


def check_collider_options(collider: str, *, dynamic: bool, max_parts: int, threshold: float) -> None:
    """Refuse a ``--collider`` choice, part budget or threshold out of range (import-mesh and extract-mesh)."""
    if collider not in COLLIDERS:
        raise InputError("--collider", f"unknown {collider!r}; use one of {', '.join(COLLIDERS)}")
    if collider == "decompose" and not dynamic:
        raise InputError(
            "--collider", "decompose only applies to a --dynamic body (static scenery keeps its triangles)"
        )
    if not (isinstance(max_parts, int) and max_parts >= 1):
        raise InputError("--max-parts", f"must be an integer >= 1, got {max_parts}")
    if not (np.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise InputError("--threshold", f"CoACD's concavity threshold must be in (0, 1], got {threshold}")


def decompose_for_body(
    vertices_body: np.ndarray, faces: np.ndarray, *, max_parts: int, threshold: float, source: object
) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, Any], str]:
    """Convex parts of a body's collision mesh (body frame), their provenance record and a note saying the fit."""
    from splattwin.mesh.decompose import decompose_convex  # noqa: PLC0415

    result = decompose_convex(vertices_body, faces, threshold=threshold, max_parts=max_parts, source=source)
    fit = result.fit
    count = len(result.parts)
    note = (
        f"collider: {count} convex part{'' if count == 1 else 's'} ({result.library} {result.library_version}, "
        f"threshold {result.threshold:g}); surface to parts max {1000 * fit.surface_to_parts_max:.2f} mm (mean "
        f"{1000 * fit.surface_to_parts_mean:.2f}), parts to surface max {1000 * fit.parts_to_surface_max:.2f} mm"
    )
    return [(p.vertices, p.faces) for p in result.parts], result.provenance(), note


def _layer_for(twin: TwinStage, prim_path: str, default: str) -> str:
    """Gaussians of a rigid body go to the body's layer; everything else to ``default``."""
    from pxr import Sdf, UsdPhysics  # noqa: PLC0415

    for prefix in reversed(Sdf.Path(prim_path).GetPrefixes()[:-1]):
        prim = twin.stage.GetPrimAtPath(prefix)
        if prim and prim.HasAPI(UsdPhysics.RigidBodyAPI):
            return twin.layer_of(str(prefix)) or default
    return default


def import_splat(config: ImportSplatConfig) -> ImportSplatResult:
    """Read a Gaussian file, move it into the world (then the parent prim's) frame and author it."""
    from splattwin.io import read_gaussians  # noqa: PLC0415
    from splattwin.usd.splats import define_gaussians_prim  # noqa: PLC0415

    config.validate()
    source = config.source
    spz_notes: list[str] = []
    if is_usd_file(config.source):
        gaussians, prim_path = read_foreign_gaussians(config.source, config.from_prim)
        source = f"{config.source}#{prim_path}"
    elif Path(config.source).suffix.lower() == ".spz":
        gaussians, note = _read_spz_with_frame(config.source, config.spz_frame)
        spz_notes.append(note)
    else:
        gaussians = read_gaussians(config.source)
    with edit_twin(config.stage) as twin:
        check_new_prim_path(twin, config.prim, replace=config.replace, force=config.force)
        frame = import_frame(twin, source=source, up_axis=config.up_axis, scale=config.scale, metric=config.metric)
        warnings = frame.warnings + same_source_warnings(twin, source, config.prim)
        if len(gaussians):
            world_means = frame.to_twin.apply_points(gaussians.means.astype(np.float64))
            low, high = np.percentile(world_means, [1, 99], axis=0)
            warnings += units_findings(what=str(config.source), size_m=float((high - low).max()), splat=True)[0]
        to_parent = frame.to_twin.then(world_to_parent(twin, config.prim))
        if not to_parent.is_identity():
            gaussians = to_parent.apply_gaussians(gaussians)
        layer = _layer_for(twin, config.prim, "scene")
        with twin.edit_layer(layer):
            _define_missing_ancestors(twin, config.prim)
            define_gaussians_prim(twin.stage, config.prim, gaussians, custom_data={FRAME_KEY: frame.record})
        claim_notes = _reapply_claims(twin, config.prim, warnings)
    logger.info("imported %d Gaussians from %s into %s (%s layer)", len(gaussians), config.source, config.prim, layer)
    return ImportSplatResult(
        prim=config.prim,
        layer=layer,
        count=len(gaussians),
        sh_degree=gaussians.sh_degree,
        notes=spz_notes + frame.notes + claim_notes,
        warnings=warnings,
    )


def _reapply_claims(twin: TwinStage, prim: str, warnings: list[str]) -> list[str]:
    """Bodies that claimed Gaussians from ``prim`` take theirs from the new splat (pipelines/claim.py)."""
    from splattwin.usd.splats import claims_from  # noqa: PLC0415

    if not claims_from(twin.stage, prim):
        return []
    from splattwin.pipelines.claim import reapply_claims  # noqa: PLC0415 - mesh-inside tests only when needed

    notes, found = reapply_claims(twin, prim)
    warnings += found
    return notes


def _read_spz_with_frame(source: Path, spz_frame: str | None) -> tuple[Any, str]:
    """Read an SPZ file in the asked (or default) frame; the note says which was applied and how to change it."""
    from splattwin.io.spz import DEFAULT_SPZ_FRAME, SPZ_FRAME_WRITERS, read_spz  # noqa: PLC0415

    frame = spz_frame or DEFAULT_SPZ_FRAME
    gaussians = read_spz(source, frame=frame)
    other = "rdf" if frame == "rub" else "rub"
    how = "turned to a PLY's RDF axes (y and z negated)" if frame == "rub" else "taken as stored (a PLY's axes)"
    given = f"--spz-frame {frame}" if spz_frame else f"the default --spz-frame {frame}"
    note = (
        f"SPZ axes: read as {frame.upper()} ({given}, as {SPZ_FRAME_WRITERS[frame]} write), {how}; "
        f"a file from {SPZ_FRAME_WRITERS[other]} needs --spz-frame {other}"
    )
    return gaussians, note


@dataclass(kw_only=True)
class ImportMeshConfig:
    """``splattwin import-mesh``: a mesh file into a twin as static scenery or a dynamic rigid object.

    Attributes:
        source: .obj, .ply, .stl, .glb or .gltf.
        stage: the twin's root layer; created when missing.
        prim: absolute path of the new prim, below /World.
        dynamic: a rigid body (``RigidBodyAPI``, ``MassAPI``, convex collider) instead of static scenery.
        material: physics material name from :data:`splattwin.mesh.MATERIALS` (friction, density).
        mass: mass in kg; None takes a prior from the cleaned mesh's volume x the material's density.
        up_axis: the source's up axis, turned onto world +z.
        scale: metres per source unit.
        metric: the source is already z-up metres (see :class:`ImportSplatConfig`).
        replace: replace an existing prim at ``prim`` instead of refusing.
        force: import a dynamic body beyond the units hard limits (size, mass); with ``replace``, also remove a
            person's root-layer edits of the replaced prim.
        from_prim: for a USD source, the ``UsdGeom.Mesh`` prim to import (default: the only one); the file's
            ``upAxis``, ``metersPerUnit`` and the prim's transform are honoured.
        approximation: collision approximation; None picks ``none`` (the triangles) for static scenery and
            ``convexHull`` for dynamic objects.
        cleaning: mesh-cleaning options; None picks :data:`SCENE_CLEANING` for static scenery (a whole-scene
            mesh holds small real parts, only tiny blobs are floaters) and the defaults for a single object.
        collider: a dynamic body's colliders: ``hull`` (the ``collision`` mesh with a convex approximation) or
            ``decompose`` (convex parts by CoACD, :func:`splattwin.mesh.decompose.decompose_convex`, as
            ``collisionParts/part_<k>``; the ``collision`` mesh stays as the surface, no collider).
        max_parts: with ``decompose``, the most parts; a mesh needing more is refused.
        threshold: with ``decompose``, CoACD's concavity threshold in (0, 1] (smaller: closer fit, more parts).
    """

    source: Path
    stage: Path
    prim: str
    dynamic: bool = False
    material: str = "wood"
    mass: float | None = None
    up_axis: str = "z"
    scale: float = 1.0
    approximation: str | None = None
    cleaning: MeshCleaningConfig | None = None
    metric: bool = False
    replace: bool = False
    force: bool = False
    from_prim: str | None = None
    collider: str = "hull"
    max_parts: int = 32
    threshold: float = 0.05

    def validate(self) -> None:
        """Check the options that need no file access."""
        from splattwin.mesh.load import SUPPORTED_MESH_SUFFIXES  # noqa: PLC0415
        from splattwin.mesh.materials import get_material  # noqa: PLC0415

        _check_suffix(self.source, SUPPORTED_MESH_SUFFIXES, "mesh")
        source_to_world(up_axis=self.up_axis, scale=self.scale)
        check_prim_path_syntax(self.prim)
        _check_from_prim(self.source, self.from_prim)
        try:
            get_material(self.material)
        except InputError as exc:
            raise InputError("--material", exc.problem) from None
        if self.mass is not None and not (np.isfinite(self.mass) and self.mass > 0):
            raise InputError("--mass", f"must be a finite mass in kg > 0, got {self.mass}")
        if self.mass is not None and not self.dynamic:
            raise InputError("--mass", "only applies to a --dynamic object (static scenery has no mass)")
        if self.approximation is not None:
            try:
                CollisionApproximation(self.approximation)
            except ValueError:
                choices = ", ".join(a.value for a in CollisionApproximation)
                raise InputError("--approximation", f"unknown {self.approximation!r}; use one of {choices}") from None
            if self.dynamic and self.approximation == CollisionApproximation.NONE.value:
                raise InputError("--approximation", "a dynamic body needs a convex approximation, not 'none'")
        check_collider_options(self.collider, dynamic=self.dynamic, max_parts=self.max_parts, threshold=self.threshold)
        if self.collider == "decompose" and self.approximation is not None:
            raise InputError("--approximation", "does not apply with --collider decompose (the parts are convex hulls)")
        self.resolved_cleaning().validate()

    def resolved_cleaning(self) -> MeshCleaningConfig:
        """The cleaning options in force."""
        from splattwin.mesh import MeshCleaningConfig  # noqa: PLC0415

        if self.cleaning is not None:
            return self.cleaning
        return MeshCleaningConfig() if self.dynamic else MeshCleaningConfig(**SCENE_CLEANING_OPTIONS)


@dataclass
class ImportMeshResult:
    """What a mesh import did."""

    prim: str
    layer: str
    dynamic: bool
    report: dict[str, Any]
    mass_kg: float | None = None
    mass_kind: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def import_mesh(config: ImportMeshConfig) -> ImportMeshResult:
    """Load, transform into the twin's frame, clean and validate a mesh, then author a collider or a rigid body."""
    from splattwin.mesh import clean_mesh, get_material, load_mesh, validate_mesh  # noqa: PLC0415

    config.validate()
    material = get_material(config.material)
    source = config.source
    if is_usd_file(config.source):
        import trimesh  # noqa: PLC0415

        foreign = read_foreign_mesh(config.source, config.from_prim)
        mesh = trimesh.Trimesh(vertices=foreign.vertices, faces=foreign.faces, process=False)
        source = f"{config.source}#{foreign.prim}"
    else:
        mesh = load_mesh(config.source)
    layer = "objects" if config.dynamic else "scene"
    with edit_twin(config.stage) as twin:
        lost = _claims_replaced(twin, config.prim) if config.replace else []
        check_new_prim_path(twin, config.prim, replace=config.replace, force=config.force)
        placed = import_frame(twin, source=source, up_axis=config.up_axis, scale=config.scale, metric=config.metric)
        warnings = lost + placed.warnings + same_source_warnings(twin, source, config.prim)
        mesh.apply_transform(placed.to_twin.matrix())
        cleaned, report = clean_mesh(mesh, config=config.resolved_cleaning(), source=config.source)
        # A mass prior needs the closed volume; a given --mass does not (the convex hull then gives the centre of
        # mass and the inertia's shape, as it gives the collider).
        validate_mesh(cleaned, source=config.source, require_watertight=config.dynamic and config.mass is None)
        mass_body = cleaned
        if config.dynamic and report.boundary_edges:
            mass_body = cleaned.convex_hull
            warnings.append(
                f"{config.source}: the mesh is open ({report.boundary_edges} boundary edges): its centre of mass and "
                f"inertia come from its convex hull, with the given --mass {config.mass:g} kg"
            )
        frame = {FRAME_KEY: placed.record, "splattwin:meshCleaning": to_custom_data(report.to_dict())}
        size_m = float(np.max(cleaned.extents))
        mass_kg, provenance = (None, None)
        if config.dynamic:
            # An open mesh has no volume: only a prior (no --mass) reads it, and that needs a closed mesh.
            volume = cleaned.volume if config.mass is None else float("nan")
            mass_kg, provenance = _mass_and_provenance(config, volume, material.name)
        found, refusals = units_findings(
            what=str(config.source),
            size_m=size_m,
            mass_kg=mass_kg,
            mass_given=config.mass is not None,
            dynamic=config.dynamic,
            distance_m=float(np.linalg.norm(cleaned.bounds.mean(axis=0))),
        )
        warnings += found
        if refusals and not config.force:
            raise InputError(config.source, refusals[0])
        with twin.edit_layer(layer):
            placed.notes += author_mesh_prim(
                twin, config.prim, cleaned, material, dynamic=config.dynamic, custom_data=frame, mass_kg=mass_kg,
                mass_provenance=provenance, mass_body=mass_body,
                approximation=CollisionApproximation(config.approximation) if config.approximation else None,
                decompose=(config.max_parts, config.threshold) if config.collider == "decompose" else None,
                source=config.source,
            )  # fmt: skip
            if not config.dynamic:
                return ImportMeshResult(
                    prim=config.prim,
                    layer=layer,
                    dynamic=False,
                    report=report.to_dict(),
                    notes=placed.notes,
                    warnings=warnings,
                )
    logger.info("imported %s as a rigid body of %.4g kg (%s)", config.source, mass_kg, provenance["kind"])
    return ImportMeshResult(
        prim=config.prim,
        layer=layer,
        dynamic=True,
        report=report.to_dict(),
        mass_kg=mass_kg,
        mass_kind=provenance["kind"],
        notes=placed.notes,
        warnings=warnings,
    )


def _claims_replaced(twin: TwinStage, prim: str) -> list[str]:
    """Warnings for claimed Gaussians below a prim ``--replace`` removes (docs/guarantees.md, "Claimed Gaussians")."""
    from splattwin.usd.splats import claimed_below  # noqa: PLC0415

    return [
        f"--replace {prim}: {claimed} went with it (not drawn any more); re-import the scene splat with --replace "
        "and claim again to give the new body its Gaussians"
        for claimed in claimed_below(twin.stage, prim)
    ]


def _mass_and_provenance(config: ImportMeshConfig, volume_m3: float, material: str) -> tuple[float, dict[str, Any]]:
    from splattwin.mesh import mass_prior  # noqa: PLC0415

    if config.mass is not None:
        return float(config.mass), {"kind": "user", "method": "given at import", "source": str(config.source)}
    prior = mass_prior(volume_m3, material)
    return prior.mass_kg, prior.provenance(
        note="a prior, not an identified value: physics identification replaces it in physics.usda"
    )
