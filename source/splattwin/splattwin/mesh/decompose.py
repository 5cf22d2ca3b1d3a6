"""Convex decomposition of a closed mesh into convex parts (CoACD), and how well the parts fit the surface.

A dynamic body needs convex colliders (PhysX and MuJoCo collide convex shapes; a dynamic triangle mesh is not
simulated), and the convex hull of an L, a T or a mug fills its concavities: a probe dropped into an L's inner
corner rests on the hull's diagonal face, centimetres above the real faces. CoACD (Wei et al., SIGGRAPH 2022;
the ``coacd`` wheel, which Isaac Lab itself depends on) cuts the mesh into pieces whose hulls each stay within a
concavity ``threshold`` of the surface. Each part returned here is the convex hull of a CoACD piece, recomputed by
trimesh so its triangles are wound outwards.

The fit is measured both ways on area-weighted surface samples, with exact point-triangle distances
(:func:`splattwin.geometry.inside.winding_numbers_and_distances`):

- surface -> parts: how far a point of the object's surface lies outside every part (0 inside one): what the
  parts miss;
- parts -> surface: how far a point of the parts' outer boundary (part faces inside another part are skipped)
  lies from the object's surface: what the parts add (the hull's fill of a concavity shows here).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from splattwin.errors import InputError

__all__ = [
    "DECOMPOSITION_LIBRARY",
    "ConvexDecomposition",
    "ConvexPart",
    "DecompositionFit",
    "decompose_convex",
    "measure_fit",
]

logger = logging.getLogger(__name__)

DECOMPOSITION_LIBRARY = "coacd"
"""The library (PyPI distribution) that cuts the mesh; recorded in the provenance with its version."""

_INSIDE_WINDING = 0.5
_BORDER_FACTOR = 16
"""Samples on the parts per surface sample: their spacing bounds the over-estimate of the distance from a surface
point inside a part to the union's boundary (16 x 4000 over an L of 10 cm: about 1 mm)."""
_ON_SURFACE = 1e-4
"""A part sample this close to another part's surface (relative to the parts' size) lies on a shared cut face."""


@dataclass(frozen=True)
class ConvexPart:
    """One convex part: vertices [V, 3] in the input mesh's frame and unit, triangles [F, 3] wound outwards."""

    vertices: np.ndarray
    faces: np.ndarray


@dataclass(frozen=True)
class DecompositionFit:
    """Distances between the object's surface and the union of the parts (the input's unit, metres here).

    Attributes:
        surface_to_parts_max, surface_to_parts_mean: distance of surface samples outside every part to the
            nearest part (0 for samples inside one).
        parts_to_surface_max, parts_to_surface_mean: distance of samples on the parts' outer boundary to the surface.
        samples: surface samples taken on each side.
    """

    surface_to_parts_max: float
    surface_to_parts_mean: float
    parts_to_surface_max: float
    parts_to_surface_mean: float
    samples: int

    @property
    def max_distance(self) -> float:
        """The larger of the two maxima: the parts' Hausdorff distance to the surface (up to sampling)."""
        return max(self.surface_to_parts_max, self.parts_to_surface_max)

    def to_dict(self) -> dict[str, float]:
        """Plain numbers (for provenance and reports), the combined maximum included."""
        return {**asdict(self), "max_distance": self.max_distance}


@dataclass(frozen=True)
class ConvexDecomposition:
    """The parts of :func:`decompose_convex` with what made them and how well they fit.

    Attributes:
        parts: the convex parts.
        fit: their distances to the surface.
        threshold: CoACD's concavity threshold used.
        max_parts: the part budget.
        library, library_version: who cut the mesh.
        seed: CoACD's random seed.
    """

    parts: list[ConvexPart]
    fit: DecompositionFit
    threshold: float
    max_parts: int
    library: str = DECOMPOSITION_LIBRARY
    library_version: str = ""
    seed: int = 0

    def provenance(self) -> dict[str, object]:
        """``customData`` record of the decomposition (library, version, threshold, part count, fit)."""
        return {
            "library": self.library,
            "version": self.library_version,
            "threshold": float(self.threshold),
            "maxParts": int(self.max_parts),
            "parts": len(self.parts),
            "seed": int(self.seed),
            "fitMaxM": float(self.fit.max_distance),
            "surfaceToPartsMaxM": float(self.fit.surface_to_parts_max),
            "surfaceToPartsMeanM": float(self.fit.surface_to_parts_mean),
            "partsToSurfaceMaxM": float(self.fit.parts_to_surface_max),
            "partsToSurfaceMeanM": float(self.fit.parts_to_surface_mean),
        }


def _library_version() -> str:
    try:
        return version(DECOMPOSITION_LIBRARY)
    except PackageNotFoundError:  # pragma: no cover - run_coacd imported, so the distribution is there
        return "unknown"


