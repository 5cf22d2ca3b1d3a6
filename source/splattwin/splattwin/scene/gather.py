"""The twin as a renderer sees it: cameras from USD, every Gaussian prim and mesh in world space, posed links.

The renderer (:mod:`splattwin.render`) takes Gaussians and cameras; this reads them from a stage. Cameras follow
OpenCV in memory (:class:`~splattwin.render.camera.Camera`); USD cameras look down their local -Z with +Y up, and
are converted here. Gathering walks the stage for ``UsdVol.ParticleField3DGaussianSplat`` prims and moves each
one's Gaussians into the world frame; ``overrides`` replaces the world transform of chosen prims (robot links
posed at joint values by :func:`robot_link_overrides`, keyed objects by :func:`keyed_pose_overrides`) while every
descendant keeps its transform relative to the overridden prim.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError, StageError
from splattwin.gaussians import Gaussians
from splattwin.geometry import Similarity
from splattwin.render.camera import Camera
from splattwin.render.meshes import SceneMeshes
from splattwin.render.views import SceneGaussians
from splattwin.usd.cameras import camera_from_usd_prim
from splattwin.usd.prims import world_matrix

if TYPE_CHECKING:
    from pxr import Usd

__all__ = [
    "camera_from_prim",
    "gather_gaussians",
    "gather_meshes",
    "keyed_pose_overrides",
    "robot_link_overrides",
    "stage_path",
]

_DEFAULT_COLOR = (0.6, 0.6, 0.62)  # meshes without a displayColor


def stage_path(stage: Usd.Stage) -> str:
    """The file a stage was opened from (for error messages)."""
    return stage.GetRootLayer().identifier


def camera_from_prim(
    stage: Usd.Stage, prim_path: str, *, width: int | None = None, height: int | None = None
) -> Camera:
    """A :class:`Camera` from a ``UsdGeom.Camera`` prim (:func:`splattwin.usd.cameras.camera_from_usd_prim`).

    An imported camera (with a stored image size) keeps its exact intrinsics, scaled to ``width`` x ``height``
    when given; any other camera has square pixels fitted to the image width and needs the size. The aperture
    offsets move the frustum window as ``Gf.Camera`` does (a positive horizontal offset puts the principal point
    left of the image centre, a positive vertical one below it).

    Raises:
        InputError: no such prim, not a camera, impossible intrinsics or clipping, no size (names the stage).
    """
    return camera_from_usd_prim(stage, prim_path, width=width, height=height)


def _posed_world_matrix(prim: Any, overrides: Mapping[str, np.ndarray]) -> np.ndarray:
    """Local-to-world 4x4 (column vectors) of ``prim``, with the nearest overridden ancestor's transform replaced."""
    world = world_matrix(prim)
    ancestor = prim
    while ancestor and not ancestor.IsPseudoRoot():
        override = overrides.get(str(ancestor.GetPath()))
        if override is not None:
            ancestor_world = world_matrix(ancestor)
            return np.asarray(override, dtype=np.float64) @ np.linalg.inv(ancestor_world) @ world
        ancestor = ancestor.GetParent()
    return world


def gather_gaussians(stage: Usd.Stage, *, overrides: Mapping[str, np.ndarray] | None = None) -> SceneGaussians:
    """Collect every active Gaussian prim of the stage, transformed into the world frame.

    Args:
        stage: an open stage (z up, metres).
        overrides: prim path -> world transform (4x4 column-vector, metres, a similarity) replacing that prim's
            own world transform; descendants keep their transform relative to it (robot links posed at q).

    Returns:
        The :class:`SceneGaussians`.

    Raises:
        InputError: the stage holds no Gaussian prims, a prim holds NaN or otherwise invalid Gaussians, an
            override is not a finite 4x4 similarity, or an override names no prim.
        StageError: a Gaussian prim's world transform shears or scales unevenly.
    """
    from pxr import Usd, UsdVol  # noqa: PLC0415

    from splattwin.usd import read_gaussians_prim  # noqa: PLC0415

    where = stage_path(stage)
    overrides = dict(overrides or {})
    for path, matrix in overrides.items():
        if not stage.GetPrimAtPath(path):
            raise InputError(where, f"transform override for {path!r}: no such prim")
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
            raise InputError(where, f"transform override for {path}: expected a finite 4x4 matrix")
    parts, paths, index = [], [], []
    for prim in stage.Traverse(Usd.TraverseInstanceProxies()):
        if not prim.IsA(UsdVol.ParticleField3DGaussianSplat):
            continue
        local = read_gaussians_prim(prim)  # validates: NaN / Inf / bad scales raise InputError naming the prim
        matrix = _posed_world_matrix(prim, overrides)
        try:
            transform = Similarity.from_matrix(matrix)
        except ValueError as exc:
            raise StageError(where, f"{prim.GetPath()}: world transform is not a similarity ({exc})") from None
        parts.append(transform.apply_gaussians(local))
        index.append(np.full(len(local), len(paths), dtype=np.int32))
        paths.append(str(prim.GetPath()))
    if not parts:
        raise InputError(
            where, "the stage holds no Gaussian prims (UsdVol.ParticleField3DGaussianSplat); nothing to render"
        )
    return SceneGaussians(gaussians=Gaussians.concatenate(parts), prim_paths=paths, prim_index=np.concatenate(index))


