"""Mass identification from robot pushes: fit log-mass (and nuisance parameters) of the Warp push simulation.

Loss (per object, summed over its pushes): ``0.5 * sum_t |x_sim - x_obs|^2 + l^2 |dtheta|^2 + w^2 |p_sim - p_obs|^2``
with ``dtheta`` the rotation between simulated and observed orientation and ``p`` the fingertip (when the log
measured it). The optimiser (see docs/identification.md):

1. bracket the sign change of ``dL/d ln m`` by doubling steps from the prior (the loss can be nearly flat far
   from the optimum, so a plain secant may walk off), then refine by Illinois regula falsi inside the bracket;
2. the fingertip-object contact stiffness (a nuisance: compliance differs between the world, another simulator
   and this model) is profiled out: the search runs at each stiffness of a small grid and each object keeps
   the one with the lowest loss; the table friction, when fitted, joins log-mass in a bounded L-BFGS-B with the
   gradient from ``wp.Tape``;
3. Laplace uncertainty: the Hessian of the loss at the optimum by central differences of the tape gradient,
   scaled by the residual variance ``2 L / (N - p)`` and by ``(1 + rho) / (1 - rho)`` for residuals correlated in
   time (lag-1 autocorrelation ``rho``: smooth model error, not white noise).

Every object of a batch is fitted at once: one Warp launch simulates all their pushes, and each object's
parameters only see its own loss (the sum is separable), so the gradients of all objects come from one
backward pass.

Before fitting, the data are checked: an object that barely moved, or a fingertip that never came within reach
of it, gives a result with ``identifiable=False`` and the reason, not a number.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError
from splattwin.physics.simulate import PARAMETER_NAMES, PushBatch, PushBody, PushSimConfig, SimulatedPush

if TYPE_CHECKING:
    from splattwin.io.pushlog import PushLog

__all__ = [
    "DEFAULT_DENSITY_KG_M3",
    "MassIdentification",
    "MassIdentificationConfig",
    "ObjectPushes",
    "check_identifiability",
    "identify_mass",
    "identify_masses",
]

logger = logging.getLogger(__name__)

DEFAULT_DENSITY_KG_M3 = 500.0
"""Density of the starting guess when neither the log nor the caller gives a mass prior."""


@dataclass(kw_only=True)
class MassIdentificationConfig:
    """Settings of the identification.

    Attributes:
        fit_contact_stiffness: fit the fingertip-object contact stiffness as a nuisance parameter (profiled
            over ``stiffness_grid``).
        fit_friction: fit the table friction too (else the log's ``table.friction`` is used).
        contact_stiffness: fingertip-object contact stiffness [N/m] when it is not fitted.
        stiffness_grid: contact stiffnesses [N/m] the mass is profiled over when it is fitted.
        friction_bounds: bounds of the table friction coefficient.
        mass_bounds: bounds of the mass [kg].
        max_evaluations: most gradient evaluations of the log-mass search.
        tolerance: stop when the log-mass bracket is narrower than this (relative mass change).
        nuisance_iterations: most L-BFGS-B iterations of the joint fit with the friction.
        min_motion_m: an object whose centre moves less than this (and turns less than ``min_turn_deg``) is
            not identifiable.
        min_turn_deg: see ``min_motion_m``.
        contact_margin_m: the fingertip must come within its radius plus this margin of the object's surface.
        max_relative_uncertainty: above this 1-sigma relative mass uncertainty the result is flagged not
            identifiable (the loss is flat in mass).
        hessian_step: step in the parameters for the central-difference Hessian.
        sim: the simulation settings.
    """

    fit_contact_stiffness: bool = True
    fit_friction: bool = False
    contact_stiffness: float = 3000.0
    stiffness_grid: tuple[float, ...] = (1000.0, 3000.0, 10000.0)
    friction_bounds: tuple[float, float] = (0.05, 1.5)
    mass_bounds: tuple[float, float] = (0.005, 50.0)
    max_evaluations: int = 10
    tolerance: float = 2e-3
    nuisance_iterations: int = 6
    min_motion_m: float = 0.003
    min_turn_deg: float = 2.0
    contact_margin_m: float = 0.002
    max_relative_uncertainty: float = 0.5
    hessian_step: float = 0.02
    sim: PushSimConfig = field(default_factory=PushSimConfig)

    def validate(self) -> None:
        """Check the values."""
        low, high = self.mass_bounds
        if not (0 < low < high):
            raise InputError("mass_bounds", f"must be 0 < low < high [kg], got {self.mass_bounds}")
        if not all(k > 0 for k in (self.contact_stiffness, *self.stiffness_grid)) or not self.stiffness_grid:
            raise InputError("contact_stiffness", "contact stiffnesses must be > 0 N/m")
        if self.max_evaluations < 3:
            raise InputError("max_evaluations", f"must be >= 3, got {self.max_evaluations}")
        self.sim.validate()


@dataclass(kw_only=True)
class ObjectPushes:
    """One object to identify: its pushes, its collision body and its mass prior.

    Attributes:
        logs: push logs of this object (all in one world frame).
        body: the collision body (mesh in the body frame, unit-mass inertia).
        mass_prior: starting mass [kg]; None takes the logs' ``mass_prior`` or volume x 500 kg/m^3.
        name: label for reports.
    """

    logs: list[PushLog]
    body: PushBody
    mass_prior: float | None = None
    name: str = "object"


@dataclass(kw_only=True)
class MassIdentification:
    """Result of one object's identification.

    Attributes:
        name: the object's label.
        identifiable: False when the data cannot tell the mass (see ``reason``); ``mass`` is then None.
        reason: why not identifiable ("" when it is).
        mass: identified mass [kg] or None.
        uncertainty: 1-sigma Laplace uncertainty of the mass [kg], corrected for the time correlation of the
            residuals (conservative), or None.
        uncertainty_white: the same assuming independent residuals (too small when model error dominates).
        mass_prior: the starting mass [kg].
        contact_stiffness: fingertip-object contact stiffness [N/m] used or fitted.
        friction: table friction used or fitted.
        loss: final loss (0.5 * sum of squared residuals [m^2]).
        rms_residual_m: root mean square residual per residual component [m].
        evaluations: gradient evaluations (forward + backward simulations).
        seconds: wall time of the fit.
        history: per evaluation: ``{"mass": kg, "loss": ...}``.
        logs: folders of the logs used.
        warnings: problems that did not stop the fit.
    """

    name: str
    identifiable: bool
    reason: str
    mass: float | None
    uncertainty: float | None
    mass_prior: float
    uncertainty_white: float | None = None
    contact_stiffness: float
    friction: float
    loss: float
    rms_residual_m: float
    evaluations: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    simulated: list[SimulatedPush] = field(default_factory=list, repr=False)
    observed: list[PushLog] = field(default_factory=list, repr=False)

    @property
    def relative_uncertainty(self) -> float | None:
        """``uncertainty / mass`` or None."""
        if self.mass is None or self.uncertainty is None:
            return None
        return self.uncertainty / self.mass

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the report of ``splattwin identify-mass``)."""
        return {
            "object": self.name,
            "identifiable": self.identifiable,
            "reason": self.reason,
            "mass_kg": self.mass,
            "uncertainty_kg": self.uncertainty,
            "relative_uncertainty": self.relative_uncertainty,
            "uncertainty_white_noise_kg": self.uncertainty_white,
            "mass_prior_kg": self.mass_prior,
            "contact_stiffness_n_m": self.contact_stiffness,
            "table_friction": self.friction,
            "loss": self.loss,
            "rms_residual_m": self.rms_residual_m,
            "iterations": self.evaluations,
            "seconds": self.seconds,
            "history": self.history,
            "logs": self.logs,
            "warnings": self.warnings,
        }


def check_identifiability(log: PushLog, body: PushBody, config: MassIdentificationConfig | None = None) -> str | None:
    """Why this log cannot tell the mass, or None when it can.

    Checks, from the data alone: the object moved (centre by ``min_motion_m`` or turned by ``min_turn_deg``);
    the fingertip (measured, else commanded) came within its radius plus ``contact_margin_m`` of the surface.
    """
    import trimesh  # noqa: PLC0415

    from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: PLC0415

    config = config or MassIdentificationConfig()
    pose = log.object_pose
    moved = float(np.linalg.norm(pose[:, :3] - pose[0, :3], axis=1).max())
    cos_half = np.abs(pose[:, 3:] @ pose[0, 3:])
    turned = float(np.degrees(2 * np.arccos(np.clip(cos_half, -1.0, 1.0))).max())
    if moved < config.min_motion_m and turned < config.min_turn_deg:
        return (
            f"the object barely moved in {log.folder} (centre {1000 * moved:.2f} mm, {turned:.2f} deg): "
            f"mass only shows through motion; push it at least {1000 * config.min_motion_m:.0f} mm"
        )
    finger = log.pusher_position if log.pusher_position is not None else log.pusher_target
    stride = max(1, len(finger) // 200)
    rotations = quat_wxyz_to_matrix(pose[::stride, 3:])
    local = np.einsum("tji,tj->ti", rotations, finger[::stride] - pose[::stride, :3])
    from scipy.spatial import cKDTree  # noqa: PLC0415

    # Distance to dense surface samples (no spatial-index dependency); their spacing is added to the margin.
    mesh = trimesh.Trimesh(body.vertices, body.faces, process=False)
    samples, _ = trimesh.sample.sample_surface_even(mesh, 4000, seed=0)
    spacing = math.sqrt(mesh.area / max(len(samples), 1))
    distance, _ = cKDTree(np.concatenate([samples, body.vertices])).query(local)
    gap = float(distance.min()) - log.pusher.radius - spacing
    if gap > config.contact_margin_m:
        return (
            f"the fingertip never touched the object in {log.folder} (closest approach {1000 * gap:.1f} mm from its "
            f"surface): the motion was not caused by this push"
        )
    return None


def _prior(obj: ObjectPushes) -> float:
    if obj.mass_prior is not None:
        return float(obj.mass_prior)
    priors = [log.mass_prior for log in obj.logs if log.mass_prior is not None]
    if priors:
        return float(np.mean(priors))
    return obj.body.volume * DEFAULT_DENSITY_KG_M3


class _Objective:
    """Loss and gradient per object for a parameter matrix [K, 3], counting evaluations and reporting progress."""

    def __init__(self, batch: PushBatch, progress: Callable[[int], None] | None) -> None:
        self.batch = batch
        self.evaluations = 0
        self.progress = progress
        self.param_index = np.array([t.param_index for t in batch.trajectories])
        self.history: list[tuple[np.ndarray, np.ndarray]] = []
        self.failed = np.zeros(batch.object_count, bool)

    def __call__(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Loss [K] and gradient [K, 3]; an object whose simulation diverged is flagged in ``failed`` and gets an
        infinite loss and a zero gradient, so the other objects of the batch carry on."""
        loss_b, gradient = self.batch.loss_and_gradient(params)
        loss_k = np.bincount(self.param_index, weights=loss_b, minlength=len(params))
        self.evaluations += 1
        bad = ~np.isfinite(loss_k) | ~np.isfinite(gradient).all(axis=1)
        self.failed |= bad
        loss_k = np.where(bad, np.inf, loss_k)
        gradient = np.where(bad[:, None], 0.0, gradient)
        self.history.append((params[:, 0].copy(), loss_k.copy()))
        if self.progress is not None:
            self.progress(self.evaluations)
        return loss_k, gradient


def _search_log_mass(
    objective: _Objective, params: np.ndarray, bounds: tuple[float, float], config: MassIdentificationConfig
) -> np.ndarray:
    """Bracket the sign change of dL/d ln m for every object at once, then refine by Illinois regula falsi."""
    low, high = math.log(bounds[0]), math.log(bounds[1])
    n = len(params)
    z_a = params[:, 0].copy()
    _, gradient = objective(params)
    g_a = gradient[:, 0].copy()
    z_b, g_b = z_a.copy(), g_a.copy()
    bracketed = g_a == 0.0
    step = np.where(g_a > 0, -0.4, 0.4)
    budget = config.max_evaluations - 1
    while not bracketed.all() and budget > 0:
        trial = np.where(bracketed, z_b, np.clip(z_a + step, low, high))
        probe = params.copy()
        probe[:, 0] = trial
        _, gradient = objective(probe)
        budget -= 1
        g_t = gradient[:, 0]
        flipped = ~bracketed & (np.sign(g_t) != np.sign(g_a))
        z_b = np.where(flipped, trial, z_b)
        g_b = np.where(flipped, g_t, g_b)
        at_bound = ~bracketed & ~flipped & ((trial <= low) | (trial >= high))
        moving = ~bracketed & ~flipped
        z_a = np.where(moving, trial, z_a)
        g_a = np.where(moving, g_t, g_a)
        bracketed |= flipped | at_bound
        z_b = np.where(at_bound, z_a, z_b)
        g_b = np.where(at_bound, g_a, g_b)
        step = np.where(moving, 2 * step, step)
    best = np.where(np.abs(g_a) < np.abs(g_b), z_a, z_b)
    side = np.zeros(n)  # Illinois: which end was kept last (+1 a, -1 b)
    while budget > 0 and (np.abs(z_b - z_a) > config.tolerance).any():
        width = z_b - z_a
        denominator = np.where(g_b != g_a, g_b - g_a, 1.0)
        trial = z_b - g_b * width / denominator
        trial = np.where(
            np.abs(width) > config.tolerance, np.clip(trial, np.minimum(z_a, z_b), np.maximum(z_a, z_b)), z_b
        )
        probe = params.copy()
        probe[:, 0] = trial
        _, gradient = objective(probe)
        budget -= 1
        g_t = gradient[:, 0]
        same_as_a = np.sign(g_t) == np.sign(g_a)
        active = np.abs(width) > config.tolerance
        z_a = np.where(active & same_as_a, trial, z_a)
        g_a_new = np.where(active & same_as_a, g_t, g_a)
        g_b = np.where(active & same_as_a & (side == 1), g_b / 2, g_b)
        z_b = np.where(active & ~same_as_a, trial, z_b)
        g_b_new = np.where(active & ~same_as_a, g_t, g_b)
        g_a_new = np.where(active & ~same_as_a & (side == -1), g_a_new / 2, g_a_new)
        side = np.where(active, np.where(same_as_a, 1, -1), side)
        g_a, g_b = g_a_new, g_b_new
        settled = np.abs(trial - best) < config.tolerance / 4  # the secant stopped moving: converged
        best = np.where(active, trial, best)
        if settled.all():
            break
    out = params.copy()
    out[:, 0] = best
    return out


def _fit_nuisance(
    objective: _Objective, params: np.ndarray, columns: list[int], bounds: list[tuple[float, float]], iterations: int
) -> np.ndarray:
    """Joint bounded L-BFGS-B over log-mass and the fitted nuisance columns, all objects at once."""
    from scipy.optimize import minimize  # noqa: PLC0415

    shape = params.shape
    scale = 1.0 / max(float(objective(params)[0].sum()), 1e-12)  # well-scaled objective for the line search

    def function(flat: np.ndarray) -> tuple[float, np.ndarray]:
        full = params.copy()
        full[:, columns] = flat.reshape(shape[0], len(columns))
        loss, gradient = objective(full)
        if not np.isfinite(loss).all():  # an unstable corner of the box: make the line search step back
            return 1e6, np.zeros(flat.shape)
        return float(loss.sum()) * scale, gradient[:, columns].reshape(-1) * scale

    start = params[:, columns].reshape(-1)
    result = minimize(
        function,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds * shape[0],
        options={"maxiter": iterations, "gtol": 1e-10, "ftol": 1e-10},
    )
    logger.info("joint fit: %s after %d iterations", result.message, result.nit)
    out = params.copy()
    out[:, columns] = result.x.reshape(shape[0], len(columns))
    return out


def _laplace(objective: _Objective, params: np.ndarray, columns: list[int], step: float) -> np.ndarray:
    """Hessian blocks [K, p, p] of the loss in the fitted columns by central differences of the tape gradient."""
    n, p = len(params), len(columns)
    hessian = np.zeros((n, p, p))
    for j, column in enumerate(columns):
        plus, minus = params.copy(), params.copy()
        plus[:, column] += step
        minus[:, column] -= step
        g_plus, g_minus = objective(plus)[1], objective(minus)[1]
        hessian[:, :, j] = (g_plus[:, columns] - g_minus[:, columns]) / (2 * step)
    return 0.5 * (hessian + np.transpose(hessian, (0, 2, 1)))


def identify_masses(
    objects: list[ObjectPushes],
    config: MassIdentificationConfig | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[MassIdentification]:
    """Identify the masses of several objects in one batched simulation.

    Args:
        objects: the objects, each with its pushes, body and prior.
        config: identification settings.
        progress: called with the number of gradient evaluations done so far.

    Returns:
        One result per object, in order; objects whose data cannot tell the mass come back with
        ``identifiable=False`` and a reason, without being simulated.
    """
    config = config or MassIdentificationConfig()
    config.validate()
    started = time.perf_counter()
    results: list[MassIdentification | None] = [None] * len(objects)
    fit_objects = []
    for i, obj in enumerate(objects):
        if not obj.logs:
            raise InputError(obj.name, "no push logs given")
        reasons = [r for r in (check_identifiability(log, obj.body, config) for log in obj.logs) if r]
        if len(reasons) == len(obj.logs):
            results[i] = _not_identifiable(obj, config, "not identifiable: " + "; ".join(reasons), started)
        else:
            fit_objects.append((i, obj, reasons))
    if not fit_objects:
        return results  # type: ignore[return-value]
    logs, bodies, body_index = [], [], []
    for k, (_, obj, _reasons) in enumerate(fit_objects):
        bodies.append(obj.body)
        for log in obj.logs:
            if check_identifiability(log, obj.body, config) is None:
                logs.append(log)
                body_index.append(k)
    batch = PushBatch.from_logs(logs, bodies, body_index=body_index, config=config.sim)
    objective = _Objective(batch, progress)
    priors = np.array([_prior(obj) for _, obj, _ in fit_objects])
    params = np.zeros((len(fit_objects), len(PARAMETER_NAMES)))
    params[:, 0] = np.log(np.clip(priors, *config.mass_bounds))
    params[:, 1] = math.log(config.contact_stiffness)
    friction = [np.mean([log.table_friction for log in obj.logs]) for _, obj, _ in fit_objects]
    params[:, 2] = friction
    try:
        if config.fit_contact_stiffness:
            # Profile out the nuisance: a log-mass search at each stiffness of a small grid, each object keeping
            # the stiffness with the lowest loss (robust where a joint quasi-Newton step wandered, see docs).
            best, best_loss = params.copy(), np.full(len(fit_objects), np.inf)
            failed = np.ones(len(fit_objects), bool)
            for stiffness in config.stiffness_grid:
                objective.failed[:] = False
                trial = params.copy()
                trial[:, 1] = math.log(stiffness)
                trial = _search_log_mass(objective, trial, config.mass_bounds, config)
                trial_loss, _ = objective(trial)
                trial_loss = np.where(objective.failed, np.inf, trial_loss)
                failed &= objective.failed
                better = trial_loss < best_loss
                best[better], best_loss = trial[better], np.where(better, trial_loss, best_loss)
            params = best
            objective.failed[:] = failed
        else:
            params = _search_log_mass(objective, params, config.mass_bounds, config)
        diverged = objective.failed.copy()
        columns = [0]
        if config.fit_friction:
            columns.append(2)
            bounds = [(math.log(config.mass_bounds[0]), math.log(config.mass_bounds[1])), config.friction_bounds]
            params = _fit_nuisance(objective, params, columns, bounds, config.nuisance_iterations)
        loss, _ = objective(params)
        hessian = _laplace(objective, params, columns, config.hessian_step)
    except FloatingPointError as exc:  # scipy's line search can still hit an unstable corner
        for i, obj, _ in fit_objects:
            results[i] = _not_identifiable(obj, config, f"not identifiable: {exc}", started)
        return results  # type: ignore[return-value]
    seconds = time.perf_counter() - started
    simulated = batch.simulate(params)
    counts = np.bincount(objective.param_index, weights=batch.residual_counts, minlength=len(fit_objects))
    for k, (i, obj, reasons) in enumerate(fit_objects):
        variance = 2 * loss[k] / max(counts[k] - len(columns), 1)
        mass = float(math.exp(params[k, 0]))
        mine = [b for b, index in enumerate(body_index) if index == k]
        correlation = _residual_correlation(
            [simulated[b] for b in mine], [batch.trajectories[b].log for b in mine], config.sim
        )
        # Residuals are dominated by smooth model error, not white noise: count independent samples only.
        inflation = (1 + correlation) / max(1 - correlation, 1e-6)
        try:
            covariance = variance * np.linalg.inv(hessian[k])
            white = math.sqrt(covariance[0, 0]) if covariance[0, 0] > 0 else math.inf
        except np.linalg.LinAlgError:
            white = math.inf
        sigma_log = white * math.sqrt(min(inflation, counts[k]))
        warnings = [f"log skipped: {r}" for r in reasons]
        if all(log.pusher_position is None for log in obj.logs):
            warnings.append(
                "no log has the measured fingertip (pusher_position): the mass is read from the object's offset "
                "behind the target alone, which contact compliance confounds (-2 % to +24 % measured, "
                "docs/identification.md)"
            )
        offsets = batch.table_offsets[np.array(body_index) == k]
        if np.abs(offsets).max() > 0.005:
            warnings.append(
                f"the object rests {1000 * np.abs(offsets).max():.1f} mm away from the logged table height: "
                f"check table.height and the pose units"
            )
        identifiable, reason = True, ""
        if diverged[k]:
            identifiable = False
            reason = "not identifiable: the push simulation diverged for every contact stiffness tried"
        elif not math.isfinite(sigma_log) or sigma_log > config.max_relative_uncertainty:
            identifiable = False
            spread = "no curvature" if not math.isfinite(sigma_log) else f"1-sigma {100 * sigma_log:.0f}% of the mass"
            reason = (
                f"not identifiable: the loss shows no clear minimum in mass ({spread}): the pushes do not excite "
                f"the mass, or the model cannot reproduce them"
            )
        at_bound = (
            params[k, 0] <= math.log(config.mass_bounds[0]) + 1e-3
            or params[k, 0] >= math.log(config.mass_bounds[1]) - 1e-3
        )
        if identifiable and at_bound:
            identifiable, reason = False, f"not identifiable: the fit ran to the mass bound {mass:.4g} kg"
        history = [
            {"mass": float(math.exp(z[k])), "loss": float(value[k])} for z, value in objective.history if k < len(z)
        ]
        results[i] = MassIdentification(
            name=obj.name,
            identifiable=identifiable,
            reason=reason,
            mass=mass if identifiable else None,
            uncertainty=mass * sigma_log if identifiable else None,
            uncertainty_white=mass * white if identifiable else None,
            mass_prior=float(priors[k]),
            contact_stiffness=float(math.exp(params[k, 1])),
            friction=float(params[k, 2]),
            loss=float(loss[k]),
            rms_residual_m=float(math.sqrt(2 * loss[k] / max(counts[k], 1))),
            evaluations=objective.evaluations,
            seconds=seconds,
            history=history,
            logs=[str(log.folder) for log in obj.logs],
            warnings=warnings,
            simulated=[sim for sim, b in zip(simulated, body_index, strict=True) if b == k],
            observed=[t.log for t, b in zip(batch.trajectories, body_index, strict=True) if b == k],
        )
        logger.info("identified %s: %.4g kg (prior %.4g kg)", obj.name, mass, priors[k])
    return results  # type: ignore[return-value]


def _residual_correlation(simulated: list[SimulatedPush], logs: list[PushLog], sim: PushSimConfig) -> float:
    """Lag-1 autocorrelation of the weighted residuals (object position, orientation x l, fingertip x w), pooled
    over the trajectories: ``(1 + rho) / (1 - rho)`` samples carry the information of one independent sample."""
    from splattwin.geometry.transforms import quat_multiply_wxyz  # noqa: PLC0415

    products, squares = 0.0, 0.0
    for run, log in zip(simulated, logs, strict=True):
        steps = np.rint((log.t - log.t[0]) / sim.dt).astype(int)
        keep = steps < len(run.object_pose)
        sim_pose, obs_pose = run.object_pose[steps[keep]], log.object_pose[keep]
        parts = [sim_pose[:, :3] - obs_pose[:, :3]]
        inverse = obs_pose[:, 3:] * np.array([1.0, -1.0, -1.0, -1.0])
        delta = quat_multiply_wxyz(sim_pose[:, 3:], inverse)
        parts.append(2 * np.sign(delta[:, :1] + 1e-30) * delta[:, 1:] * sim.length_scale)
        if log.pusher_position is not None:
            parts.append((run.pusher_position[steps[keep]] - log.pusher_position[keep]) * sim.pusher_weight)
        residual = np.concatenate(parts, axis=1)
        products += float((residual[1:] * residual[:-1]).sum())
        squares += float((residual * residual).sum())
    return float(np.clip(products / squares, 0.0, 1.0)) if squares > 0 else 0.0


def _not_identifiable(
    obj: ObjectPushes, config: MassIdentificationConfig, reason: str, started: float
) -> MassIdentification:
    return MassIdentification(
        name=obj.name,
        identifiable=False,
        reason=reason,
        mass=None,
        uncertainty=None,
        mass_prior=_prior(obj),
        contact_stiffness=config.contact_stiffness,
        friction=float(np.mean([log.table_friction for log in obj.logs])),
        loss=math.nan,
        rms_residual_m=math.nan,
        evaluations=0,
        seconds=time.perf_counter() - started,
        logs=[str(log.folder) for log in obj.logs],
    )


def identify_mass(
    logs: list[PushLog],
    body: PushBody,
    *,
    mass_prior: float | None = None,
    config: MassIdentificationConfig | None = None,
    name: str = "object",
    progress: Callable[[int], None] | None = None,
) -> MassIdentification:
    """Identify one object's mass from its pushes (see :func:`identify_masses`)."""
    pushes = ObjectPushes(logs=logs, body=body, mass_prior=mass_prior, name=name)
    return identify_masses([pushes], config, progress=progress)[0]
