"""Mass identification against logs made by MuJoCo (a different simulator than the one fitted)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import trimesh
from _mujoco_logs import generator, make_logs

from splattwin.io.pushlog import read_push_log, write_push_log
from splattwin.physics import body_from_mesh
from splattwin.sysid import (
    MassIdentificationConfig,
    ObjectPushes,
    check_identifiability,
    identify_mass,
    identify_masses,
)


def _object(folder: Path, shape: str, **kwargs) -> ObjectPushes:
    logs = [read_push_log(p) for p in make_logs(folder, shape, **kwargs)]
    mesh = trimesh.load(logs[0].mesh_path, process=False)
    truth = generator().SHAPES[shape].mass
    return ObjectPushes(logs=logs, body=body_from_mesh(mesh.vertices, mesh.faces), mass_prior=0.7 * truth, name=shape)


@pytest.mark.slow
def test_two_shapes_batched_within_two_percent(tmp_path: Path) -> None:
    """Box (0.3 kg) and letter-T extrusion (0.08 kg), noise-free, fitted together in one batched simulation."""
    objects = [_object(tmp_path, "box"), _object(tmp_path, "letter_t")]
    results = identify_masses(objects)
    for obj, result in zip(objects, results, strict=True):
        truth = generator().SHAPES[obj.name].mass
        assert result.identifiable, result.reason
        assert result.mass == pytest.approx(truth, rel=0.02), obj.name
        # conservative (correlated residuals), yet far below the prior's 30 %; the truth inside 2 sigma
        assert result.uncertainty is not None and 0 < result.uncertainty < 0.15 * truth
        assert abs(result.mass - truth) < 2 * result.uncertainty
        assert result.uncertainty_white < result.uncertainty
        assert result.history[0]["mass"] == pytest.approx(0.7 * truth)  # started from the prior


@pytest.mark.slow
def test_thin_plate_with_pose_noise_within_five_percent(tmp_path: Path) -> None:
    """0.05 kg plate, 1 mm / 1 deg pose noise on every sample (the fingertip measured by the robot, noise-free)."""
    obj = _object(tmp_path, "thin_plate", noise_seed=3)
    result = identify_mass(obj.logs, obj.body, mass_prior=obj.mass_prior)
    assert result.identifiable, result.reason
    assert result.mass == pytest.approx(0.05, rel=0.05)


@pytest.mark.slow
def test_tall_bottle_within_two_percent_and_five_with_noise(tmp_path: Path) -> None:
    """1 kg stepped bottle, 190 mm tall: once refused ("no curvature", its tape gradient exploded), 4.4 % with noise."""
    for noise_seed, tolerance in ((None, 0.02), (100, 0.05)):
        obj = _object(tmp_path / str(noise_seed), "tall_bottle", noise_seed=noise_seed)
        result = identify_mass(obj.logs, obj.body, mass_prior=obj.mass_prior)
        assert result.identifiable, result.reason
        assert result.mass == pytest.approx(1.0, rel=tolerance), noise_seed
        assert result.uncertainty is not None and 0 < result.uncertainty < 0.15


def test_object_that_never_moved_is_not_identifiable(tmp_path: Path) -> None:
    obj = _object(tmp_path, "box", speed=0.0)
    result = identify_mass(obj.logs, obj.body, mass_prior=0.2)
    assert not result.identifiable
    assert result.mass is None and result.uncertainty is None
    assert "not identifiable: the object barely moved" in result.reason
    assert result.evaluations == 0  # refused from the data, nothing simulated


def test_pusher_that_never_touched_is_not_identifiable(tmp_path: Path) -> None:
    """The object moved but the fingertip stayed 10 cm away: the motion was not this push's doing."""
    source = read_push_log(make_logs(tmp_path / "src", "box")[0])
    far = tmp_path / "far"
    far.mkdir()
    (far / "object.obj").write_bytes(source.mesh_path.read_bytes())
    offset = np.array([0.0, 0.0, 0.1])
    write_push_log(
        far,
        t=source.t,
        object_pose=source.object_pose,
        pusher_target=source.pusher_target + offset,
        pusher_position=source.pusher_position + offset,
        meta=source.meta,
    )
    log = read_push_log(far)
    mesh = trimesh.load(log.mesh_path, process=False)
    body = body_from_mesh(mesh.vertices, mesh.faces)
    reason = check_identifiability(log, body)
    assert reason is not None and "never touched" in reason
    assert check_identifiability(source, body) is None
    assert not identify_mass([log], body).identifiable


def test_flat_loss_is_reported_not_identifiable(tmp_path: Path) -> None:
    """An absurd uncertainty threshold turns any fit into 'not identifiable' with the reason (no fake answer)."""
    obj = _object(tmp_path, "box", duration=0.4)
    config = MassIdentificationConfig(max_relative_uncertainty=1e-9, fit_contact_stiffness=False)
    result = identify_mass(obj.logs[:1], obj.body, mass_prior=0.2, config=config)
    assert not result.identifiable and "no clear minimum in mass" in result.reason and result.mass is None


