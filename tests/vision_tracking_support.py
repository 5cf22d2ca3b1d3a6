"""A coloured box and a grey slab (the occluder) as triangles and as Gaussians sampled on them, two cameras, and
frames drawn by the mesh z-buffer (:func:`splattwin.render.rasterize_meshes`, not the splat rasterizer): the
tracking tests' independent images, with the object's visible mask from the z-buffer's labels."""

from __future__ import annotations

import numpy as np

from splattwin.gaussians import Gaussians
from splattwin.render.camera import Camera, look_at_camera
from splattwin.render.meshes import SceneMeshes, rasterize_meshes
from splattwin.robot.binding import sample_link_gaussians
from splattwin.robot.usd_robot import LinkMesh

BOX = (0.08, 0.06, 0.05)
FACE_COLOURS = np.array(
    [[0.9, 0.2, 0.1], [0.2, 0.7, 0.2], [0.1, 0.3, 0.9], [0.9, 0.8, 0.1], [0.8, 0.2, 0.8], [0.1, 0.8, 0.8]]
)
BACKGROUND = (0.95, 0.95, 0.95)


def box_mesh(size: tuple[float, float, float], colours: np.ndarray) -> LinkMesh:
    """A box centred at the origin, two triangles per face, one colour per face (outward winding)."""
    hx, hy, hz = (s / 2 for s in size)
    v = np.array([[x, y, z] for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)], np.float64)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces, colours_out = [], []
    for k, (a, b, c, d) in enumerate(quads):
        faces += [(a, b, c), (a, c, d)]
        colours_out += [colours[k % len(colours)]] * 2
    return LinkMesh(vertices=v, faces=np.array(faces), face_colors=np.array(colours_out, np.float64))


def box_gaussians(count: int = 1500, seed: int = 0) -> Gaussians:
    """Gaussians on the box's surface, in the box's frame."""
    g, _ = sample_link_gaussians(box_mesh(BOX, FACE_COLOURS), count, np.random.default_rng(seed))
    return g


def slab() -> tuple[LinkMesh, np.ndarray]:
    """The occluder: a grey slab standing in front of the box's -y half (for camera 'front'), world frame."""
    mesh = box_mesh((0.01, 0.04, 0.12), np.array([[0.45, 0.45, 0.45]]))
    pose = np.eye(4)
    pose[:3, 3] = (0.5, -0.02, 0.06)
    return mesh, pose


def slab_gaussians(count: int = 800, seed: int = 1) -> Gaussians:
    """The slab's Gaussians in the world frame."""
    from splattwin.geometry.transforms import Similarity

    mesh, pose = slab()
    g, _ = sample_link_gaussians(mesh, count, np.random.default_rng(seed))
    return Similarity.from_matrix(pose).apply_gaussians(g)


def cameras(size: int = 64) -> list[Camera]:
    """Two cameras 60 degrees apart looking at the box's start position (0.6, 0, 0.025)."""
    target = (0.6, 0.0, 0.025)
    return [
        look_at_camera((0.25, -0.0, 0.25), target, width=size, height=size, vertical_fov_deg=30),
        look_at_camera((0.35, -0.33, 0.22), target, width=size, height=size, vertical_fov_deg=30),
    ]


def pose(x: float, y: float, yaw_deg: float, z: float = 0.025) -> np.ndarray:
    """World from box: on the table, turned about z."""
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    out = np.eye(4)
    out[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    out[:3, 3] = (x, y, z)
    return out


def _triangles(mesh: LinkMesh, world: np.ndarray) -> np.ndarray:
    tris = mesh.vertices[mesh.faces]
    return tris @ world[:3, :3].T + world[:3, 3]


def render_frames(
    poses: list[np.ndarray], views: list[Camera], *, occluder: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """[T, C, H, W, 3] images and [T, C, H, W] visible-box masks from the mesh z-buffer."""
    box = box_mesh(BOX, FACE_COLOURS)
    images, masks = [], []
    for world in poses:
        tris, colours, index = [_triangles(box, world)], [box.face_colors], [np.zeros(len(box.faces), np.int32)]
        if occluder:
            mesh, slab_pose = slab()
            tris.append(_triangles(mesh, slab_pose))
            colours.append(mesh.face_colors)
            index.append(np.ones(len(mesh.faces), np.int32))
        meshes = SceneMeshes(np.concatenate(tris), np.concatenate(colours), ["box", "slab"], np.concatenate(index))
        row_i, row_m = [], []
        for camera in views:
            rgb, _, labels = rasterize_meshes(meshes, camera, background=BACKGROUND)
            row_i.append(rgb)
            row_m.append(labels == 0)
        images.append(np.stack(row_i))
        masks.append(np.stack(row_m))
    return np.stack(images), np.stack(masks)
