"""USD authoring of the twin: the layered stage, Gaussian particle fields, physics bodies, frames, inspection."""

from splattwin.usd.bodies import (
    CollisionApproximation,
    define_mesh,
    define_physics_material,
    define_rigid_object,
    define_static_collider,
)
from splattwin.usd.frames import read_alignment, read_frame_record
from splattwin.usd.inspect import describe_stage, describe_twin
from splattwin.usd.splats import (
    define_gaussians_prim,
    gaussians_extent,
    read_gaussians_prim,
    read_gaussians_usd,
    write_gaussians_usd,
)
from splattwin.usd.stage import LAYER_NAMES, TwinStage, edit_twin, open_twin, open_usd_stage
from splattwin.usd.validation import ValidationIssue, validate_stage

__all__ = [
    "LAYER_NAMES",
    "CollisionApproximation",
    "TwinStage",
    "ValidationIssue",
    "define_gaussians_prim",
    "define_mesh",
    "define_physics_material",
    "define_rigid_object",
    "define_static_collider",
    "describe_stage",
    "describe_twin",
    "edit_twin",
    "gaussians_extent",
    "open_twin",
    "open_usd_stage",
    "read_alignment",
    "read_frame_record",
    "read_gaussians_prim",
    "read_gaussians_usd",
    "validate_stage",
    "write_gaussians_usd",
]
