"""Units sanity of imports: sizes and masses that point at a unit mistake get a warning naming it, and dynamic
bodies beyond hard limits a refusal (overridden by ``--force``)."""

from __future__ import annotations

__all__ = [
    "FAR_AWAY_M",
    "HARD_BODY_SIZE_M",
    "HARD_MASS_KG",
    "PUSHABLE_MASS_KG",
    "ROOM_SIZE_M",
    "SMALL_BODY_SIZE_M",
    "SPLAT_SIZE_M",
    "units_findings",
]

ROOM_SIZE_M = 20.0
"""Objects and scenery larger than this are probably in the wrong unit (a warning)."""
PUSHABLE_MASS_KG = 100.0
"""A dynamic object heavier than this is more than a person can push (a warning)."""
HARD_MASS_KG = 2000.0
"""A dynamic body heavier than this is refused unless ``--force``."""
HARD_BODY_SIZE_M = 20.0
"""A dynamic body larger than this is refused unless ``--force``."""
SMALL_BODY_SIZE_M = 0.002
"""A dynamic body smaller than this is probably in the wrong unit (a warning)."""
SPLAT_SIZE_M = 1000.0
"""A splat whose robust extent is beyond this is kilometres across (a warning)."""
FAR_AWAY_M = 100.0
"""A mesh whose centre is farther than this from the twin's origin is probably in the wrong unit (a warning)."""


def _unit_hint(size: float) -> str:
    """The likely unit mistake behind a size in metres: millimetres from 50 m on (CAD's default), else centimetres."""
    if size >= 50:
        return "millimetres? try --scale 0.001"
    return "centimetres? try --scale 0.01"


def units_findings(
    *,
    what: str,
    size_m: float,
    mass_kg: float | None = None,
    dynamic: bool = False,
    splat: bool = False,
    distance_m: float = 0.0,
) -> tuple[list[str], list[str]]:
    """Sanity of sizes and masses in the twin's frame: (warnings, refusals) naming the likely mistake.

    Args:
        what: the file (or prim) the numbers belong to, for the messages.
        size_m: largest extent, metres (twin units).
        mass_kg: the body's mass (dynamic objects only).
        dynamic: a rigid body (hard limits apply: refusals unless ``--force``).
        splat: a splat (its limit is kilometres, a scene can be a building).
        distance_m: distance of the object's centre from the twin's origin, metres.
    """
    warnings: list[str] = []
    refusals: list[str] = []
    if splat:
        if size_m > SPLAT_SIZE_M:
            warnings.append(f"{what}: the splat is {size_m / 1000:.3g} km across: {_unit_hint(size_m)}")
        return warnings, refusals
    if size_m > ROOM_SIZE_M:
        warnings.append(f"{what}: {size_m:.3g} m across, larger than a room: {_unit_hint(size_m)}")
    if distance_m > FAR_AWAY_M:
        warnings.append(f"{what}: its centre is {distance_m:.3g} m from the origin: {_unit_hint(distance_m)}")
    if dynamic and 0 < size_m < SMALL_BODY_SIZE_M:
        warnings.append(f"{what}: a body {1000 * size_m:.3g} mm across: kilometres? try --scale 1000")
    if dynamic and mass_kg is not None and mass_kg > PUSHABLE_MASS_KG:
        hint = _unit_hint(size_m) if size_m > 2.0 else "check --mass and --material"
        warnings.append(f"{what}: {mass_kg:.3g} kg, heavier than a person can push: {hint}")
    if dynamic and (size_m > HARD_BODY_SIZE_M or (mass_kg is not None and mass_kg > HARD_MASS_KG)):
        refusals.append(
            f"a dynamic body of {size_m:.3g} m and {mass_kg:.3g} kg is beyond the limits "
            f"({HARD_BODY_SIZE_M:g} m, {HARD_MASS_KG:g} kg): {_unit_hint(size_m)}; give --force to import it anyway"
        )
    return warnings, refusals
