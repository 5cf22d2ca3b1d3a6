"""Units sanity of imports and alignments: sizes and masses that point at a unit mistake get a warning naming it,
and dynamic bodies beyond hard limits a refusal (overridden by ``--force``).

Each hint fits its evidence: a size or a distance that is off suggests a length unit (and the flag that sets
it), a mass that is off while the size is plausible suggests a mass unit (``--mass`` takes kilograms) or the
material, never a length unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "FAR_AWAY_M",
    "HARD_BODY_SIZE_M",
    "HARD_MASS_KG",
    "PUSHABLE_MASS_KG",
    "ROOM_SIZE_M",
    "SMALL_BODY_SIZE_M",
    "SPLAT_SIZE_M",
    "UnitsFinding",
    "scale_flag_remedy",
    "units_check",
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

Remedy = Callable[[float], str]
"""Turns a length factor (0.001: the input was millimetres) into what to do about it, e.g. ``try --scale 0.001``."""


def scale_flag_remedy(factor: float) -> str:
    """The import verbs' remedy: ``--scale`` with the factor."""
    return f"try --scale {factor:g}"


def _length_hint(size: float, remedy: Remedy) -> str:
    """The likely unit mistake behind a length in metres: millimetres from 50 m on (CAD's default), else cm."""
    if size >= 50:
        return f"millimetres? {remedy(0.001)}"
    return f"centimetres? {remedy(0.01)}"


def _mass_hint(mass_kg: float, *, size_m: float, mass_given: bool, remedy: Remedy) -> str:
    """What a too-large mass points at: the size's unit when the size is off too, else the mass's own unit."""
    if size_m > 2.0:
        return _length_hint(size_m, remedy)
    if mass_given:
        return f"grams? --mass takes kilograms: try --mass {mass_kg / 1000:.3g}"
    return "check --material (its density) or give --mass"


@dataclass(frozen=True)
class UnitsFinding:
    """One finding: ``kind`` (``size``, ``distance``, ``small``, ``mass``, ``splat``; refusals ``limit``)."""

    kind: str
    text: str


def units_check(
    *,
    what: str,
    size_m: float,
    mass_kg: float | None = None,
    mass_given: bool = False,
    dynamic: bool = False,
    splat: bool = False,
    distance_m: float = 0.0,
    remedy: Remedy = scale_flag_remedy,
    force_flag: str = "--force",
    action: str = "import it anyway",
) -> tuple[list[UnitsFinding], list[UnitsFinding]]:
    """Sanity of sizes and masses in the twin's frame: (warnings, refusals) naming the likely mistake.

    Args:
        what: the file (or prim) the numbers belong to, for the messages.
        size_m: largest extent, metres (twin units).
        mass_kg: the body's mass (dynamic objects only).
        mass_given: the mass was given by a person (``--mass``), not a volume x density prior.
        dynamic: a rigid body (hard limits apply: refusals unless ``--force``).
        splat: a splat (its limit is kilometres, a scene can be a building).
        distance_m: distance of the object's centre from the twin's origin, metres.
        remedy: what to do about a length factor (the flag that sets the unit: ``--scale`` for imports).
        force_flag: the flag that overrides a refusal.
        action: what the override does, for the refusal's last words.
    """
    warnings: list[UnitsFinding] = []
    refusals: list[UnitsFinding] = []
    if splat:
        if size_m > SPLAT_SIZE_M:
            text = f"{what}: the splat is {size_m / 1000:.3g} km across: {_length_hint(size_m, remedy)}"
            warnings.append(UnitsFinding("splat", text))
        return warnings, refusals
    if size_m > ROOM_SIZE_M:
        text = f"{what}: {size_m:.3g} m across, larger than a room: {_length_hint(size_m, remedy)}"
        warnings.append(UnitsFinding("size", text))
    if distance_m > FAR_AWAY_M:
        text = f"{what}: its centre is {distance_m:.3g} m from the origin: {_length_hint(distance_m, remedy)}"
        warnings.append(UnitsFinding("distance", text))
    if dynamic and 0 < size_m < SMALL_BODY_SIZE_M:
        text = f"{what}: a body {1000 * size_m:.3g} mm across: kilometres? {remedy(1000)}"
        warnings.append(UnitsFinding("small", text))
    heavy = dynamic and mass_kg is not None and mass_kg > PUSHABLE_MASS_KG
    if heavy:
        hint = _mass_hint(mass_kg, size_m=size_m, mass_given=mass_given, remedy=remedy)
        warnings.append(UnitsFinding("mass", f"{what}: {mass_kg:.3g} kg, heavier than a person can push: {hint}"))
    too_big = dynamic and size_m > HARD_BODY_SIZE_M
    too_heavy = dynamic and mass_kg is not None and mass_kg > HARD_MASS_KG
    if too_big or too_heavy:
        if too_big:
            hint = _length_hint(size_m, remedy)
        else:
            hint = _mass_hint(mass_kg, size_m=size_m, mass_given=mass_given, remedy=remedy)
        mass = "" if mass_kg is None else f" and {mass_kg:.3g} kg"
        refusals.append(
            UnitsFinding(
                "limit",
                f"a dynamic body of {size_m:.3g} m{mass} is beyond the limits ({HARD_BODY_SIZE_M:g} m, "
                f"{HARD_MASS_KG:g} kg): {hint}; give {force_flag} to {action}",
            )
        )
    return warnings, refusals


def units_findings(
    *,
    what: str,
    size_m: float,
    mass_kg: float | None = None,
    mass_given: bool = False,
    dynamic: bool = False,
    splat: bool = False,
    distance_m: float = 0.0,
) -> tuple[list[str], list[str]]:
    """:func:`units_check` for the import verbs, as message lines: (warnings, refusals)."""
    found, refused = units_check(
        what=what,
        size_m=size_m,
        mass_kg=mass_kg,
        mass_given=mass_given,
        dynamic=dynamic,
        splat=splat,
        distance_m=distance_m,
    )
    return [f.text for f in found], [f.text for f in refused]