def test_shipped_demo_logs_are_reproducible(tmp_path: Path) -> None:
    """usd_assets/tabletop/pushes is what make_pushlogs.py makes (seeded, deterministic): rerun and compare."""
    import json

    from _mujoco_logs import ASSETS

    made = generator().make_demo_logs(tmp_path)
    shipped = sorted((ASSETS / "tabletop" / "pushes").glob("push_*"))
    assert [p.name for p in made] == [p.name for p in shipped]
    for new, old in zip(made, shipped, strict=True):
        assert json.loads((new / "meta.json").read_text()) == json.loads((old / "meta.json").read_text())
        with np.load(new / "push.npz") as a, np.load(old / "push.npz") as b:
            assert sorted(a.files) == sorted(b.files)
            for name in a.files:
                np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-9, err_msg=name)


@pytest.mark.parametrize(("fit_friction", "rho"), [(False, 0.0), (True, 0.6)])
def test_laplace_uncertainty_on_a_quadratic_loss_is_the_closed_form(
    monkeypatch, fit_friction: bool, rho: float
) -> None:
    """The whole identification (search, joint fit, Hessian, residual variance, time-correlation inflation) run on
    a loss whose answer is known in closed form: the push simulation's loss replaced by a linear least-squares
    loss in the fitted parameters, with as many residuals as the real log has.

    Convention (the code's, docs/identification.md): loss L = 0.5 * sum_i r_i^2 over the N residual components.
    With white residuals of variance s^2 the negative log-likelihood is L / s^2, so the Laplace covariance is
    s^2 H^-1 (H the Hessian of L) with s^2 = sum r^2 / (N - p) = 2 L / (N - p), p fitted parameters. For
    r = y - X theta that is ordinary least squares: theta* = (X^T X)^-1 X^T y, Cov = s^2 (X^T X)^-1, by hand below.
    The mass is exp(log-mass), so sigma_m = m sigma_z (delta method); residuals with lag-1 autocorrelation rho
    inflate it by sqrt((1 + rho) / (1 - rho)): 2 for rho = 0.6.
    """
    from _mujoco_logs import ASSETS

    from splattwin.physics.simulate import PushBatch
    from splattwin.sysid import identify as module

    log = read_push_log(ASSETS / "tabletop" / "pushes" / "push_0")
    mesh = trimesh.load(log.mesh_path, process=False)
    body = body_from_mesh(mesh.vertices, mesh.faces)
    # residual components of this log: object position (3) and orientation (3) per sample, fingertip (3) too
    n = len(log.t) * (6 + (3 if log.pusher_position is not None else 0))
    columns = [0, 2] if fit_friction else [0]
    rng = np.random.default_rng(11)
    # correlated columns (0.8), so the marginal variance of log-mass differs from the conditional 1 / H_00
    x = rng.normal(size=(n, 2))
    design = np.stack([x[:, 0], 0.5 * (0.8 * x[:, 0] + 0.6 * x[:, 1])], axis=1)[:, : len(columns)]
    truth = np.array([math.log(0.21), 0.4])[: len(columns)]
    y = design @ truth + 0.01 * rng.normal(size=n)

    def quadratic(self, params):  # PushBatch.loss_and_gradient of this one trajectory
        residual = y - design @ params[0, columns]
        gradient = np.zeros_like(params)
        gradient[0, columns] = -design.T @ residual
        return np.array([0.5 * residual @ residual]), gradient

    monkeypatch.setattr(PushBatch, "loss_and_gradient", quadratic)
    monkeypatch.setattr(module, "_residual_correlation", lambda *args: rho)
    config = MassIdentificationConfig(
        fit_contact_stiffness=False,
        fit_friction=fit_friction,
        max_evaluations=30,
        tolerance=1e-9,
        nuisance_iterations=100,
    )
    result = identify_mass([log], body, mass_prior=0.15, config=config)

    normal = design.T @ design
    theta = np.linalg.solve(normal, design.T @ y)
    rss = float(((y - design @ theta) ** 2).sum())
    sigma_z = math.sqrt(rss / (n - len(columns)) * np.linalg.inv(normal)[0, 0])
    mass = math.exp(theta[0])
    assert result.identifiable, result.reason
    assert result.mass == pytest.approx(mass, rel=1e-6)
    if fit_friction:
        assert result.friction == pytest.approx(theta[1], abs=1e-6)
    assert result.uncertainty_white == pytest.approx(mass * sigma_z, rel=1e-6)  # a wrong p: 6e-5
    assert result.uncertainty == pytest.approx(mass * sigma_z * math.sqrt((1 + rho) / (1 - rho)), rel=1e-6)
