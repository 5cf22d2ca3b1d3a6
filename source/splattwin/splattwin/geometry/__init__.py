"""Rigid and similarity transforms, quaternions and spherical-harmonics rotation (numpy, float64 inside)."""

from splattwin.geometry.alignment import (
    PlaneFit,
    fit_table_plane,
    gravity_alignment,
    origin_shift,
    scale_from_distance,
    unify_frame,
    up_axis_rotation,
)
from splattwin.geometry.sh_rotation import eval_sh_basis, rotate_sh, sh_rotation_matrices
from splattwin.geometry.transforms import (
    Similarity,
    matrix_to_quat_wxyz,
    quat_multiply_wxyz,
    quat_wxyz_to_matrix,
    rotation_between,
)

__all__ = [
    "PlaneFit",
    "fit_table_plane",
    "gravity_alignment",
    "origin_shift",
    "scale_from_distance",
    "unify_frame",
    "up_axis_rotation",
    "Similarity",
    "eval_sh_basis",
    "matrix_to_quat_wxyz",
    "quat_multiply_wxyz",
    "quat_wxyz_to_matrix",
    "rotate_sh",
    "rotation_between",
    "sh_rotation_matrices",
]
