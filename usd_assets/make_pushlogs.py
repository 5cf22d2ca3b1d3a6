"""Make push logs (push log v1) with MuJoCo, the independent simulator mass identification is tested against.

Run from the repository root::

    .venv/bin/python usd_assets/make_pushlogs.py                 # the demo block's logs -> usd_assets/tabletop/pushes/
    .venv/bin/python usd_assets/make_pushlogs.py --shapes DIR    # the six test shapes -> DIR/<shape>_<n>/

What is simulated (MuJoCo 3/4, ``implicitfast``, 0.5 ms steps, elliptic friction cones, default soft contacts):

- a rigid object built from MuJoCo primitives (boxes, cylinders) with the given total mass spread by volume, so
  MuJoCo computes its centre of mass and inertia itself; the body frame's origin is the centre of mass;
- a table plane (Coulomb friction ``mu``); the fingertip does not collide with it;
- the fingertip: a sphere on three slide joints, weight compensated (``gravcomp``), driven by the PD force
  ``kp * (target - x) + kd * (target_velocity - v)`` applied as a generalised force each step (the robot's
  impedance controller), its target moving on a smooth straight push past the object's centre (with a lateral
  offset, so the object also turns), then holding still while the object comes to rest.

The object first settles on the table for 0.3 s; logging then starts (1 kHz, 1 s by default). The log holds
``t``, ``object_pose`` (x, y, z, qw, qx, qy, qz of the body frame), ``pusher_target`` and the measured
``pusher_position``; ``meta.json`` the pusher, table, gravity, the object's mesh (``object.obj`` in the body
frame, a watertight triangle mesh of the same solid, written next to the log) and a ``truth`` entry (the mass
MuJoCo used) that identification never reads.

Everything is seeded and deterministic: the same arguments give the same files.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "DEMO_BLOCK_MASS_KG",
    "DEMO_PUSHES",
    "SHAPES",
    "PushSetup",
    "Shape",
    "add_pose_noise",
    "make_demo_logs",
    "make_shape_log",
    "shape_mesh",
    "simulate_push",
]

SEED = 6
DEMO_BLOCK_MASS_KG = 0.21
DEMO_BLOCK_SIZE = (0.10, 0.06, 0.05)
# Where the demo twin has the block after ``splattwin demo`` aligned it (origin at the robot base, table top at
# z = 0, x axis turned 35 deg from capture.json's truth frame: alignment knows up, scale and origin, not heading):
# centre (0.2998, 0.3564) m, long axis at 65 deg (``read_collision_mesh`` + the prim's world transform).
DEMO_BLOCK_CENTRE_XY = (0.2998, 0.3564)
DEMO_BLOCK_YAW_DEG = 65.0


@dataclass(frozen=True)
class Shape:
    """A solid made of disjoint primitives in its build frame (metres).

    Attributes:
        name: identifier.
        boxes: (centre [3], full extents [3]) of each box.
        cylinders: (centre [3], radius, full height) of each z-axis cylinder.
        mass: total mass [kg], spread over the primitives by volume.
    """

    name: str
    mass: float
    boxes: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = ()
    cylinders: tuple[tuple[tuple[float, float, float], float, float], ...] = ()

    def volumes(self) -> list[float]:
        """Volume of each primitive [m^3], boxes first."""
        return [float(np.prod(e)) for _, e in self.boxes] + [math.pi * r * r * h for _, r, h in self.cylinders]

    def centre_of_mass(self) -> np.ndarray:
        """Volume-weighted centre of the primitives, build frame [m]."""
        centres = [np.array(c) for c, _ in self.boxes] + [np.array(c) for c, _, _ in self.cylinders]
        volumes = np.array(self.volumes())
        return (np.array(centres) * volumes[:, None]).sum(0) / volumes.sum()


def _rect_boxes(rects: list[tuple[float, float, float, float]], height: float) -> tuple:
    return tuple((((x0 + x1) / 2, (y0 + y1) / 2, height / 2), (x1 - x0, y1 - y0, height)) for x0, x1, y0, y1 in rects)


SHAPES: dict[str, Shape] = {
    "box": Shape("box", 0.30, boxes=(((0.0, 0.0, 0.025), (0.08, 0.06, 0.05)),)),
    "cylinder": Shape("cylinder", 0.50, cylinders=(((0.0, 0.0, 0.04), 0.035, 0.08),)),
    "l_shape": Shape("l_shape", 0.15, boxes=_rect_boxes([(0, 0.10, 0, 0.03), (0, 0.03, 0.03, 0.09)], 0.04)),
    "letter_t": Shape("letter_t", 0.08, boxes=_rect_boxes([(0, 0.09, 0.06, 0.085), (0.0325, 0.0575, 0, 0.06)], 0.03)),
    "thin_plate": Shape("thin_plate", 0.05, boxes=(((0.0, 0.0, 0.006), (0.15, 0.10, 0.012)),)),
    "tall_bottle": Shape(
        "tall_bottle", 1.00, cylinders=(((0.0, 0.0, 0.07), 0.035, 0.14), ((0.0, 0.0, 0.165), 0.014, 0.05))
    ),
}
"""The six test shapes (masses 0.05 to 1 kg)."""


@dataclass(frozen=True, kw_only=True)
class PushSetup:
    """One push: where the object lies and how the fingertip moves.

    Attributes:
        position_xy: object centre of mass on the table, world [m].
        yaw_deg: object yaw about world z [deg].
        direction_deg: push direction in the table plane [deg from +x].
        lateral_offset: offset of the push line from the centre of mass [m] (turns the object).
        speed: cruise speed of the target [m/s].
        push_time: time the target moves [s] (0.1 s ramps at both ends).
        duration: logged time [s].
        push_height: fingertip centre above the table [m]; None picks min(0.4 * height, 0.02).
        table_height: world z of the table [m].
        table_friction: object-table Coulomb friction.
        pusher_radius, pusher_mass, kp, kd, pusher_friction: the fingertip (see push log v1).
        log_rate: samples per second.
        gap: initial distance between fingertip and object surface [m].
    """

    position_xy: tuple[float, float] = (0.4, 0.0)
    yaw_deg: float = 0.0
    direction_deg: float = 0.0
    lateral_offset: float = 0.01
    speed: float = 0.15
    push_time: float = 0.7
    duration: float = 1.0
    push_height: float | None = None
    table_height: float = 0.0
    table_friction: float = 0.4
    pusher_radius: float = 0.008
    pusher_mass: float = 0.3
    kp: float = 150.0
    kd: float = 12.0
    pusher_friction: float = 0.2
    log_rate: float = 1000.0
    gap: float = 0.015
    extra_meta: dict = field(default_factory=dict)


def _grid_extrusion(rects: list[tuple[float, float, float, float]], height: float) -> tuple[np.ndarray, np.ndarray]:
    """Watertight extrusion of a union of disjoint axis-aligned rectangles (no T-junctions: one shared grid)."""
    rects = [tuple(round(v, 9) for v in r) for r in rects]  # one grid line per shared edge despite rounding
    xs = np.unique([v for r in rects for v in r[:2]])
    ys = np.unique([v for r in rects for v in r[2:]])

    def inside(i: int, j: int) -> bool:
        if not (0 <= i < len(xs) - 1 and 0 <= j < len(ys) - 1):
            return False
        cx, cy = (xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2
        return any(x0 < cx < x1 and y0 < cy < y1 for x0, x1, y0, y1 in rects)

    nx, ny = len(xs), len(ys)

    def vid(i: int, j: int, top: int) -> int:
        return top * nx * ny + j * nx + i

    vertices = np.array([(xs[i], ys[j], top * height) for top in (0, 1) for j in range(ny) for i in range(nx)])
    faces = []
    for i in range(nx - 1):
        for j in range(ny - 1):
            if not inside(i, j):
                continue
            a, b, c, d = (i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)
            faces += [[vid(*a, 0), vid(*c, 0), vid(*b, 0)], [vid(*a, 0), vid(*d, 0), vid(*c, 0)]]  # bottom: -z
            faces += [[vid(*a, 1), vid(*b, 1), vid(*c, 1)], [vid(*a, 1), vid(*c, 1), vid(*d, 1)]]  # top: +z
            # walls where the neighbour is outside; edges go counter-clockwise seen from +z
            for (p, q), neighbour in (
                ((a, b), (i, j - 1)),
                ((b, c), (i + 1, j)),
                ((c, d), (i, j + 1)),
                ((d, a), (i - 1, j)),
            ):
                if not inside(*neighbour):
                    faces += [[vid(*p, 0), vid(*q, 0), vid(*q, 1)], [vid(*p, 0), vid(*q, 1), vid(*p, 1)]]
    return vertices, np.array(faces, dtype=np.int64)


def shape_mesh(shape: Shape):  # -> trimesh.Trimesh
    """A watertight triangle mesh of the same solid, in the BODY frame (origin at the centre of mass)."""
    import trimesh  # noqa: PLC0415

    com = shape.centre_of_mass()
    if shape.cylinders and not shape.boxes:
        profile = [[0.0, shape.cylinders[0][0][2] - shape.cylinders[0][2] / 2]]
        for c, r, h in shape.cylinders:  # stacked cylinders: a stepped profile of revolution
            profile += [[r, c[2] - h / 2], [r, c[2] + h / 2]]
        profile.append([0.0, profile[-1][1]])
        mesh = trimesh.creation.revolve(profile, sections=64)
    elif len(shape.boxes) == 1 and not shape.cylinders:
        centre, extents = shape.boxes[0]
        mesh = trimesh.creation.box(extents=extents)
        mesh.apply_translation(centre)
    else:
        rects = [(c[0] - e[0] / 2, c[0] + e[0] / 2, c[1] - e[1] / 2, c[1] + e[1] / 2) for c, e in shape.boxes]
        vertices, faces = _grid_extrusion(rects, shape.boxes[0][1][2])
        mesh = trimesh.Trimesh(vertices, faces, process=True)
    mesh.apply_translation(-com)
    assert mesh.is_watertight, shape.name
    return mesh


def _mjcf(shape: Shape, setup: PushSetup) -> str:
    com = shape.centre_of_mass()
    total = sum(shape.volumes())
    masses = [shape.mass * v / total for v in shape.volumes()]
    geoms = []
    for (centre, extents), mass in zip(shape.boxes, masses, strict=False):
        pos = np.array(centre) - com
        size = " ".join(f"{e / 2:.6f}" for e in extents)
        geoms.append(f'<geom type="box" size="{size}" pos="{pos[0]:.6f} {pos[1]:.6f} {pos[2]:.6f}" mass="{mass:.8f}"/>')
    for (centre, radius, height), mass in zip(shape.cylinders, masses[len(shape.boxes) :], strict=True):
        pos = np.array(centre) - com
        geoms.append(
            f'<geom type="cylinder" size="{radius:.6f} {height / 2:.6f}" pos="{pos[0]:.6f} {pos[1]:.6f} '
            f'{pos[2]:.6f}" mass="{mass:.8f}"/>'
        )
    mu, r = setup.table_friction, setup.pusher_radius
    return f"""
