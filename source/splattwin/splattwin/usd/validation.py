"""Run OpenUSD's own validators (``pxr.UsdValidation``, every registered validator) on a stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pxr import Usd

__all__ = ["ValidationIssue", "validate_stage"]


@dataclass(frozen=True)
class ValidationIssue:
    """One finding of a USD validator.

    Attributes:
        severity: ``Error``, ``Warn`` or ``Info`` (OpenUSD's ``ValidationErrorType``).
        validator: the validator's registered name, e.g. ``usdPhysicsValidators:RigidBodyChecker``.
        name: the error's own name.
        message: OpenUSD's message.
        sites: prim or property paths the finding is about.
    """

    severity: str
    validator: str
    name: str
    message: str
    sites: tuple[str, ...]


def validate_stage(stage: Usd.Stage) -> list[ValidationIssue]:
    """Validate ``stage`` with all registered validators; returns every finding (errors first)."""
    from pxr import UsdValidation  # noqa: PLC0415

    registry = UsdValidation.ValidationRegistry()
    context = UsdValidation.ValidationContext(registry.GetOrLoadAllValidators())
    issues = []
    for error in context.Validate(stage):
        if error.HasNoError():
            continue
        sites = []
        for site in error.GetSites():
            if site.IsPrim():
                sites.append(str(site.GetPrim().GetPath()))
            elif site.IsProperty():
                sites.append(str(site.GetProperty().GetPath()))
        validator = error.GetValidator()
        issues.append(
            ValidationIssue(
                severity=str(error.GetType()).rsplit(".", 1)[-1],
                validator=validator.GetMetadata().name if validator else "",
                name=str(error.GetName()),
                message=error.GetMessage(),
                sites=tuple(sites),
            )
        )
    order = {"Error": 0, "Warn": 1, "Info": 2}
    return sorted(issues, key=lambda issue: order.get(issue.severity, 3))
