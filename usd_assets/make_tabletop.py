"""Generate the sample tabletop workcell the way a reconstruction would deliver it (seeded, deterministic).

Run from the repository root::

    .venv/bin/python usd_assets/make_tabletop.py            # writes usd_assets/tabletop/
    .venv/bin/python usd_assets/make_tabletop.py --out DIR  # anywhere else

Ground truth is built in the WORLD frame (z-up, metres, floor at z = 0, origin on the floor right below the
robot base, x pointing from the robot across the table): a table, a floor and a back wall (the background), a
wooden block to push, and the robot base point on the middle of the table's back edge. Every file is then written
in ONE reconstruction frame, as SfM / 2DGS would give it: y-up, in arbitrary units (1 unit = 0.42 m), turned off
level by a few degrees and shifted. That frame change is :data:`TRUE_RECON_FROM_WORLD`; alignment at import has to
find its inverse from ``capture.json`` alone, and tests compare against it.

Files written (see ``usd_assets/README.md``): ``scene.obj`` (table + floor + wall), ``block.obj``,
``tabletop.ply`` (3DGS PLY, SH degree 1, ~22k flat surfel-like Gaussians sampled on the meshes) and
``capture.json`` (what a person would measure in the reconstruction, plus the truth for tests).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splattwin.gaussians import Gaussians, rgb_to_sh0
from splattwin.geometry.sh_rotation import eval_sh_basis
from splattwin.geometry.transforms import Similarity, matrix_to_quat_wxyz

__all__ = [
    "BLOCK_CENTRE",
    "BLOCK_MASS_KG",
    "BLOCK_SIZE",
    "BLOCK_YAW_DEG",
    "FLOOR_X_RANGE",
    "FLOOR_Y_RANGE",
    "ROBOT_BASE",
    "SEED",
    "TABLE_HEIGHT",
    "TABLE_TOP_X_RANGE",
    "TABLE_TOP_Y_RANGE",
    "TRUE_RECON_FROM_WORLD",
    "WALL_HEIGHT",
    "WALL_X",
    "Surface",
    "build_splat",
    "build_world_surfaces",
    "main",
    "make_tabletop",
]

SEED = 20250611
"""Seed of every random draw (sampling, colour noise, scale jitter)."""

# --- ground truth, world frame (z-up, metres) -------------------------------------------------------------------
TABLE_HEIGHT = 0.75
"""Height of the table top above the floor [m]."""
TABLE_TOP_X_RANGE = (0.0, 0.8)
"""Table top extent along x [m]: 0.8 m deep, its back edge (robot side) at x = 0."""
TABLE_TOP_Y_RANGE = (-0.6, 0.6)
"""Table top extent along y [m]: 1.2 m wide."""
TABLE_TOP_THICKNESS = 0.04
TABLE_LEG_WIDTH = 0.05
TABLE_LEG_INSET = 0.04
"""Gap between a leg and the table top's edges [m]."""
ROBOT_BASE = (0.0, 0.0, TABLE_HEIGHT)
"""Robot base point: on the table top, middle of its back edge [m]."""
FLOOR_X_RANGE = (-0.6, 2.0)
FLOOR_Y_RANGE = (-1.5, 1.5)
WALL_X = -0.6
"""The back wall is the plane x = WALL_X behind the robot, facing +x."""
WALL_HEIGHT = 2.0
BLOCK_SIZE = (0.10, 0.06, 0.05)
"""Wooden block edge lengths along its own x, y, z [m]."""
BLOCK_CENTRE = (0.45, 0.12, TABLE_HEIGHT + BLOCK_SIZE[2] / 2)
"""Block centre (also its centre of mass and mesh origin in the body frame), lying flat on the table [m]."""
BLOCK_YAW_DEG = 30.0
"""Block heading: its body frame is the world frame turned by this angle about z."""
BLOCK_MASS_KG = 0.21
"""Beech (about 700 kg/m^3) times 3e-4 m^3."""

