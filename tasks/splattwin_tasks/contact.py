"""The contact model both runtimes use: MuJoCo's ``solref`` (time constant, damping ratio) of every contact.

The embedded runtime writes it into its MJCF defaults; Isaac Lab on Newton takes it as the shapes' default contact
stiffness and damping (:func:`newton_contact_ke_kd`), which Newton's MuJoCo solver turns back into the same
``solref``. A time constant of two physics steps (2 ms each) keeps a resting block within a fraction of a millimetre
of the table; Newton's default (2500, 100), i.e. ``solref`` (0.02, 1), let the demo block sink 1 cm and tilt 3 deg.
"""

from __future__ import annotations

__all__ = ["CONTACT_DAMPRATIO", "CONTACT_TIMECONST_S", "newton_contact_ke_kd"]

CONTACT_TIMECONST_S = 0.004
"""MuJoCo ``solref[0]``: the contacts' time constant [s]."""
CONTACT_DAMPRATIO = 1.0
"""MuJoCo ``solref[1]``: the contacts' damping ratio (1: critical)."""


def newton_contact_ke_kd(
    timeconst_s: float = CONTACT_TIMECONST_S, dampratio: float = CONTACT_DAMPRATIO
) -> tuple[float, float]:
    """Newton's shape ``(ke, kd)`` for a MuJoCo ``solref`` of ``(timeconst_s, dampratio)``: the inverse of Newton's
    ``convert_solref`` (``timeconst = 2 / kd``, ``dampratio = kd / 2 * sqrt(1 / ke)``, unit impedance width),
    i.e. ``kd = 2 / timeconst`` and ``ke = (kd / (2 dampratio))^2``."""
    kd = 2.0 / timeconst_s
    return (kd / (2.0 * dampratio)) ** 2, kd
