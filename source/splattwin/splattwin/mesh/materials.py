"""Physics materials (density, friction, restitution) and the volume x density mass prior of an object.

Densities are of the solid material, taken from standard engineering tables (USDA Wood Handbook FPL-GTR-190 for
wood; Engineering ToolBox and mechanical-engineering handbook tables for the rest). Each material's
``density_relative_uncertainty`` is the half-width of the spread those tables give, relative to the value used.

Friction coefficients and restitution are typical values for the object resting, sliding or bouncing on a
wooden or painted table top (the usual workcell surface), not for the material against itself. They are coarse
priors for the simulator (friction varies by +-30% with surface finish, dust and humidity); physics identification
(a later stage) replaces them with values fitted to real pushes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from splattwin.errors import InputError

__all__ = ["MATERIALS", "MassPrior", "PhysicsMaterial", "get_material", "mass_prior"]


@dataclass(frozen=True, kw_only=True)
class PhysicsMaterial:
    """A physics material: what USD's ``UsdPhysics.MaterialAPI`` needs plus a density for the mass prior."""

    name: str
    """Key in :data:`MATERIALS`, lower case."""
    density_kg_m3: float
    """Density of the solid material [kg/m^3]."""
    density_relative_uncertainty: float
    """Half-width of the density spread in the tables, relative to ``density_kg_m3`` [fraction]."""
    static_friction: float
    """Static Coulomb friction coefficient on a wooden/painted table [-]."""
    dynamic_friction: float
    """Dynamic (sliding) Coulomb friction coefficient on a wooden/painted table [-]."""
    restitution: float
    """Coefficient of restitution when dropped on a wooden table [-], in [0, 1]."""
    notes: str
    """What the density covers: the range in the tables [kg/m^3] and caveats."""

    def validate(self) -> None:
        """Raise :class:`InputError` for a physically impossible value."""
        source = f"material {self.name!r}"
        if not (math.isfinite(self.density_kg_m3) and self.density_kg_m3 > 0):
            raise InputError(source, f"density_kg_m3 must be positive, got {self.density_kg_m3!r}")
        if not 0 <= self.density_relative_uncertainty < 1:
            raise InputError(
                source, f"density_relative_uncertainty must be in [0, 1), got {self.density_relative_uncertainty!r}"
            )
        if not 0 <= self.dynamic_friction <= self.static_friction:
            raise InputError(
                source,
                f"need 0 <= dynamic_friction <= static_friction, got {self.dynamic_friction!r} and "
                f"{self.static_friction!r}",
            )
        if not 0 <= self.restitution <= 1:
            raise InputError(source, f"restitution must be in [0, 1], got {self.restitution!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy, e.g. for USD ``customData``."""
        return asdict(self)


def _material(
    name: str, density: float, spread: float, static: float, dynamic: float, bounce: float, notes: str
) -> PhysicsMaterial:
    """Positional shorthand that keeps the table below one line per material."""
    return PhysicsMaterial(
        name=name,
        density_kg_m3=density,
        density_relative_uncertainty=spread,
        static_friction=static,
        dynamic_friction=dynamic,
        restitution=bounce,
        notes=notes,
    )


MATERIALS: dict[str, PhysicsMaterial] = {
    m.name: m
    for m in (
        # name, density kg/m^3, its relative spread, static / dynamic friction and restitution on a wooden table
        _material("wood", 600.0, 0.30, 0.40, 0.30, 0.40, "generic dry wood; 350 (pine) to 800 (hardwood)"),
        _material("oak", 700.0, 0.15, 0.45, 0.35, 0.40, "red/white oak 610-750 at 12% moisture"),
        _material("pine", 500.0, 0.25, 0.40, 0.30, 0.40, "pines 350-600 at 12% moisture"),
        _material("mdf", 750.0, 0.10, 0.40, 0.30, 0.35, "medium-density fibreboard 680-820"),
        _material("plastic", 1050.0, 0.25, 0.35, 0.28, 0.50, "generic, ABS-like; PP 900 to PVC 1400"),
        _material("abs", 1040.0, 0.03, 0.35, 0.28, 0.50, "ABS 1020-1080"),
        _material("pla", 1240.0, 0.03, 0.35, 0.28, 0.45, "solid PLA 1210-1250; sparse-infill prints far lighter"),
        _material("rubber", 1150.0, 0.15, 0.90, 0.75, 0.60, "natural 930-1150, neoprene 1300, silicone 1300"),
        _material("aluminium", 2700.0, 0.03, 0.40, 0.32, 0.45, "aluminium alloys 2640-2810"),
        _material("steel", 7850.0, 0.02, 0.40, 0.30, 0.50, "carbon/low-alloy steel 7750-8050"),
        _material("stainless_steel", 8000.0, 0.02, 0.40, 0.30, 0.50, "austenitic stainless 7900-8030"),
        _material("brass", 8500.0, 0.03, 0.40, 0.30, 0.45, "brass 8400-8730"),
        _material("glass", 2500.0, 0.06, 0.30, 0.25, 0.50, "soda-lime glass 2400-2800"),
        _material("ceramic", 2300.0, 0.10, 0.35, 0.28, 0.40, "earthenware to porcelain 2000-2500"),
        _material("cardboard", 690.0, 0.30, 0.45, 0.35, 0.20, "solid board ~690; corrugated bulk only 100-200"),
        _material("foam", 30.0, 0.50, 0.60, 0.45, 0.15, "EPS 15-35, polyurethane foam 20-80"),
        _material("concrete", 2400.0, 0.05, 0.62, 0.50, 0.30, "normal-weight 2300-2500; lightweight 1100-1800"),
        _material("paper", 800.0, 0.20, 0.40, 0.30, 0.10, "office paper and reams 700-1000"),
    )
}
"""Known materials by lower-case name."""

# Other spellings people type; they resolve to the canonical entry.
_ALIASES = {"aluminum": "aluminium", "stainless": "stainless_steel", "polystyrene_foam": "foam", "eps": "foam"}


def get_material(name: str) -> PhysicsMaterial:
    """Look a material up by name, ignoring case, surrounding spaces and ``-`` / space vs ``_``.

    Raises:
        InputError: unknown name; the message lists the known ones.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in MATERIALS:
        raise InputError("material", f"unknown material {name!r}; known: {', '.join(sorted(MATERIALS))}")
    return MATERIALS[key]


@dataclass(frozen=True, kw_only=True)
class MassPrior:
    """A first guess of an object's mass, before physics identification.

    Hollow objects (cardboard boxes, bottles, cups, 3D prints with sparse infill) are badly served by volume x
    density: their closed mesh volume counts air as material, so the prior can be several times too heavy.
    That is why this is only a prior, with its uncertainty, and why physics identification from real pushes
    replaces it.
    """

    mass_kg: float
    """Prior mass [kg]."""
    volume_m3: float
    """Closed volume of the collision mesh [m^3]."""
    density_kg_m3: float
    """Density used [kg/m^3]."""
    material: str
    """Name of the material in :data:`MATERIALS`."""
    relative_uncertainty: float
    """One-sided relative uncertainty of ``mass_kg`` from the density spread alone [fraction]."""
    method: str = "volume x density"
    """How the prior was obtained, for provenance ``customData``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy, e.g. for USD ``customData``."""
        return asdict(self)

    def provenance(self, **extra: str) -> dict[str, Any]:
        """The body's ``splattwin:massProvenance`` record for this prior (``kind: prior``), plus ``extra`` keys."""
        return {
            "kind": "prior",
            "method": self.method,
            "material": self.material,
            "densityKgM3": self.density_kg_m3,
            "volumeM3": self.volume_m3,
            "relativeUncertainty": self.relative_uncertainty,
            **extra,
        }


def mass_prior(volume_m3: float, material: str | PhysicsMaterial) -> MassPrior:
    """Mass prior of a solid object: closed volume x material density.

    Args:
        volume_m3: enclosed volume of the watertight collision mesh [m^3], in metres after the import's scale.
        material: a :class:`PhysicsMaterial` or a name :func:`get_material` knows.

    Raises:
        InputError: non-positive, NaN or infinite volume; unknown material.
    """
    volume = float(volume_m3)
    if not (math.isfinite(volume) and volume > 0):
        raise InputError("volume_m3", f"volume must be a positive finite number of m^3, got {volume_m3!r}")
    chosen = material if isinstance(material, PhysicsMaterial) else get_material(material)
    return MassPrior(
        mass_kg=volume * chosen.density_kg_m3,
        volume_m3=volume,
        density_kg_m3=chosen.density_kg_m3,
        material=chosen.name,
        relative_uncertainty=chosen.density_relative_uncertainty,
    )