<mujoco>
  <option timestep="0.0005" gravity="0 0 -9.81" integrator="implicitfast" cone="elliptic"/>
  <default><geom contype="1" conaffinity="3" friction="{mu} 0.005 0.0001" condim="3"/></default>
  <worldbody>
    <geom name="table" type="plane" size="2 2 0.01" pos="0 0 {setup.table_height}" priority="1"
          friction="{mu} 0.005 0.0001" contype="1" conaffinity="1"/>
    <body name="object" pos="0 0 1">
      <freejoint/>
      {"".join(geoms)}
    </body>
    <body name="finger" gravcomp="1">
      <joint name="fx" type="slide" axis="1 0 0" damping="0"/>
      <joint name="fy" type="slide" axis="0 1 0" damping="0"/>
      <joint name="fz" type="slide" axis="0 0 1" damping="0"/>
      <geom name="tip" type="sphere" size="{r}" mass="{setup.pusher_mass}" contype="2" conaffinity="2"
            priority="2" friction="{setup.pusher_friction} 0.005 0.0001" condim="3"/>
    </body>
  </worldbody>
</mujoco>"""


def _target_distance(t: np.ndarray, setup: PushSetup) -> tuple[np.ndarray, np.ndarray]:
    """Distance along the push [m] and its rate [m/s]: smooth 0.1 s ramps, cruise at ``speed``, then hold."""
    ramp = 0.1
    v = setup.speed * np.clip(np.minimum(t / ramp, (setup.push_time - t) / ramp), 0.0, 1.0)
    v = setup.speed * 0.5 * (1 - np.cos(np.pi * v / max(setup.speed, 1e-12)))  # smooth corners of the trapezoid
    dt = np.diff(t, prepend=t[0])
    return np.cumsum(v * dt), v


def simulate_push(shape: Shape, setup: PushSetup) -> dict[str, np.ndarray]:
    """Run one push in MuJoCo; returns the push log arrays (``t``, ``object_pose``, ``pusher_target``, ...)."""
    import mujoco  # noqa: PLC0415

    from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: PLC0415

    model = mujoco.MjModel.from_xml_string(_mjcf(shape, setup))
    data = mujoco.MjData(model)
    mesh = shape_mesh(shape)
    yaw = math.radians(setup.yaw_deg)
    q_obj = np.array([math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)])
    lowest = float(mesh.vertices[:, 2].min())
    data.qpos[:3] = [*setup.position_xy, setup.table_height - lowest]
    data.qpos[3:7] = q_obj
    # Where the fingertip starts: before the object's face along the push line, at push height.
    direction = np.array([math.cos(math.radians(setup.direction_deg)), math.sin(math.radians(setup.direction_deg)), 0])
    lateral = np.array([-direction[1], direction[0], 0.0])
    world_vertices = mesh.vertices @ quat_wxyz_to_matrix(q_obj).T
    height = float(mesh.vertices[:, 2].max() - lowest)
    push_height = setup.push_height if setup.push_height is not None else min(0.4 * height, 0.02)
    reach = float((world_vertices @ -direction).max())
    start = np.array([*setup.position_xy, 0.0]) - direction * (reach + setup.pusher_radius + setup.gap)
    start += lateral * setup.lateral_offset
    start[2] = setup.table_height + push_height
    finger = slice(7, 10)
    data.qpos[finger] = start
    mujoco.mj_forward(model, data)
    dt = model.opt.timestep
    kp, kd = setup.kp, setup.kd

    def step(target: np.ndarray, target_velocity: np.ndarray) -> None:
        data.qfrc_applied[6:9] = kp * (target - data.qpos[finger]) + kd * (target_velocity - data.qvel[6:9])
        mujoco.mj_step(model, data)

    for _ in range(int(round(0.3 / dt))):  # settle on the table with the fingertip held at its start
        step(start, np.zeros(3))
    n_steps = int(round(setup.duration / dt))
    stride = int(round(1.0 / (setup.log_rate * dt)))
    times = np.arange(n_steps + 1) * dt
    distance, speed = _target_distance(times, setup)
    log = {"t": [], "object_pose": [], "pusher_target": [], "pusher_position": []}
    for i in range(n_steps + 1):
        target = start + direction * distance[i]
        if i % stride == 0:
            log["t"].append(times[i])
            log["object_pose"].append(data.qpos[:7].copy())
            log["pusher_target"].append(target)
            log["pusher_position"].append(data.qpos[finger].copy())
        if i < n_steps:
            step(target, direction * speed[i])
    arrays = {k: np.array(v) for k, v in log.items()}
    q = arrays["object_pose"][:, 3:]
    arrays["object_pose"][:, 3:] = q * np.where(q[:, :1] < 0, -1.0, 1.0)  # one hemisphere, w >= 0
    return arrays


def add_pose_noise(
    pose: np.ndarray, *, position_sigma: float = 1e-3, angle_sigma_deg: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Object poses [T, 7] with independent Gaussian noise: ``position_sigma`` [m] per axis and a rotation of
    ``angle_sigma_deg`` per axis (rotation vector), like a pose tracker's jitter."""
    from splattwin.geometry.transforms import quat_multiply_wxyz  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    noisy = pose.copy()
    noisy[:, :3] += rng.normal(0.0, position_sigma, (len(pose), 3))
    rotvec = rng.normal(0.0, math.radians(angle_sigma_deg), (len(pose), 3))
    angle = np.linalg.norm(rotvec, axis=1, keepdims=True)
    axis = rotvec / np.maximum(angle, 1e-12)
    dq = np.concatenate([np.cos(angle / 2), axis * np.sin(angle / 2)], axis=1)
    noisy[:, 3:] = quat_multiply_wxyz(dq, pose[:, 3:])
    return noisy