# --- how the reconstruction frame relates to the world --------------------------------------------------------
RECON_METRES_PER_UNIT = 0.42
RECON_HEADING_DEG = 35.0
"""Turn about the reconstruction's up axis (an SfM frame has no preferred heading)."""
RECON_TILT_DEG = 4.0
RECON_TILT_AXIS = (1.0, 0.0, 0.5)
"""The reconstruction is this many degrees off level about this horizontal axis (recon frame)."""
RECON_OFFSET = (0.8, -1.9, 3.2)
"""Where the world origin lands in the reconstruction [recon units]."""

# --- how the splat is sampled ----------------------------------------------------------------------------------
THIN_AXIS_RATIO = 0.1
"""Surfel thickness relative to its in-plane scales."""
IN_PLANE_SCALE_PER_SPACING = 0.5
"""In-plane standard deviation of a Gaussian relative to the local sample spacing."""
OBJ_DECIMALS = 6
JSON_DECIMALS = 6


def _axis_angle_matrix(axis: tuple[float, float, float], angle_deg: float) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    angle = np.deg2rad(angle_deg)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _recon_from_world() -> Similarity:
    # world z-up -> y-up (x stays, world z becomes recon y, world y becomes recon -z), then heading, then tilt.
    z_up_to_y_up = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    heading = _axis_angle_matrix((0.0, 1.0, 0.0), RECON_HEADING_DEG)
    tilt = _axis_angle_matrix(RECON_TILT_AXIS, RECON_TILT_DEG)
    return Similarity(
        rotation=tilt @ heading @ z_up_to_y_up,
        translation=np.asarray(RECON_OFFSET, dtype=np.float64),
        scale=1.0 / RECON_METRES_PER_UNIT,
    )


TRUE_RECON_FROM_WORLD = _recon_from_world()
"""recon = s R world + t: world (z-up, metres) -> the reconstruction frame every delivered file is in."""


@dataclass
class Surface:
    """One coloured surface of the scene, world frame.

    Attributes:
        name: OBJ object name.
        vertices: [V, 3] metres, world frame.
        faces: [F, 3] vertex indices, counter-clockwise seen from outside (normals point out).
        visibility: [F] relative sampling density per face; 0 for hidden faces (a leg's foot on the floor).
        num_gaussians: how many Gaussians to sample on it.
        color: world points [M, 3] and a generator -> RGB [M, 3] in [0, 1].
        sheen: strength of the view-dependent (SH band 1) term; brighter seen head-on.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    visibility: np.ndarray
    num_gaussians: int
    color: Callable[[np.ndarray, np.random.Generator], np.ndarray]
    sheen: float


def _box(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Closed axis-aligned box, outward-facing triangles: ([8, 3] vertices, [12, 3] faces)."""
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    vertices = np.array(
        [[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0], [x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]]
    )
    faces = np.array(
        [
            [0, 2, 1], [0, 3, 2],  # bottom (-z)
            [4, 5, 6], [4, 6, 7],  # top (+z)
            [0, 1, 5], [0, 5, 4],  # -y
            [2, 3, 7], [2, 7, 6],  # +y
            [1, 2, 6], [1, 6, 5],  # +x
            [3, 0, 4], [3, 4, 7],  # -x
        ]
    )  # fmt: skip
    return vertices, faces


def _merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces, offset = [], [], 0
    for v, f in parts:
        vertices.append(v)
        faces.append(f + offset)
        offset += len(v)
    return np.concatenate(vertices), np.concatenate(faces)


