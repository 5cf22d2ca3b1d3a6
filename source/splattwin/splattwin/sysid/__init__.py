"""System identification: object mass (and nuisance contact parameters) from robot pushes, by differentiable
simulation (:mod:`splattwin.physics`)."""

from splattwin.sysid.identify import (
    DEFAULT_DENSITY_KG_M3,
    MassIdentification,
    MassIdentificationConfig,
    ObjectPushes,
    check_identifiability,
    identify_mass,
    identify_masses,
)

__all__ = [
    "DEFAULT_DENSITY_KG_M3",
    "MassIdentification",
    "MassIdentificationConfig",
    "ObjectPushes",
    "check_identifiability",
    "identify_mass",
    "identify_masses",
]
