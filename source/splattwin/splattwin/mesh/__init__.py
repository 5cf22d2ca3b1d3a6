"""Mesh import, cleaning and physics materials: reconstructed meshes -> collision meshes with a mass prior."""

from splattwin.mesh.clean import MeshCleaningConfig, MeshReport, clean_mesh, validate_mesh
from splattwin.mesh.load import SUPPORTED_MESH_SUFFIXES, load_mesh
from splattwin.mesh.materials import MATERIALS, MassPrior, PhysicsMaterial, get_material, mass_prior

__all__ = [
    "MATERIALS",
    "SUPPORTED_MESH_SUFFIXES",
    "MassPrior",
    "MeshCleaningConfig",
    "MeshReport",
    "PhysicsMaterial",
    "clean_mesh",
    "get_material",
    "load_mesh",
    "mass_prior",
    "validate_mesh",
]