def _meta(shape: Shape, setup: PushSetup, mesh_name: str, mass_prior: float | None) -> dict:
    return {
        "format": "splattwin push log v1",
        "pusher": {
            "radius": setup.pusher_radius,
            "mass": setup.pusher_mass,
            "kp": setup.kp,
            "kd": setup.kd,
            "friction": setup.pusher_friction,
        },
        "object": {"mesh": mesh_name, **({"mass_prior": mass_prior} if mass_prior else {})},
        "table": {"height": setup.table_height, "friction": setup.table_friction},
        "gravity": [0.0, 0.0, -9.81],
        "truth": {"mass": shape.mass, "shape": shape.name, "simulator": "MuJoCo", "script": "make_pushlogs.py"},
        **setup.extra_meta,
    }


def make_shape_log(
    folder: Path, shape: Shape, setup: PushSetup, *, mass_prior: float | None = None, noise_seed: int | None = None
) -> Path:
    """Simulate one push of ``shape`` and write it as a push log v1 folder with the object's mesh.

    Args:
        folder: destination folder.
        shape: the object.
        setup: the push.
        mass_prior: written as ``object.mass_prior`` when given.
        noise_seed: add 1 mm / 1 deg object-pose noise with this seed (None: noise-free).
    """
    from splattwin.io.pushlog import write_push_log  # noqa: PLC0415

    arrays = simulate_push(shape, setup)
    if noise_seed is not None:
        arrays["object_pose"] = add_pose_noise(arrays["object_pose"], seed=noise_seed)
    folder.mkdir(parents=True, exist_ok=True)
    shape_mesh(shape).export(folder / "object.obj")
    return write_push_log(folder, meta=_meta(shape, setup, "object.obj", mass_prior), **arrays)