def _face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def _wood(base_rgb: tuple[float, float, float]) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """Procedural wood: bands along y, wavy, plus fine noise."""

    def color(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x, y, z = points[:, 0], points[:, 1], points[:, 2]
        ring = 22.0 * (x + 0.6 * z) + 0.9 * np.sin(2 * np.pi * 1.3 * y) + 0.25 * np.sin(2 * np.pi * 7.0 * y + 3 * x)
        grain = (0.5 + 0.5 * np.sin(2 * np.pi * ring)) ** 3
        shade = 0.82 + 0.28 * grain + rng.normal(0.0, 0.025, len(points))
        return np.clip(np.asarray(base_rgb) * shade[:, None], 0.0, 1.0)

    return color


def _flat(
    base_rgb: tuple[float, float, float], noise: float
) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """A plain paint or concrete: one colour, slow brightness variation and per-sample noise."""

    def color(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        slow = 0.03 * np.sin(1.7 * points[:, 0] + 0.4) * np.cos(1.3 * points[:, 1] - 0.9 * points[:, 2])
        shade = 1.0 + slow + rng.normal(0.0, noise, len(points))
        return np.clip(np.asarray(base_rgb) * shade[:, None], 0.0, 1.0)

    return color


def _block_pose_matrix() -> np.ndarray:
    """4x4 world-from-block transform of the block's body frame (origin at its centre)."""
    pose = np.eye(4)
    pose[:3, :3] = _axis_angle_matrix((0.0, 0.0, 1.0), BLOCK_YAW_DEG)
    pose[:3, 3] = BLOCK_CENTRE
    return pose


def build_world_surfaces() -> list[Surface]:
    """Table, floor, back wall and block, world frame, in this order."""
    (tx0, tx1), (ty0, ty1) = TABLE_TOP_X_RANGE, TABLE_TOP_Y_RANGE
    top_z0 = TABLE_HEIGHT - TABLE_TOP_THICKNESS
    parts = [_box((tx0, ty0, top_z0), (tx1, ty1, TABLE_HEIGHT))]
    for x in (tx0 + TABLE_LEG_INSET, tx1 - TABLE_LEG_INSET - TABLE_LEG_WIDTH):
        for y in (ty0 + TABLE_LEG_INSET, ty1 - TABLE_LEG_INSET - TABLE_LEG_WIDTH):
            parts.append(_box((x, y, 0.0), (x + TABLE_LEG_WIDTH, y + TABLE_LEG_WIDTH, top_z0)))
    table_vertices, table_faces = _merge(parts)
    normals = _face_normals(table_vertices, table_faces)
    centres_z = table_vertices[table_faces].mean(axis=1)[:, 2]
    # A leg's foot stands on the floor and its head is glued under the top: no camera sees them.
    hidden = ((normals[:, 2] < -0.5) & (centres_z < 1e-9)) | (
        (normals[:, 2] > 0.5) & (np.abs(centres_z - top_z0) < 1e-9)
    )
    # The underside is only glimpsed from low viewpoints: sample it sparsely.
    table_visibility = np.where(hidden, 0.0, np.where(normals[:, 2] < -0.5, 0.15, 1.0))

    (fx0, fx1), (fy0, fy1) = FLOOR_X_RANGE, FLOOR_Y_RANGE
    floor_vertices = np.array([[fx0, fy0, 0.0], [fx1, fy0, 0.0], [fx1, fy1, 0.0], [fx0, fy1, 0.0]])
    wall_vertices = np.array(
        [[WALL_X, fy0, 0.0], [WALL_X, fy1, 0.0], [WALL_X, fy1, WALL_HEIGHT], [WALL_X, fy0, WALL_HEIGHT]]
    )
    quad = np.array([[0, 1, 2], [0, 2, 3]])

    bx, by, bz = (s / 2 for s in BLOCK_SIZE)
    block_local, block_faces = _box((-bx, -by, -bz), (bx, by, bz))
    pose = _block_pose_matrix()
    block_vertices = block_local @ pose[:3, :3].T + pose[:3, 3]
    block_normals = _face_normals(block_vertices, block_faces)
    block_visibility = np.where(block_normals[:, 2] < -0.5, 0.0, 1.0)  # it lies on its bottom face

    return [
        Surface("table", table_vertices, table_faces, table_visibility, 8000, _wood((0.56, 0.37, 0.20)), 0.08),
        Surface("floor", floor_vertices, quad, np.ones(2), 6000, _flat((0.45, 0.45, 0.46), 0.04), 0.03),
        Surface("back_wall", wall_vertices, quad, np.ones(2), 5000, _flat((0.90, 0.89, 0.85), 0.015), 0.02),
        Surface("block", block_vertices, block_faces, block_visibility, 3000, _wood((0.78, 0.22, 0.16)), 0.06),
    ]


def _sample_surface(surface: Surface, rng: np.random.Generator) -> Gaussians:
    """Area-weighted surface samples turned into flat Gaussians whose thin axis is the face normal."""
    tri = surface.vertices[surface.faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    areas = 0.5 * np.linalg.norm(cross, axis=1)
    weights = areas * surface.visibility
    probabilities = weights / weights.sum()
    count = surface.num_gaussians
    face = rng.choice(len(areas), size=count, p=probabilities)
    # Uniform point in a triangle: fold the unit square onto the lower triangle.
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    t = tri[face]
    points = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])

    # Local spacing: expected samples per m^2 on the face the sample lies on.
    density = count * probabilities[face] / areas[face]
    spacing = 1.0 / np.sqrt(density)
    in_plane = IN_PLANE_SCALE_PER_SPACING * spacing[:, None] * np.exp(rng.normal(0.0, 0.15, (count, 2)))
    thin = THIN_AXIS_RATIO * in_plane.mean(axis=1, keepdims=True)
    scales = np.concatenate([in_plane, thin], axis=1)

    normals = _face_normals(surface.vertices, surface.faces)[face]
    edge = t[:, 1] - t[:, 0]
    tangent = edge / np.linalg.norm(edge, axis=1, keepdims=True)
    bitangent = np.cross(normals, tangent)
    angle = rng.uniform(0.0, np.pi, count)[:, None]  # random in-plane heading of the elongated axis
    axis_u = np.cos(angle) * tangent + np.sin(angle) * bitangent
    axis_v = np.cross(normals, axis_u)
    rotation = np.stack([axis_u, axis_v, normals], axis=-1)  # columns: local x, y, z (= normal)

    rgb = surface.color(points, rng)
    sh = np.zeros((count, 4, 3))
    sh[:, 0] = rgb_to_sh0(rgb)
    # Band 1 so colour seen along view direction d (camera -> point) is shifted by -sheen * (n . d): brighter
    # head-on, a little darker at grazing angles from behind. Solved from the basis so its sign convention holds.
    band1 = eval_sh_basis(np.eye(3), 1)[:, 1:4]  # [xyz axis, coeff]: basis value at unit x, y, z
    coeffs = -surface.sheen * normals @ np.linalg.inv(band1).T  # [count, 3 coeffs]
    sh[:, 1:4] = coeffs[:, :, None] * (1.0 + rng.normal(0.0, 0.1, (count, 1, 3)))

    return Gaussians(
        means=points,
        quats_wxyz=matrix_to_quat_wxyz(rotation),
        scales=scales,
        opacities=rng.uniform(0.86, 0.94, count),
        sh=sh,
    )


def build_splat(surfaces: list[Surface], *, seed: int = SEED) -> Gaussians:
    """The world-frame Gaussian set sampled on all surfaces (one seeded generator, surfaces in order)."""
    rng = np.random.default_rng(seed)
    return Gaussians.concatenate([_sample_surface(surface, rng) for surface in surfaces])


def _format_obj(objects: list[tuple[str, np.ndarray, np.ndarray]], comment: str) -> str:
    lines = [f"# {comment}", "# generated by usd_assets/make_tabletop.py (CC0); reconstruction frame, recon units"]
    offset = 1  # OBJ indices are 1-based and global over the file
    for name, vertices, faces in objects:
        lines.append(f"o {name}")
        lines += [" ".join(["v"] + [f"{c:.{OBJ_DECIMALS}f}" for c in vertex]) for vertex in vertices]
        lines += [f"f {a + offset} {b + offset} {c + offset}" for a, b, c in faces]
        offset += len(vertices)
    return "\n".join(lines) + "\n"


def _rounded(value: object) -> object:
    """JSON-ready copy: arrays to lists, floats rounded (stable text across platforms)."""
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return _rounded(value.tolist())
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    if isinstance(value, float | np.floating):
        rounded = round(float(value), JSON_DECIMALS)
        return 0.0 if rounded == 0 else rounded  # no "-0.0"
    return value


def _format_json(data: dict) -> str:
    """Indented JSON with each innermost list of numbers on one line (a point reads as [x, y, z])."""
    text = json.dumps(_rounded(data), indent=2)
    text = re.sub(r"\[\s+([-0-9.e, \n]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    return text + "\n"


def _capture(recon_from_world: Similarity) -> dict:
    (tx0, tx1), (ty0, ty1) = TABLE_TOP_X_RANGE, TABLE_TOP_Y_RANGE
    corners = np.array(
        [[tx1, ty0, TABLE_HEIGHT], [tx1, ty1, TABLE_HEIGHT], [tx0, ty1, TABLE_HEIGHT], [tx0, ty0, TABLE_HEIGHT]]
    )
    scale_points = recon_from_world.apply_points(corners[:2])  # the far edge, 1.2 m long
    return {
        "note": (
            "Produced by usd_assets/make_tabletop.py (seeded, deterministic), not measured: the numbers stand in "
            "for what a person would measure in the reconstruction. Points are in the RECONSTRUCTION frame "
            "(recon units, the frame of scene.obj, block.obj and tabletop.ply)."
        ),
        "files": {"scene": "scene.obj", "object": "block.obj", "splat": "tabletop.ply"},
        "up_axis": "y",
        "scale_from": {
            "points": scale_points,
            "distance_m": float(np.linalg.norm(corners[1] - corners[0])),
            "what": "the two corners of the table top's far edge (away from the robot)",
        },
        "robot_base": recon_from_world.apply_points(np.asarray(ROBOT_BASE)),
        "object": {
            "name": "block",
            "mesh": "block.obj",
            "material": "wood",
            "mass_note": f"beech block {BLOCK_SIZE[0]} x {BLOCK_SIZE[1]} x {BLOCK_SIZE[2]} m, true mass "
            f"{BLOCK_MASS_KG} kg (for checking identification; an import must not read it)",
        },
        "truth": {
            "frame": (
                "world: z-up, metres, floor at z = 0, origin on the floor right below the robot base; "
                "recon = scale * rotation @ world + translation"
            ),
            "recon_from_world": {
                "scale": recon_from_world.scale,
                "rotation": recon_from_world.rotation,
                "translation": recon_from_world.translation,
            },
            "table_height_m": TABLE_HEIGHT,
            "table_top_corners": corners,
            "table_top_size_m": [tx1 - tx0, ty1 - ty0],
            "robot_base": list(ROBOT_BASE),
            "block_centre": list(BLOCK_CENTRE),
            "block_yaw_deg": BLOCK_YAW_DEG,
            "block_size_m": list(BLOCK_SIZE),
            "block_mass_kg": BLOCK_MASS_KG,
            "floor_z": 0.0,
            "wall_x": WALL_X,
        },
    }


def make_tabletop(out_dir: Path, *, seed: int = SEED) -> list[Path]:
    """Write scene.obj, block.obj, tabletop.ply and capture.json into ``out_dir``; return their paths."""
    from splattwin.io import atomic_output, write_gaussians

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recon_from_world = TRUE_RECON_FROM_WORLD
    surfaces = build_world_surfaces()
    by_name = {surface.name: surface for surface in surfaces}

    def recon(name: str) -> tuple[str, np.ndarray, np.ndarray]:
        surface = by_name[name]
        return name, recon_from_world.apply_points(surface.vertices), surface.faces

    texts = {
        "scene.obj": _format_obj([recon("table"), recon("floor"), recon("back_wall")], "static scenery"),
        "block.obj": _format_obj([recon("block")], "the object to push, where it lies in the scene"),
        "capture.json": _format_json(_capture(recon_from_world)),
    }
    written = []
    for name, text in texts.items():
        with atomic_output(out_dir / name) as tmp:
            Path(tmp).write_text(text, encoding="utf-8", newline="\n")
        written.append(out_dir / name)
    splat = recon_from_world.apply_gaussians(build_splat(surfaces, seed=seed))
    write_gaussians(out_dir / "tabletop.ply", splat)
    written.append(out_dir / "tabletop.ply")
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line: ``make_tabletop.py [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "tabletop", help="output folder")
    args = parser.parse_args(argv)
    paths = make_tabletop(args.out)
    total = 0
    for path in paths:
        size = path.stat().st_size
        total += size
        print(f"{path}  {size / 1e6:.2f} MB")
    print(f"total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