def robot_link_overrides(stage: Usd.Stage, joints: Mapping[str, float]) -> dict[str, np.ndarray]:
    """World transforms of every robot link on the stage at the given joint values (unset joints stay at 0).

    Uses :mod:`splattwin.robot` (``find_robots``, ``load_robot``, ``robot.link_poses``), imported here so
    rendering a stage without robots does not need it.

    Args:
        stage: the twin.
        joints: joint name -> value (rad or m) for the robots' movable joints.

    Returns:
        link prim path -> 4x4 world transform (column vectors, metres), for :func:`gather_gaussians`.

    Raises:
        InputError: a joint name that no robot on the stage has, or joints given for a stage without robots.
    """
    import torch  # noqa: PLC0415

    from splattwin.robot import find_robots, load_robot  # noqa: PLC0415

    where = stage_path(stage)
    roots = find_robots(stage)
    if joints and not roots:
        raise InputError(where, f"joint values given ({', '.join(joints)}) but the stage has no robot")
    overrides: dict[str, np.ndarray] = {}
    known: set[str] = set()
    for root in roots:
        robot = load_robot(stage, root)
        known.update(robot.joint_names)
        q = torch.tensor([[float(joints.get(name, 0.0)) for name in robot.joint_names]], dtype=torch.float64)
        with torch.no_grad():
            poses = robot.link_poses(q)[0].double().numpy()
        overrides.update({path: poses[i] for i, path in enumerate(robot.link_paths)})
    unknown = sorted(set(joints) - known)
    if unknown:
        raise InputError(where, f"unknown joint names {unknown}; the robot has {sorted(known)}")
    return overrides


def keyed_pose_overrides(stage: Usd.Stage, time_code: float) -> dict[str, np.ndarray]:
    """World transforms at ``time_code`` of the prims whose pose is keyed (time samples on their xform ops, as
    ``splattwin play record=true`` and :func:`splattwin.robot.trajectories.write_object_poses` write them) and that
    carry Gaussians: the nearest time-varying ancestor of each Gaussian prim outside the robots (robot links are
    posed from joint values by :func:`robot_link_overrides`).

    Returns:
        prim path -> 4x4 world transform (column vectors, metres), for :func:`gather_gaussians`.
    """
    from pxr import Usd, UsdGeom, UsdVol  # noqa: PLC0415

    from splattwin.robot import find_robots  # noqa: PLC0415

    robots = find_robots(stage)
    keyed: set[str] = set()
    for prim in stage.Traverse(Usd.TraverseInstanceProxies()):
        if not prim.IsA(UsdVol.ParticleField3DGaussianSplat):
            continue
        path = str(prim.GetPath())
        if any(path == root or path.startswith(root + "/") for root in robots):
            continue
        ancestor = prim
        while ancestor and not ancestor.IsPseudoRoot():
            xformable = UsdGeom.Xformable(ancestor)
            if xformable and xformable.TransformMightBeTimeVarying():
                keyed.add(str(ancestor.GetPath()))
                break
            ancestor = ancestor.GetParent()
    return {path: world_matrix(stage.GetPrimAtPath(path), time_code) for path in sorted(keyed)}


def gather_meshes(
    stage: Usd.Stage, *, overrides: Mapping[str, np.ndarray] | None = None, skip: tuple[str, ...] = ()
) -> SceneMeshes:
    """Triangulate every visible ``UsdGeom.Mesh`` (polygons as fans) into world-frame triangles.

    Args:
        stage: the twin.
        overrides: as in :func:`gather_gaussians` (posed robot links).
        skip: prim paths whose meshes (and their descendants') are left out.
    """
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    overrides = dict(overrides or {})
    triangles, colors, paths, index = [], [], [], []
    for prim in stage.Traverse(Usd.TraverseInstanceProxies()):
        if not prim.IsA(UsdGeom.Mesh) or any(str(prim.GetPath()).startswith(s) for s in skip):
            continue
        if UsdGeom.Imageable(prim).ComputeVisibility() == UsdGeom.Tokens.invisible:
            continue
        mesh = UsdGeom.Mesh(prim)
        points = np.asarray(mesh.GetPointsAttr().Get() or [], dtype=np.float64)
        counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get() or [], dtype=np.int64)
        indices = np.asarray(mesh.GetFaceVertexIndicesAttr().Get() or [], dtype=np.int64)
        if len(points) == 0 or len(counts) == 0:
            continue
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        fans = [(s, s + k, s + k + 1) for s, c in zip(starts, counts, strict=True) for k in range(1, c - 1)]
        if not fans:
            continue
        fan = np.asarray(fans, dtype=np.int64)
        matrix = _posed_world_matrix(prim, overrides)
        world = points @ matrix[:3, :3].T + matrix[:3, 3]
        triangles.append(world[indices[fan]])
        color = np.asarray(mesh.GetDisplayColorAttr().Get() or [_DEFAULT_COLOR], dtype=np.float64)
        rgb = color[0] if len(color) else np.asarray(_DEFAULT_COLOR)
        colors.append(np.broadcast_to(rgb, (len(fan), 3)))
        index.append(np.full(len(fan), len(paths), dtype=np.int32))
        paths.append(str(prim.GetPath()))
    if not triangles:
        return SceneMeshes(np.zeros((0, 3, 3)), np.zeros((0, 3)), [], np.zeros(0, dtype=np.int32))
    return SceneMeshes(np.concatenate(triangles), np.concatenate(colors), paths, np.concatenate(index))
