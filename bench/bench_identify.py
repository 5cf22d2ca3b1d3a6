"""Mass identification benchmark: accuracy and time on MuJoCo-made pushes of six shapes, next to baselines.

Run from the repository root (about a minute and a half on 2 CPU cores)::

    PYTHONPATH=source/splattwin .venv/bin/python bench/bench_identify.py [--quick]

Prints:

1. one forward and one forward+backward of a 1 s push at 1 kHz (Warp, CPU), and a central finite-difference
   gradient of the same loss (3 forwards) as the baseline;
2. per shape (box, cylinder, L-shape, letter T, thin plate, tall bottle; 0.05 to 1 kg; two pushes each):
   identified mass and error, noise-free and with 1 mm / 1 deg object-pose noise, all six fitted in one
   batched simulation; time per object;
3. the same fit for one shape with finite-difference gradients instead of the tape (the baseline);
4. the cross-check against Newton's ``SolverSemiImplicit`` (when ``newton`` is installed): the same push of the
   box simulated by both, the final positions compared, and Newton's forward time.

The logs come from MuJoCo (``usd_assets/make_pushlogs.py``), never from the simulator being fitted.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("make_pushlogs", ROOT / "usd_assets" / "make_pushlogs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_pushlogs"] = module
    spec.loader.exec_module(module)
    return module


def _objects(gen, folder: Path, names: list[str], noise: bool):
    import trimesh

    from splattwin.io.pushlog import read_push_log
    from splattwin.physics import body_from_mesh
    from splattwin.sysid import ObjectPushes

    objects = []
    for name in names:
        shape = gen.SHAPES[name]
        logs = []
        for i, setup in enumerate(gen.shape_setups(shape)):
            seed = 100 + i if noise else None
            path = gen.make_shape_log(folder / f"{name}_{i}_{int(noise)}", shape, setup, noise_seed=seed)
            logs.append(read_push_log(path))
        mesh = trimesh.load(logs[0].mesh_path, process=False)
        body = body_from_mesh(mesh.vertices, mesh.faces, name=name)
        objects.append(ObjectPushes(logs=logs, body=body, mass_prior=0.7 * shape.mass, name=name))
    return objects


def _timings(objects) -> None:
    from splattwin.physics import PushBatch

    obj = objects[0]
    batch = PushBatch.from_logs(obj.logs[:1], [obj.body])
    params = np.array([[math.log(0.3), math.log(3000.0), 0.4]])
    batch.loss_and_gradient(params)  # compile / warm up
    runs = 5
    started = time.perf_counter()
    for _ in range(runs):
        batch.loss(params)
    forward = (time.perf_counter() - started) / runs
    started = time.perf_counter()
    for _ in range(runs):
        batch.loss_and_gradient(params)
    both = (time.perf_counter() - started) / runs
    started = time.perf_counter()
    for _ in range(runs):
        for column in range(3):
            for sign in (1, -1):
                shifted = params.copy()
                shifted[0, column] += sign * 1e-2
                batch.loss(shifted)
    fd = (time.perf_counter() - started) / runs
    print(f"1 s push at 1 kHz ({batch.steps} steps, {len(batch.bodies[0].faces)} triangles), Warp on CPU:")
    print(f"  forward {forward * 1000:.0f} ms, forward+backward {both * 1000:.0f} ms (3 gradients)")
    print(f"  baseline: central finite differences of the 3 parameters {fd * 1000:.0f} ms ({fd / both:.1f}x)")


def _sweep(gen, folder: Path, names: list[str], noise: bool) -> list[float]:
    from splattwin.sysid import identify_masses

    objects = _objects(gen, folder, names, noise)
    started = time.perf_counter()
    results = identify_masses(objects)
    seconds = time.perf_counter() - started
    label = "1 mm / 1 deg pose noise" if noise else "noise-free"
    print(
        f"\n{label}: {len(objects)} objects x 2 pushes in one batched fit, {seconds:.1f} s "
        f"({seconds / len(objects):.1f} s per object), {results[0].evaluations} gradient evaluations"
    )
    print(f"  {'shape':12s} {'true kg':>8s} {'prior kg':>8s} {'identified':>11s} {'error':>8s} {'1-sigma':>9s}")
    errors = []
    for obj, result in zip(objects, results, strict=True):
        truth = gen.SHAPES[obj.name].mass
        if result.mass is None:
            print(f"  {obj.name:12s} {truth:8.3f} {obj.mass_prior:8.3f} {'-':>11s} {'-':>8s}  {result.reason}")
            errors.append(math.nan)
            continue
        error = 100 * (result.mass / truth - 1)
        errors.append(abs(error))
        print(
            f"  {obj.name:12s} {truth:8.3f} {obj.mass_prior:8.3f} {result.mass:11.4f} {error:+7.2f}% "
            f"{100 * result.relative_uncertainty:8.2f}%"
        )
    print(f"  mean absolute error {np.nanmean(errors):.2f}%, worst {np.nanmax(errors):.2f}%")
    return errors


def _finite_difference_baseline(gen, folder: Path) -> None:
    """The same identification with gradients from central differences of the forward simulation."""
    from splattwin.physics import PushBatch
    from splattwin.sysid import identify_mass

    obj = _objects(gen, folder, ["box"], noise=False)[0]
    started = time.perf_counter()
    tape = identify_mass(obj.logs, obj.body, mass_prior=obj.mass_prior)
    tape_seconds = time.perf_counter() - started
    original = PushBatch.loss_and_gradient

    def finite_differences(self, params, step=1e-2):
        loss = self.loss(params)
        gradient = np.zeros_like(params)
        for column in range(params.shape[1]):
            plus, minus = params.copy(), params.copy()
            plus[:, column] += step
            minus[:, column] -= step
            gradient[:, column] = (self.loss(plus).sum() - self.loss(minus).sum()) / (2 * step)
        return loss, gradient

    PushBatch.loss_and_gradient = finite_differences
    try:
        started = time.perf_counter()
        fd = identify_mass(obj.logs, obj.body, mass_prior=obj.mass_prior)
        fd_seconds = time.perf_counter() - started
    finally:
        PushBatch.loss_and_gradient = original
    truth = gen.SHAPES["box"].mass
    print("\nbaseline, box: tape gradients vs central finite differences (same optimiser)")
    print(f"  tape: {tape.mass:.4f} kg ({100 * (tape.mass / truth - 1):+.2f}%), {tape_seconds:.1f} s")
    print(
        f"  finite differences: {fd.mass:.4f} kg ({100 * (fd.mass / truth - 1):+.2f}%), {fd_seconds:.1f} s "
        f"({fd_seconds / tape_seconds:.1f}x)"
    )


def _fingertip_drive_kernel():
    """A Warp kernel applying the fingertip's PD force (plus weight compensation) as Newton's body force."""
    import warp as wp

    @wp.kernel
    def drive_fingertip(
        body_q: wp.array(dtype=wp.transform),
        body_qd: wp.array(dtype=wp.spatial_vector),
        tip: int,
        target: wp.array(dtype=wp.vec3),
        target_v: wp.array(dtype=wp.vec3),
        step: int,
        kp: float,
        kd: float,
        lift: float,
        body_f: wp.array(dtype=wp.spatial_vector),
    ):
        x = wp.transform_get_translation(body_q[tip])
        v = wp.spatial_top(body_qd[tip])
        force = kp * (target[step] - x) + kd * (target_v[step] - v) + wp.vec3(0.0, 0.0, lift)
        body_f[tip] = wp.spatial_vector(force, wp.vec3(0.0, 0.0, 0.0))

    return drive_fingertip


def _newton_cross_check(gen, folder: Path) -> None:
    """Simulate one push of the box in Newton's SolverSemiImplicit (PD fingertip as an applied force) and in the
    Warp model with the same parameters; compare where the box ends up."""
    try:
        import newton
        import warp as wp
    except ImportError:
        print("\nNewton cross-check skipped: `pip install newton` (no extras) to run it")
        return
    import trimesh

    from splattwin.geometry.transforms import quat_wxyz_to_matrix
    from splattwin.io.pushlog import read_push_log
    from splattwin.physics import PushBatch, body_from_mesh

    shape = gen.SHAPES["box"]
    setup = gen.shape_setups(shape)[0]
    log = read_push_log(gen.make_shape_log(folder / "newton_box", shape, setup))
    mesh = trimesh.load(log.mesh_path, process=False)
    body = body_from_mesh(mesh.vertices, mesh.faces)
    mass, dt = shape.mass, 1e-3
    builder = newton.ModelBuilder(up_axis=newton.Axis.Z)
    cfg = newton.ModelBuilder.ShapeConfig(ke=2e4, kd=50.0, kf=200.0, mu=log.table_friction, density=0.0)
    builder.add_ground_plane(height=log.table_height, cfg=cfg)
    pose = log.object_pose[0]
    xform = wp.transform(wp.vec3(*pose[:3]), wp.quat(pose[4], pose[5], pose[6], pose[3]))
    box = builder.add_body(xform=xform, mass=mass, inertia=wp.mat33(*(body.inertia_unit * mass).ravel()))
    half = np.ptp(body.vertices, axis=0) / 2
    builder.add_shape_box(box, hx=float(half[0]), hy=float(half[1]), hz=float(half[2]), cfg=cfg)
    tip_cfg = newton.ModelBuilder.ShapeConfig(ke=3000.0, kd=10.0, kf=100.0, mu=log.pusher.friction, density=0.0)
    p0 = log.pusher_position[0]
    tip = builder.add_body(
        xform=wp.transform(wp.vec3(*p0), wp.quat_identity()), mass=log.pusher.mass, inertia=wp.mat33(np.eye(3) * 1e-5)
    )
    builder.add_shape_sphere(tip, radius=log.pusher.radius, cfg=tip_cfg)
    model = builder.finalize(device="cpu")
    solver = newton.solvers.SolverSemiImplicit(model)
    state, next_state, control = model.state(), model.state(), model.control()
    steps = int(round(log.duration / dt))
    t = log.t[0] + np.arange(steps + 1) * dt
    target = np.array([np.interp(t, log.t, log.pusher_target[:, a]) for a in range(3)]).T
    target_v = np.gradient(target, dt, axis=0)
    contacts = model.contacts()
    drive = _fingertip_drive_kernel()
    target_wp = wp.array(target, dtype=wp.vec3, device="cpu")
    target_v_wp = wp.array(target_v, dtype=wp.vec3, device="cpu")
    started = time.perf_counter()
    for s in range(steps):
        state.body_f.zero_()
        wp.launch(
            drive,
            dim=1,
            inputs=[
                state.body_q,
                state.body_qd,
                tip,
                target_wp,
                target_v_wp,
                s,
                log.pusher.kp,
                log.pusher.kd,
                log.pusher.mass * 9.81,
            ],
            outputs=[state.body_f],
            device="cpu",
        )
        model.collide(state, contacts)
        solver.step(state, next_state, control, contacts, dt)
        state, next_state = next_state, state
    newton_seconds = time.perf_counter() - started
    final = state.body_q.numpy()[box]
    batch = PushBatch.from_logs([log], [body])
    ours = batch.simulate(np.array([[math.log(mass), math.log(3000.0), log.table_friction]]))[0].object_pose[-1]
    yaw = [math.degrees(math.atan2(*quat_wxyz_to_matrix(q)[[1, 0], 0])) for q in (ours[3:], log.object_pose[-1, 3:])]
    newton_yaw = math.degrees(math.atan2(*quat_wxyz_to_matrix(np.r_[final[6], final[3:6]])[[1, 0], 0]))
    moved = np.linalg.norm(log.object_pose[-1, :2] - log.object_pose[0, :2])
    print("\ncross-check on one push of the box (0.3 kg), same parameters, final object position:")
    print(
        f"  MuJoCo (the log)  {np.round(log.object_pose[-1, :2], 4)}  yaw {yaw[1]:.2f} deg  "
        f"(moved {1000 * moved:.1f} mm)"
    )
    print(
        f"  Warp (this model) {np.round(ours[:2], 4)}  yaw {yaw[0]:.2f} deg  "
        f"distance to MuJoCo {1000 * np.linalg.norm(ours[:2] - log.object_pose[-1, :2]):.2f} mm"
    )
    print(
        f"  Newton semi-impl. {np.round(final[:2], 4)}  yaw {newton_yaw:.2f} deg  "
        f"distance to Warp {1000 * np.linalg.norm(final[:2] - ours[:2]):.2f} mm; forward {newton_seconds:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two shapes only, no noise run")
    args = parser.parse_args()
    gen = _generator()
    names = ["box", "thin_plate"] if args.quick else list(gen.SHAPES)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        objects = _objects(gen, folder, names[:1], noise=False)
        _timings(objects)
        _sweep(gen, folder, names, noise=False)
        if not args.quick:
            _sweep(gen, folder, names, noise=True)
        _finite_difference_baseline(gen, folder)
        _newton_cross_check(gen, folder)


if __name__ == "__main__":
    main()