DEMO_PUSHES = (
    PushSetup(position_xy=DEMO_BLOCK_CENTRE_XY, yaw_deg=DEMO_BLOCK_YAW_DEG, direction_deg=65.0, lateral_offset=0.008),
    PushSetup(position_xy=DEMO_BLOCK_CENTRE_XY, yaw_deg=DEMO_BLOCK_YAW_DEG, direction_deg=155.0, lateral_offset=-0.006),
)
"""The demo block's pushes: along its long axis and along its short axis, from where it lies in the twin."""


def make_demo_logs(out: Path) -> list[Path]:
    """The demo block's push logs (twin world frame: origin at the robot base, table top at z = 0)."""
    block = Shape("block", DEMO_BLOCK_MASS_KG, boxes=(((0.0, 0.0, 0.0), DEMO_BLOCK_SIZE),))
    return [make_shape_log(out / f"push_{i}", block, setup) for i, setup in enumerate(DEMO_PUSHES)]


def shape_setups(shape: Shape) -> list[PushSetup]:
    """Two pushes per test shape from different directions (seeded yaw)."""
    rng = np.random.default_rng(SEED + sum(map(ord, shape.name)))
    yaw = float(rng.uniform(0, 90))
    return [
        PushSetup(yaw_deg=yaw, direction_deg=45.0, lateral_offset=0.004),
        PushSetup(yaw_deg=yaw, direction_deg=135.0, lateral_offset=-0.003),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "tabletop" / "pushes")
    parser.add_argument("--shapes", type=Path, help="write the six test shapes' logs here instead")
    parser.add_argument("--noise", action="store_true", help="with --shapes: add 1 mm / 1 deg object-pose noise")
    args = parser.parse_args()
    if args.shapes:
        for name, shape in SHAPES.items():
            for i, setup in enumerate(shape_setups(shape)):
                seed = SEED + i if args.noise else None
                print(make_shape_log(args.shapes / f"{name}_{i}", shape, setup, noise_seed=seed))
    else:
        for path in make_demo_logs(args.out):
            print(path)


if __name__ == "__main__":
    main()
