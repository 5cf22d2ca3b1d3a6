"""A robot splat made from the robot's own link meshes at a configuration: the demo's stand-in for a capture.

Gaussians are sampled on the visual surfaces (area-uniform, coloured by the meshes' materials, as Dr. Robot
initialises its Gaussians from link meshes) and carried to the world at ``q`` and a base pose. Seeded: the same
arguments give the same splat byte for byte.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from splattwin.gaussians import Gaussians

if TYPE_CHECKING:
    from splattwin.robot.kinematics import Robot
    from splattwin.robot.usd_robot import LinkMesh

__all__ = ["robot_splat_from_meshes"]


def robot_splat_from_meshes(
    robot: Robot,
    meshes: list[LinkMesh | None],
    q: np.ndarray,
    *,
    count: int,
    seed: int,
    base_world: np.ndarray | None = None,
    sh_degree: int = 0,
) -> tuple[Gaussians, np.ndarray]:
    """Gaussians on the posed link surfaces, in the world frame.

    Args:
        robot: the robot (for its kinematics).
        meshes: each link's surface in its frame (``link_meshes`` order = ``robot.link_names``), None: no geometry.
        q: joint values [dof] (rad or m).
        count: total Gaussians, shared among links by surface area.
        seed: random seed.
        base_world: base pose [4, 4] (default: the robot's own).
        sh_degree: SH degree of the result.

    Returns:
        (Gaussians in world coordinates, the source link index [count] into ``robot.link_names``).
    """
    import torch  # noqa: PLC0415

    from splattwin.geometry.transforms import Similarity  # noqa: PLC0415
    from splattwin.robot.binding import sample_link_gaussians  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    base = None if base_world is None else torch.tensor(base_world, dtype=torch.float64)
    poses = robot.link_poses(torch.tensor(np.asarray(q, np.float64)[None]), base_world=base)[0].numpy()
    areas = np.array(
        [
            0.0
            if m is None
            else 0.5
            * np.linalg.norm(
                np.cross(
                    m.vertices[m.faces[:, 1]] - m.vertices[m.faces[:, 0]],
                    m.vertices[m.faces[:, 2]] - m.vertices[m.faces[:, 0]],
                ),
                axis=1,
            ).sum()
            for m in meshes
        ]
    )
    counts = rng.multinomial(count, areas / areas.sum())
    spacing = float(np.sqrt(areas.sum() / count))
    parts, sources = [], []
    for index, (mesh, n) in enumerate(zip(meshes, counts, strict=True)):
        if mesh is None or n == 0:
            continue
        local, _ = sample_link_gaussians(mesh, int(n), rng, spacing=spacing, sh_degree=sh_degree)
        parts.append(Similarity.from_matrix(poses[index]).apply_gaussians(local))
        sources.append(np.full(int(n), index))
    return Gaussians.concatenate(parts), np.concatenate(sources)