def decompose_convex(
    vertices: np.ndarray,
    faces: np.ndarray,
    *,
    threshold: float = 0.05,
    max_parts: int = 32,
    seed: int = 0,
    samples: int = 4000,
    source: object = "mesh",
) -> ConvexDecomposition:
    """Cut a closed triangle mesh into convex parts with CoACD and measure their fit.

    CoACD runs without a cap on the part count, so the concavity ``threshold`` decides the fit; a mesh that needs
    more than ``max_parts`` parts at that threshold is refused (raise the budget, or the threshold for a coarser
    fit) rather than silently merged into worse parts.

    Args:
        vertices: [V, 3], any frame; metres for the fit to read in metres.
        faces: [F, 3] triangles of a closed (watertight) mesh, wound outwards.
        threshold: CoACD's concavity threshold in (0, 1] (relative to the mesh's size; smaller: more parts, closer fit).
        max_parts: the most parts allowed (>= 1).
        seed: CoACD's random seed (its tree search is randomised).
        samples: surface samples per side for :func:`measure_fit`.
        source: the mesh's file or prim, named in errors.

    Returns:
        The parts (each a convex hull in the input's frame), their fit, and the settings.

    Raises:
        InputError: a threshold or budget out of range, or a decomposition needing more than ``max_parts`` parts.
    """
    if not (0.0 < threshold <= 1.0):
        raise InputError("--threshold", f"CoACD's concavity threshold must be in (0, 1], got {threshold}")
    if int(max_parts) < 1:
        raise InputError("--max-parts", f"must be >= 1, got {max_parts}")
    import coacd  # noqa: PLC0415 - the decompose extra: pip install 'splattwin[decompose]'
    import trimesh  # noqa: PLC0415

    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    coacd.set_log_level("error")
    logger.info("%s: convex decomposition of %d triangles (CoACD, threshold %g)", source, len(faces), threshold)
    pieces = coacd.run_coacd(coacd.Mesh(vertices, faces), threshold=float(threshold), max_convex_hull=-1, seed=seed)
    if len(pieces) > max_parts:
        raise InputError(
            source,
            f"convex decomposition needs {len(pieces)} parts at threshold {threshold:g}, more than the budget of "
            f"{max_parts}: raise --max-parts or --threshold (a coarser fit)",
        )
    parts = []
    for piece_vertices, _ in pieces:
        hull = trimesh.convex.convex_hull(np.asarray(piece_vertices, dtype=np.float64))
        parts.append(ConvexPart(np.asarray(hull.vertices, dtype=np.float64), np.asarray(hull.faces, dtype=np.int64)))
    fit = measure_fit(vertices, faces, parts, samples=samples, seed=seed)
    logger.info("%s: %d convex parts, within %.3g of the surface", source, len(parts), fit.max_distance)
    return ConvexDecomposition(
        parts=parts,
        fit=fit,
        threshold=float(threshold),
        max_parts=int(max_parts),
        library_version=_library_version(),
        seed=seed,
    )


def measure_fit(
    vertices: np.ndarray, faces: np.ndarray, parts: list[ConvexPart], *, samples: int = 4000, seed: int = 0
) -> DecompositionFit:
    """Distances between a closed surface (vertices [V, 3], faces [F, 3]) and the boundary of the parts' union.

    ``samples`` area-weighted points (seeded) are drawn on the surface, and 16 times as many on the parts (those
    strictly inside another part, on internal cut faces, are dropped: what is left samples the union's boundary).
    A surface point outside every part gets its exact distance to the nearest part; one inside a part its distance
    to the nearest boundary sample (an over-estimate by at most the sample spacing, under 1 mm for a 10 cm object).
    Boundary points get their exact distance to the surface. A single part equal to the convex hull measures the
    hull's fit (its distance from an L's inner corner shows in ``surface_to_parts_max``).
    """
    import trimesh  # noqa: PLC0415
    from scipy.spatial import cKDTree  # noqa: PLC0415

    from splattwin.geometry.inside import winding_numbers_and_distances  # noqa: PLC0415

    if not parts:
        raise InputError("parts", "no convex parts to measure")
    surface = trimesh.Trimesh(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64), process=False)
    union = trimesh.util.concatenate([trimesh.Trimesh(p.vertices, p.faces, process=False) for p in parts])
    on_parts, face_index = trimesh.sample.sample_surface(union, _BORDER_FACTOR * samples, seed=seed + 1)
    on_parts = np.asarray(on_parts, dtype=np.float64)
    part_of_sample = np.repeat(np.arange(len(parts)), [len(p.faces) for p in parts])[face_index]
    boundary = np.ones(len(on_parts), dtype=bool)
    for i, part in enumerate(parts):
        others = np.flatnonzero(part_of_sample != i)
        if len(others):
            winding, _ = winding_numbers_and_distances(on_parts[others], part.vertices, part.faces, with_distance=False)
            # Strictly inside part i, or on its surface (a cut face two parts share, winding ~1/2): internal.
            winding, distance = winding_numbers_and_distances(on_parts[others], part.vertices, part.faces)
            boundary[others[(winding > _INSIDE_WINDING) | (distance < _ON_SURFACE * union.scale)]] = False
    border = on_parts[boundary]
    on_surface, _ = trimesh.sample.sample_surface(surface, samples, seed=seed)
    on_surface = np.asarray(on_surface, dtype=np.float64)
    outside = np.full(len(on_surface), np.inf)
    inside = np.zeros(len(on_surface), dtype=bool)
    for part in parts:
        winding, distance = winding_numbers_and_distances(on_surface, part.vertices, part.faces)
        inside |= winding > _INSIDE_WINDING
        outside = np.minimum(outside, distance)
    # A surface sample on a part's face (winding ~1/2 by rounding) keeps its exact distance, ~0.
    inside &= outside > _ON_SURFACE * union.scale
    to_parts = outside.copy()
    if inside.any():
        to_parts[inside], _ = cKDTree(border).query(on_surface[inside])
    _, to_surface = winding_numbers_and_distances(border[:samples], surface.vertices, surface.faces)
    return DecompositionFit(
        surface_to_parts_max=float(to_parts.max()),
        surface_to_parts_mean=float(to_parts.mean()),
        parts_to_surface_max=float(to_surface.max()),
        parts_to_surface_mean=float(to_surface.mean()),
        samples=int(samples),
    )
