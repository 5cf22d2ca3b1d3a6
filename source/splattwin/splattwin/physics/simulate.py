"""Differentiable push simulation in NVIDIA Warp: rigid objects on a table pushed by a PD-driven fingertip.

The model (equations in docs/identification.md):

- the object is a rigid body (position, unit quaternion, linear and angular velocity) with mass ``m`` and
  inertia ``m * I_unit`` (``I_unit`` from its collision mesh at uniform density), integrated by semi-implicit
  Euler at ``dt``;
- contact points sampled on its collision mesh (the corners of its convex hull, or of each of its convex parts
  when the twin has them: ``import-mesh --collider decompose``) touch the table plane through a penalty normal
  force and a bristle friction (tangential spring capped at ``mu * fn``), so objects stop instead of creeping;
- the fingertip is a sphere of mass ``m_p`` driven toward the commanded targets by
  ``kp * (target - x) + kd * (target_velocity - v)`` (the robot's impedance controller); its contact with the
  object is a penalty spring of stiffness ``k_c`` (a nuisance parameter: compliance differs between the real
  world, another simulator and this model) on the mesh triangle nearest to its centre. That triangle is found
  by a BVH query launched outside the tape, then the closest point is recomputed differentiably.

Many trajectories run in one launch (Warp dimension over trajectories); each reads its parameters through an
index, so several pushes of one object share them. Everything is recorded on a ``wp.Tape``; the gradient of the
pose loss with respect to log-mass, log-contact-stiffness and table friction comes from one backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from splattwin.errors import InputError

if TYPE_CHECKING:
    from splattwin.io.pushlog import PushLog

__all__ = [
    "PARAMETER_NAMES",
    "PushBatch",
    "PushBody",
    "PushSimConfig",
    "SimulatedPush",
    "body_from_mesh",
    "sample_contact_points",
]

PARAMETER_NAMES = ("log_mass", "log_contact_stiffness", "table_friction")
"""Columns of a parameter matrix ``[objects, 3]``: ln(kg), ln(N/m), Coulomb coefficient."""


@dataclass(kw_only=True)
class PushSimConfig:
    """Settings of the push simulation.

    Attributes:
        dt: integration step [s].
        contact_points: most contact points per object (convex-hull vertices first).
        surface_fraction: fraction of them sampled uniformly on the surface (0: hull vertices only).
        table_omega: table contact natural frequency [rad/s]; stiffness ``m * omega^2`` shared by the supporting
            points, so the resting penetration is ``g / omega^2`` whatever the mass.
        table_damping_ratio: damping ratio of the table contact.
        contact_damping_ratio: damping ratio of the fingertip-object contact.
        length_scale: metres per radian weighing orientation errors against position errors in the loss.
        pusher_weight: weight of the measured fingertip position in the loss (0 ignores it).
        seed: seed of the contact point sampling.
        device: Warp device (``cpu``, ``cuda``, ``cuda:0``...).
    """

    dt: float = 1e-3
    contact_points: int = 128
    surface_fraction: float = 0.5
    table_omega: float = 200.0
    table_damping_ratio: float = 0.5
    contact_damping_ratio: float = 0.3
    length_scale: float = 0.02
    pusher_weight: float = 10.0
    seed: int = 0
    device: str = "cpu"

    def validate(self) -> None:
        """Check the values; a too large step against the table frequency would make the contacts explode."""
        if not (0 < self.dt <= 0.005):
            raise InputError("dt", f"must be in (0, 0.005] s, got {self.dt}")
        if self.table_omega * self.dt > 0.6:
            raise InputError("table_omega", f"omega * dt = {self.table_omega * self.dt:.3g} must stay below 0.6")
        if self.contact_points < 8:
            raise InputError("contact_points", f"must be >= 8, got {self.contact_points}")
        if self.length_scale < 0 or self.pusher_weight < 0:
            raise InputError("length_scale/pusher_weight", "must be >= 0")


@dataclass(kw_only=True)
class PushBody:
    """An object's collision mesh in its body frame (origin at the centre of mass) and its unit-mass inertia.

    Attributes:
        vertices: body frame [m], shape [V, 3].
        faces: triangles, shape [F, 3].
        inertia_unit: inertia about the centre of mass per kilogram [m^2], body frame, shape [3, 3].
        volume: enclosed volume [m^3].
        name: where the mesh came from (for messages).
        parts: the body's convex collision parts, body frame [m]: each (vertices [V, 3], triangles [F, 3]); empty
            when the body collides as its convex hull. The table contact points are then the parts' corners
            (an L's inner corner is one, its hull has none there); the fingertip touches ``vertices``/``faces``
            either way, the surface itself, which is not convexified.
    """

    vertices: np.ndarray
    faces: np.ndarray
    inertia_unit: np.ndarray
    volume: float
    name: str = ""
    parts: tuple[tuple[np.ndarray, np.ndarray], ...] = ()


def body_from_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    *,
    name: str = "mesh",
    parts: list[tuple[np.ndarray, np.ndarray]] | tuple[tuple[np.ndarray, np.ndarray], ...] = (),
) -> PushBody:
    """Build a :class:`PushBody` from a closed triangle mesh given in its body frame.

    Args:
        vertices: body frame [m], shape [V, 3]; the origin should be the centre of mass (a uniform-density
            centroid more than 1 mm away is reported).
        faces: triangles [F, 3].
        name: the mesh's file or prim, used in error messages.
        parts: convex collision parts in the same frame (see :class:`PushBody`); the inertia still comes from
            the closed mesh.

    Raises:
        InputError: a mesh with zero (or negative) volume, NaN vertices, or its centroid away from the origin.
    """
    import trimesh  # noqa: PLC0415

    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise InputError(name, f"needs vertices [V, 3] and triangles [F, 3], got {vertices.shape} and {faces.shape}")
    if not np.isfinite(vertices).all():
        raise InputError(name, "mesh vertices hold NaN/inf")
    mesh = trimesh.Trimesh(vertices, faces, process=True)
    # Zero-area triangles (e.g. at the poles of a surface of revolution) have no normal: drop them.
    mesh.update_faces(mesh.nondegenerate_faces(height=1e-9))
    mesh.remove_unreferenced_vertices()
    volume = float(mesh.volume) if mesh.is_volume else float(abs(mesh.convex_hull.volume))
    extent = float(np.ptp(vertices, axis=0).max())
    if not (volume > 1e-9 * max(extent, 1e-3) ** 3 and volume > 1e-12):
        raise InputError(name, f"mesh encloses no volume ({volume:.3g} m^3): a flat or degenerate collision mesh")
    source = mesh if mesh.is_volume else mesh.convex_hull
    centroid = np.asarray(source.center_mass)
    if np.linalg.norm(centroid) > 1e-3:
        raise InputError(
            name, f"mesh centroid is {np.round(centroid, 4).tolist()} m from its origin: give it in the body frame"
        )
    inertia_unit = np.asarray(source.moment_inertia) / float(source.mass)
    return PushBody(
        vertices=np.asarray(mesh.vertices),
        faces=np.asarray(mesh.faces),
        inertia_unit=inertia_unit,
        volume=volume,
        name=name,
        parts=tuple((np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64)) for v, f in parts),
    )


def _farthest_points(points: np.ndarray, count: int) -> np.ndarray:
    """``count`` of ``points`` [N, 3] spread evenly (greedy farthest-point sampling from the lowest one); O(N count)."""
    chosen = [int(np.argmin(points[:, 2]))]
    distance = np.linalg.norm(points - points[chosen[0]], axis=1)
    for _ in range(count - 1):
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return points[chosen]


def sample_contact_points(body: PushBody, count: int, seed: int = 0, surface_fraction: float = 0.0) -> np.ndarray:
    """Contact points, body frame [m], shape [count, 3]: the convex-hull vertices (a rigid object stands on the
    corners of its support polygon, as MuJoCo's box-plane contacts do), optionally mixed with a fraction of
    area-weighted surface samples (seeded) for a distributed pressure.

    A hull with more vertices than places (a 64-sided bottle: 192) keeps an evenly spread subset, by farthest-point
    sampling from the lowest vertex: a random subset left 18 of the bottle's 64 base-rim corners with a 50 deg gap,
    a lopsided support polygon (an even subset: 32, 11 deg apart).

    A body with convex parts stands on the parts' corners instead (each part's hull vertices, shared ones once):
    what MuJoCo and PhysX collide when the parts are the colliders."""
    import trimesh  # noqa: PLC0415

    mesh = trimesh.Trimesh(body.vertices, body.faces, process=False)
    if body.parts:
        corners = np.concatenate([trimesh.convex.convex_hull(v).vertices for v, _ in body.parts])
        hull = np.unique(np.round(corners, 9), axis=0)
    else:
        hull = np.asarray(mesh.convex_hull.vertices)
    n_surface = int(round(surface_fraction * count))
    n_hull = count - n_surface
    if len(hull) > n_hull:
        hull = _farthest_points(hull, n_hull)
    samples = np.zeros((0, 3))
    if n_surface:
        samples, _ = trimesh.sample.sample_surface(mesh, n_surface, seed=seed)
    points = np.concatenate([hull, np.asarray(samples)])
    return points.astype(np.float64)


@dataclass
class SimulatedPush:
    """A simulated trajectory, sampled at the simulation steps.

    Attributes:
        t: times [s], shape [S + 1] (from the log's first time).
        object_pose: world frame, shape [S + 1, 7] (position [m], quaternion wxyz).
        pusher_position: world frame [m], shape [S + 1, 3].
    """

    t: np.ndarray
    object_pose: np.ndarray
    pusher_position: np.ndarray


def _wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    return np.concatenate([q[..., 1:], q[..., :1]], axis=-1)


def _xyzw_to_wxyz(q: np.ndarray) -> np.ndarray:
    return np.concatenate([q[..., 3:], q[..., :3]], axis=-1)


@dataclass
class _Trajectory:
    log: PushLog
    body_index: int
    param_index: int


@dataclass
class PushBatch:
    """Several push logs (of one or several objects) prepared for batched, differentiable simulation.

    Build with :meth:`from_logs`; evaluate with :meth:`loss`, :meth:`loss_and_gradient` or :meth:`simulate`.
    Parameters are a matrix ``[objects, 3]`` with columns :data:`PARAMETER_NAMES`.
    """

    config: PushSimConfig
    bodies: list[PushBody]
    trajectories: list[_Trajectory]
    steps: int
    residual_counts: np.ndarray
    table_offsets: np.ndarray
    origins: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    point_width: int = 0
    _arrays: dict = field(default_factory=dict)
    _meshes: list = field(default_factory=list)

    @property
    def object_count(self) -> int:
        """Number of parameter sets (objects)."""
        return 1 + max(t.param_index for t in self.trajectories)

    @classmethod
    def from_logs(
        cls,
        logs: list[PushLog],
        bodies: list[PushBody],
        *,
        body_index: list[int] | None = None,
        param_index: list[int] | None = None,
        config: PushSimConfig | None = None,
    ) -> PushBatch:
        """Prepare a batch.

        Args:
            logs: validated push logs.
            bodies: the objects' collision bodies.
            body_index: body of each log (default: all use ``bodies[0]``).
            param_index: parameter set of each log (default: the body index: one set per object).
            config: simulation settings.
        """
        import warp as wp  # noqa: PLC0415

        config = config or PushSimConfig()
        config.validate()
        wp.init()
        try:
            if not wp.get_device(config.device).is_cpu and not wp.is_cuda_available():
                raise RuntimeError("CUDA is not available")
        except (RuntimeError, ValueError) as exc:
            raise InputError("--device", f"Warp device {config.device!r} is not available here ({exc})") from None
        body_index = body_index or [0] * len(logs)
        param_index = param_index or list(body_index)
        trajectories = [_Trajectory(log, bi, pi) for log, bi, pi in zip(logs, body_index, param_index, strict=True)]
        steps = max(int(math.ceil(log.duration / config.dt - 1e-9)) for log in logs)
        batch = cls(
            config=config,
            bodies=bodies,
            trajectories=trajectories,
            steps=steps,
            residual_counts=np.zeros(len(logs)),
            table_offsets=np.zeros(len(logs)),
        )
        batch._allocate()
        return batch

    def _allocate(self) -> None:
        import warp as wp  # noqa: PLC0415

        cfg, device = self.config, self.config.device
        n_b, n_s = len(self.trajectories), self.steps
        wanted = self.config.contact_points
        body_points = [sample_contact_points(body, wanted, cfg.seed, cfg.surface_fraction) for body in self.bodies]
        # A box has 8 hull vertices: the launch only spans the points some body really has.
        n_p = self.point_width = max(len(p) for p in body_points)
        points = np.zeros((n_b, n_p, 3))
        point_count = np.zeros(n_b, np.int32)
        support = np.ones(n_b)
        table_height = np.zeros(n_b)
        sim_t = np.arange(n_s + 1) * cfg.dt
        targets = np.zeros((n_s + 1, n_b, 3))
        target_v = np.zeros((n_s + 1, n_b, 3))
        n_obs = max(len(t.log.t) for t in self.trajectories)
        obs_step = np.zeros((n_obs, n_b), np.int32)
        obs_x = np.zeros((n_obs, n_b, 3))
        obs_q = np.tile(np.array([0.0, 0.0, 0.0, 1.0]), (n_obs, n_b, 1))
        obs_p = np.zeros((n_obs, n_b, 3))
        weight = np.zeros((n_obs, n_b))
        pusher_weight = np.zeros(n_b)
        x0 = np.zeros((n_b, 3))
        q0 = np.zeros((n_b, 4))
        p0 = np.zeros((n_b, 3))
        gravity = self.trajectories[0].log.gravity
        rest_penetration = float(np.linalg.norm(gravity)) / cfg.table_omega**2
        self.origins = np.array([t.log.object_pose[0, :3] for t in self.trajectories])
        for b, traj in enumerate(self.trajectories):
            log = traj.log
            # Each trajectory is simulated relative to the object's first position: float32 keeps its precision.
            origin = self.origins[b]
            if not np.allclose(log.gravity, gravity):
                raise InputError(log.folder, "all logs of one batch must share the gravity vector")
            pts = body_points[traj.body_index]
            points[b, : len(pts)] = pts
            point_count[b] = len(pts)
            x0[b], q0[b] = 0.0, log.object_pose[0, 3:]
            from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: PLC0415

            world_z = (pts @ quat_wxyz_to_matrix(q0[b]).T)[:, 2] + x0[b, 2]
            lowest = float(world_z.min())
            support[b] = max(1, int((world_z < lowest + 1e-3).sum()))
            # The plane sits where the logged object rests (penetrating g / omega^2), so the first step is at rest.
            table_height[b] = lowest + rest_penetration
            self.table_offsets[b] = table_height[b] + origin[2] - log.table_height
            t_rel = log.t - log.t[0]
            for axis in range(3):
                targets[:, b, axis] = np.interp(sim_t, t_rel, log.pusher_target[:, axis] - origin[axis])
            target_v[:, b] = np.gradient(targets[:, b], cfg.dt, axis=0)
            measured = log.pusher_position
            p0[b] = (measured[0] if measured is not None else log.pusher_target[0]) - origin
            steps = np.rint(t_rel / cfg.dt).astype(np.int64)
            keep = steps <= n_s
            k = int(keep.sum())
            obs_step[:k, b] = steps[keep]
            obs_x[:k, b] = log.object_pose[keep, :3] - origin
            obs_q[:k, b] = _wxyz_to_xyzw(log.object_pose[keep, 3:])
            weight[:k, b] = 1.0
            if measured is not None and cfg.pusher_weight > 0:
                obs_p[:k, b] = measured[keep] - origin
                pusher_weight[b] = cfg.pusher_weight
            self.residual_counts[b] = k * (6 + (3 if pusher_weight[b] > 0 else 0))
        vertices, faces, face_offset, mesh_ids = [], [], [], []
        point_base = 0
        for body in self.bodies:
            mesh = wp.Mesh(
                points=wp.array(body.vertices, dtype=wp.vec3, device=device),
                indices=wp.array(body.faces.reshape(-1), dtype=wp.int32, device=device),
            )
            self._meshes.append(mesh)
            mesh_ids.append(mesh.id)
            face_offset.append(sum(len(f) for f in faces))
            vertices.append(body.vertices)
            faces.append((body.faces + point_base).reshape(-1))
            point_base += len(body.vertices)
        a = self._arrays

        def put(name: str, values: np.ndarray, dtype, grad: bool = False) -> None:
            a[name] = wp.array(values, dtype=dtype, device=device, requires_grad=grad)

        put("mesh_ids", np.array(mesh_ids, np.uint64), wp.uint64)
        put("mesh_index", np.array([t.body_index for t in self.trajectories], np.int32), wp.int32)
        put("mesh_points", np.concatenate(vertices), wp.vec3)
        put("mesh_faces", np.concatenate(faces).astype(np.int32), wp.int32)
        put("face_offset", np.array(face_offset, np.int32), wp.int32)
        put("param_index", np.array([t.param_index for t in self.trajectories], np.int32), wp.int32)
        put("points_body", points, wp.vec3)
        put("point_count", point_count, wp.int32)
        put("support_count", support, wp.float32)
        put("table_height", table_height, wp.float32)
        put("inertia_unit", np.array([self.bodies[t.body_index].inertia_unit for t in self.trajectories]), wp.mat33)
        spec = [t.log.pusher for t in self.trajectories]
        for name in ("radius", "mass", "kp", "kd", "friction"):
            put(f"pusher_{name}", np.array([getattr(s, name) for s in spec]), wp.float32)
        put("target_x", targets, wp.vec3)
        put("target_v", target_v, wp.vec3)
        put("observed_step", obs_step, wp.int32)
        put("observed_x", obs_x, wp.vec3)
        put("observed_q", obs_q, wp.quat)
        put("observed_pusher", obs_p, wp.vec3)
        put("sample_weight", weight, wp.float32)
        put("pusher_weight", pusher_weight, wp.float32)
        self._initial = (x0, _wxyz_to_xyzw(q0), p0)
        self._gravity = wp.vec3(*map(float, gravity))
        for name, dtype, shape in (
            ("body_x", wp.vec3, (n_s + 1, n_b)),
            ("body_q", wp.quat, (n_s + 1, n_b)),
            ("body_v", wp.vec3, (n_s + 1, n_b)),
            ("body_w", wp.vec3, (n_s + 1, n_b)),
            ("pusher_x", wp.vec3, (n_s + 1, n_b)),
            ("pusher_v", wp.vec3, (n_s + 1, n_b)),
            ("bristle", wp.vec3, (n_s + 1, n_b, n_p)),
            ("force", wp.vec3, (n_s, n_b)),
            ("torque", wp.vec3, (n_s, n_b)),
        ):
            a[name] = wp.zeros(shape, dtype=dtype, device=device, requires_grad=True)
        a["faces"] = wp.zeros((n_s, n_b), dtype=wp.int32, device=device)
        a["loss"] = wp.zeros(n_b, dtype=wp.float32, device=device, requires_grad=True)
        for name in PARAMETER_NAMES:
            a[name] = wp.zeros(self.object_count, dtype=wp.float32, device=device, requires_grad=True)

    def _reset(self, params: np.ndarray) -> None:
        a = self._arrays
        for name in ("body_x", "body_q", "body_v", "body_w", "pusher_x", "pusher_v", "bristle", "force", "torque"):
            a[name].zero_()
            a[name].grad.zero_()
        a["loss"].zero_()
        a["loss"].grad.zero_()
        for name in PARAMETER_NAMES:
            a[name].grad.zero_()
        x0, q0, p0 = self._initial
        a["body_x"][0].assign(x0.astype(np.float32))
        a["body_q"][0].assign(q0.astype(np.float32))
        a["pusher_x"][0].assign(p0.astype(np.float32))
        params = np.asarray(params, dtype=np.float64).reshape(self.object_count, len(PARAMETER_NAMES))
        for column, name in enumerate(PARAMETER_NAMES):
            a[name].assign(params[:, column].astype(np.float32))

    def _step_arguments(self) -> list[tuple]:
        """(kernel, dim, inputs, outputs) of the three per-step launches; argument 0 is the step index."""
        from splattwin.physics import kernels  # noqa: PLC0415

        a, cfg = self._arrays, self.config
        n_b, n_p = len(self.trajectories), self.point_width
        state = [a[n] for n in ("body_x", "body_q", "body_v", "body_w")]
        find = (
            kernels.find_closest_faces,
            n_b,
            [0, a["mesh_ids"], a["mesh_index"], a["body_x"], a["body_q"], a["pusher_x"], 1.0],
            [a["faces"]],
        )
        table = (
            kernels.accumulate_table_contacts,
            (n_b, n_p),
            [
                0,
                cfg.dt,
                a["points_body"],
                a["point_count"],
                a["support_count"],
                a["param_index"],
                a["log_mass"],
                a["table_friction"],
                a["table_height"],
                cfg.table_omega,
                cfg.table_damping_ratio,
                *state,
            ],
            [a["bristle"], a["force"], a["torque"]],
        )
        integrate = (
            kernels.integrate_bodies,
            n_b,
            [
                0,
                cfg.dt,
                self._gravity,
                a["mesh_ids"],
                a["mesh_index"],
                a["mesh_points"],
                a["mesh_faces"],
                a["face_offset"],
                a["faces"],
                a["param_index"],
                a["log_mass"],
                a["log_contact_stiffness"],
                a["inertia_unit"],
                a["pusher_radius"],
                a["pusher_mass"],
                a["pusher_kp"],
                a["pusher_kd"],
                a["pusher_friction"],
                cfg.contact_damping_ratio,
                a["target_x"],
                a["target_v"],
                a["force"],
                a["torque"],
            ],
            [*state, a["pusher_x"], a["pusher_v"]],
        )
        return [find, table, integrate]

    def _commands(self) -> tuple[list, list]:
        """Recorded forward and adjoint launches (``wp.launch(record_cmd=True)``), built once per batch.

        A 1 s push at 1 kHz is 3000 launches forward and 2000 backward; replaying recorded launches and only
        changing the step index avoids re-packing 25 arguments each time, which dominated the run time.
        """
        import warp as wp  # noqa: PLC0415

        if "commands" not in self._arrays:
            device = self.config.device
            helper = wp.Tape()
            forward, adjoint = [], []
            for i, (kernel, dim, inputs, outputs) in enumerate(self._step_arguments()):
                forward.append(
                    wp.launch(kernel, dim=dim, inputs=inputs, outputs=outputs, device=device, record_cmd=True)
                )
                if i == 0:
                    continue  # the face search has no derivative
                adjoint.append(
                    wp.launch(
                        kernel,
                        dim=dim,
                        inputs=inputs,
                        outputs=outputs,
                        adj_inputs=[helper.get_adjoint(x) for x in inputs],
                        adj_outputs=[helper.get_adjoint(x) for x in outputs],
                        adjoint=True,
                        device=device,
                        record_cmd=True,
                    )
                )
            self._arrays["commands"] = (forward, adjoint)
        return self._arrays["commands"]

    def _forward(self, tape) -> None:  # noqa: ANN001  (wp.Tape or None)
        import warp as wp  # noqa: PLC0415

        from splattwin.physics import kernels  # noqa: PLC0415

        a, cfg, device = self._arrays, self.config, self.config.device
        forward, adjoint = self._commands()
        for s in range(self.steps):
            for command in forward:
                command.set_param_at_index(0, s)
                command.launch()

        def backward() -> None:
            for s in reversed(range(self.steps)):
                for command in reversed(adjoint):
                    command.set_param_at_index(0, s)
                    command.set_param_at_index(0, s, adjoint=True)
                    command.launch()

        context = tape if tape is not None else _NullContext()
        with context:
            if tape is not None:
                tape.record_func(backward, [a[name] for name in PARAMETER_NAMES])
            wp.launch(
                kernels.accumulate_pose_loss,
                dim=a["observed_step"].shape,
                inputs=[
                    a["observed_step"],
                    a["observed_x"],
                    a["observed_q"],
                    a["observed_pusher"],
                    a["pusher_weight"],
                    a["sample_weight"],
                    cfg.length_scale,
                    a["body_x"],
                    a["body_q"],
                    a["pusher_x"],
                ],
                outputs=[a["loss"]],
                device=device,
            )

    def loss(self, params: np.ndarray) -> np.ndarray:
        """Loss per trajectory (``0.5 * sum of squared residuals``, metres) for parameters ``[objects, 3]``."""
        self._reset(params)
        self._forward(None)
        return self._arrays["loss"].numpy().astype(np.float64)

    def loss_and_gradient(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Loss per trajectory [B] and the gradient of their sum with respect to ``params`` [objects, 3]."""
        import warp as wp  # noqa: PLC0415

        self._reset(params)
        tape = wp.Tape()
        self._forward(tape)
        loss = self._arrays["loss"]
        tape.backward(grads={loss: wp.ones(loss.shape, dtype=wp.float32, device=self.config.device)})
        gradient = np.stack([self._arrays[n].grad.numpy() for n in PARAMETER_NAMES], axis=1).astype(np.float64)
        values = loss.numpy().astype(np.float64)
        tape.zero()
        tape.reset()
        return values, gradient

    def simulate(self, params: np.ndarray) -> list[SimulatedPush]:
        """Simulated object and fingertip trajectories, one per log, at the simulation steps."""
        self.loss(params)
        a = self._arrays
        x, q, p = a["body_x"].numpy(), a["body_q"].numpy(), a["pusher_x"].numpy()
        out = []
        for b, traj in enumerate(self.trajectories):
            n = int(math.ceil(traj.log.duration / self.config.dt - 1e-9)) + 1
            origin = self.origins[b]
            pose = np.concatenate([x[:n, b] + origin, _xyzw_to_wxyz(q[:n, b])], axis=1).astype(np.float64)
            t = traj.log.t[0] + np.arange(n) * self.config.dt
            out.append(SimulatedPush(t=t, object_pose=pose, pusher_position=p[:n, b].astype(np.float64) + origin))
        return out


class _NullContext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
