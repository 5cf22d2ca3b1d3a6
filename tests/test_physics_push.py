"""The Warp push simulation: gradients against central finite differences, physics against closed forms."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import trimesh
from _mujoco_logs import generator

from splattwin.errors import InputError
from splattwin.io.pushlog import read_push_log
from splattwin.physics import PushBatch, PushSimConfig, body_from_mesh


def _batch(folder: Path, **setup_changes) -> tuple[PushBatch, object]:
    gen = generator()
    shape = gen.SHAPES["box"]
    setup = dataclasses.replace(gen.shape_setups(shape)[0], **setup_changes)
    log = read_push_log(gen.make_shape_log(folder, shape, setup))
    mesh = trimesh.load(log.mesh_path, process=False)
    return PushBatch.from_logs([log], [body_from_mesh(mesh.vertices, mesh.faces)]), log


@pytest.fixture(scope="module")
def box_push(tmp_path_factory: pytest.TempPathFactory) -> tuple[PushBatch, object]:
    return _batch(tmp_path_factory.mktemp("push") / "box", duration=0.6)


@pytest.mark.parametrize(
    ("column", "point", "step"),
    [(0, (0.25, 3000.0, 0.4), 0.01), (1, (0.3, 800.0, 0.4), 0.02), (2, (0.3, 3000.0, 0.35), 0.005)],
    ids=["log-mass", "log-contact-stiffness", "table-friction"],
)
def test_gradient_matches_central_differences(box_push, column: int, point, step: float, monkeypatch) -> None:
    import warp as wp

    monkeypatch.setattr(wp.config, "verify_autograd_array_access", True)  # flags arrays overwritten after a read
    batch, _ = box_push
    params = np.array([[math.log(point[0]), math.log(point[1]), point[2]]])
    _, gradient = batch.loss_and_gradient(params)
    plus, minus = params.copy(), params.copy()
    plus[0, column] += step
    minus[0, column] -= step
    central = (batch.loss(plus).sum() - batch.loss(minus).sum()) / (2 * step)
    assert abs(central) > 1e-6, "the loss must depend on the parameter for this check to mean anything"
    assert gradient[0, column] == pytest.approx(central, rel=0.01)


def test_heavy_tall_bottle_gradient_matches_central_differences(tmp_path: Path) -> None:
    """The 1 kg bottle presses the fingertip with ~4 N: the fingertip friction's viscous slope near sticking
    (mu fn / 1 mm/s) once passed the explicit-Euler limit and the tape gradient came out 1e20 or NaN."""
    gen = generator()
    shape = gen.SHAPES["tall_bottle"]
    log = read_push_log(gen.make_shape_log(tmp_path / "bottle", shape, gen.shape_setups(shape)[0]))
    mesh = trimesh.load(log.mesh_path, process=False)
    batch = PushBatch.from_logs([log], [body_from_mesh(mesh.vertices, mesh.faces)])
    step = 0.01
    for mass in (0.9, 1.1):
        params = np.array([[math.log(mass), math.log(3000.0), 0.4]])
        _, gradient = batch.loss_and_gradient(params)
        plus, minus = params.copy(), params.copy()
        plus[0, 0] += step
        minus[0, 0] -= step
        central = (batch.loss(plus).sum() - batch.loss(minus).sum()) / (2 * step)
        assert abs(central) > 1e-3, "away from the optimum the loss must slope"
        assert gradient[0, 0] == pytest.approx(central, rel=0.01), mass


def test_quasi_static_push_lag_matches_closed_form(tmp_path: Path) -> None:
    """Pushing through the centre at constant speed, the fingertip lags its target by mu m g / kp (force balance)."""
    batch, log = _batch(
        tmp_path / "box", lateral_offset=0.0, direction_deg=0.0, yaw_deg=0.0, speed=0.1, push_time=1.5, duration=1.5
    )
    mass, mu = 0.3, log.table_friction
    sim = batch.simulate(np.array([[math.log(mass), math.log(3000.0), mu]]))[0]
    steady = (sim.t - sim.t[0] > 1.1) & (sim.t - sim.t[0] < 1.35)  # cruising, long after the start transient
    target = np.array([np.interp(sim.t, log.t, log.pusher_target[:, a]) for a in range(3)]).T
    lag = np.linalg.norm(target - sim.pusher_position, axis=1)[steady]
    expected = mu * mass * 9.81 / log.pusher.kp
    assert lag.mean() == pytest.approx(expected, rel=0.02)


def test_resting_object_does_not_creep(tmp_path: Path) -> None:
    """Bristle friction holds a resting object: with the fingertip far away nothing moves (a regularised Coulomb
    law would let it creep under any side load; here there is none, so also no drift from the integrator)."""
    batch, log = _batch(tmp_path / "still", speed=0.0, duration=1.0)
    sim = batch.simulate(np.array([[math.log(0.3), math.log(3000.0), 0.4]]))[0]
    settled = sim.t - sim.t[0] > 0.2
    sliding = np.linalg.norm(sim.object_pose[settled, :2] - sim.object_pose[settled][0, :2], axis=1).max()
    sinking = abs(sim.object_pose[:, 2] - sim.object_pose[0, 2]).max()
    assert sliding < 1e-6  # metres over 0.8 s
    assert sinking < 5e-4  # settles into the penalty contact by about g / omega^2


def test_stable_for_light_and_heavy_objects(box_push) -> None:
    batch, log = box_push
    for mass in (0.03, 2.0):
        sim = batch.simulate(np.array([[math.log(mass), math.log(3000.0), 0.4]]))[0]
        assert np.isfinite(sim.object_pose).all()
        assert abs(sim.object_pose[:, 2] - log.object_pose[0, 2]).max() < 0.002  # stays on the table
        loss, gradient = batch.loss_and_gradient(np.array([[math.log(mass), math.log(3000.0), 0.4]]))
        assert np.isfinite(loss).all() and np.isfinite(gradient).all()


def test_zero_volume_mesh_is_refused() -> None:
    flat = trimesh.creation.box(extents=(0.1, 0.06, 0.05))
    vertices = flat.vertices.copy()
    vertices[:, 2] = 0.0
    with pytest.raises(InputError, match="encloses no volume"):
        body_from_mesh(vertices, flat.faces, name="flat.obj")
    box = trimesh.creation.box(extents=(0.1, 0.06, 0.05))
    with pytest.raises(InputError, match="give it in the body frame"):
        body_from_mesh(box.vertices + [0.3, 0.0, 0.0], box.faces, name="offset.obj")


@pytest.mark.cuda
def test_cuda_matches_cpu(box_push, tmp_path: Path) -> None:
    import warp as wp

    if not wp.is_cuda_available():
        pytest.skip("no CUDA device")
    batch, log = box_push
    mesh = trimesh.load(log.mesh_path, process=False)
    cuda = PushBatch.from_logs([log], [body_from_mesh(mesh.vertices, mesh.faces)], config=PushSimConfig(device="cuda"))
    params = np.array([[math.log(0.3), math.log(3000.0), 0.4]])
    np.testing.assert_allclose(cuda.loss(params), batch.loss(params), rtol=1e-3)


def test_batched_trajectories_equal_separate_runs(tmp_path: Path) -> None:
    """Two objects, logs of different lengths, one launch: each trajectory's loss and gradient is what it is alone."""
    gen = generator()
    logs, bodies = [], []
    for name, duration in (("box", 0.8), ("thin_plate", 0.5)):
        shape = gen.SHAPES[name]
        setup = dataclasses.replace(gen.shape_setups(shape)[0], duration=duration)
        log = read_push_log(gen.make_shape_log(tmp_path / name, shape, setup))
        mesh = trimesh.load(log.mesh_path, process=False)
        logs.append(log)
        bodies.append(body_from_mesh(mesh.vertices, mesh.faces))
    params = np.array([[math.log(0.25), math.log(3000.0), 0.4], [math.log(0.06), math.log(2000.0), 0.4]])
    together = PushBatch.from_logs(logs, bodies, body_index=[0, 1])
    loss, gradient = together.loss_and_gradient(params)
    assert together.steps == 800
    for k in range(2):
        alone = PushBatch.from_logs([logs[k]], [bodies[k]])
        alone_loss, alone_gradient = alone.loss_and_gradient(params[k : k + 1])
        assert loss[k] == pytest.approx(alone_loss[0], rel=1e-5)
        np.testing.assert_allclose(gradient[k], alone_gradient[0], rtol=1e-4, atol=1e-9)
