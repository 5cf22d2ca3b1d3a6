"""What the browser viewer draws, read from a stage: one splat node per Gaussian prim, one mesh node per mesh prim,
cameras, the robots' joints, the keyed timeline, the bodies' masses and the table fit.

Everything is read through the scene assembly (:mod:`splattwin.scene`) at a *rest pose* (every joint at its
start value, keyed objects at the timeline's start) and kept in the world frame. Posing a robot or playing the
timeline then moves nodes rigidly: a node's pose is ``posed @ inv(rest)`` of the prim it follows (the nearest
overridden ancestor: a robot link or a keyed object), so the Gaussians are sent to the browser once and a pose
change sends one 7-number transform per moving node (:func:`node_poses`). Prims nothing moves are never touched.

Shapes: N Gaussians of a prim, T triangles of a mesh prim, J joints, K timeline keys; metres, radians, seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.gaussians import Gaussians, sh0_to_rgb
from splattwin.geometry import quat_wxyz_to_matrix
from splattwin.geometry.transforms import matrix_to_quat_wxyz

__all__ = [
    "COARSE_GAUSSIANS",
    "BodyMass",
    "CameraView",
    "JointRange",
    "MeshNode",
    "SplatNode",
    "TableFit",
    "Timeline",
    "TwinModel",
    "covariances",
    "framing_view",
    "coarse_level",
    "coarse_voxel",
    "link_overrides",
    "merge_by_voxel",
    "node_poses",
    "posed_overrides",
    "read_model",
    "read_rest",
    "read_splats",
    "rigid_pose",
    "sample_timeline",
    "splat_buffers",
    "table_outline",
]

COARSE_GAUSSIANS = 3500
"""How many Gaussians the coarse first level holds (about): a software-WebGL browser draws a frame of these in a
tenth of a second, the demo's full 52,000 in 2-3 s."""
_SPREAD_GAIN = 3.0
"""How much the spread of a voxel's member centres counts in its merged covariance. A surface cut into voxels of
edge v has a spread of v^2 / 12 per voxel, and Gaussians that wide on a grid of spacing v leave gaps between them:
the demo's coarse level drew 31 % darker than its full sets. Three times the spread is a Gaussian of sigma v / 2,
which fills the grid (measured: as bright as the full sets, every 25-pixel patch within 0.1 of them)."""
_MAX_ALPHA = 0.999  # a member's or a merged Gaussian's opacity at most (an opaque one has infinite optical depth)
_CONTINUOUS_RANGE = np.pi  # slider range of a joint without limits
_TABLE_BAND_M = 0.01  # half-height of the band of Gaussians taken as the table plane's inliers when it has no rmse


@dataclass
class SplatNode:
    """One Gaussian prim: its Gaussians in the world frame at the rest pose, and what moves it.

    Attributes:
        prim: the Gaussian prim's path.
        gaussians: [N] world-frame Gaussians at the rest pose.
        follows: the overridden ancestor (robot link / keyed object) whose motion it follows; None: static.
    """

    prim: str
    gaussians: Gaussians
    follows: str | None


@dataclass
class MeshNode:
    """One mesh prim: world triangles [T, 3, 3] at the rest pose, its display colour RGB [3], what moves it."""

    prim: str
    triangles: np.ndarray
    color: np.ndarray
    follows: str | None


@dataclass
class CameraView:
    """A ``UsdGeom.Camera`` prim as a frustum: camera-to-world 4x4 (OpenCV axes), vertical fov [rad], aspect w/h."""

    prim: str
    camera_to_world: np.ndarray
    fov_y: float
    aspect: float


@dataclass
class JointRange:
    """A robot's movable joint: its robot, name, slider range [rad or m] and rest value."""

    robot: str
    name: str
    lower: float
    upper: float
    rest: float


@dataclass
class Timeline:
    """The trajectories layer: keyed joints (robot root -> joint names, times [K] s, positions [K, J]) and the time
    codes per second (keyed object poses are evaluated from the stage at ``t * rate``)."""

    start: float
    end: float
    rate: float
    joints: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = field(default_factory=dict)
    objects: list[str] = field(default_factory=list)


@dataclass
class BodyMass:
    """A rigid body's mass [kg], 1-sigma uncertainty [kg] or None, and where it came from (``read_mass``)."""

    prim: str
    mass: float | None
    sigma: float | None
    source: str


@dataclass
class TableFit:
    """The table plane of the twin's alignment: centre [3] m, in-plane axes [2, 3], side lengths [2] m, tilt, rmse."""

    centre: np.ndarray
    axes: np.ndarray
    sides: np.ndarray
    tilt_deg: float
    rmse: float


@dataclass
class TwinModel:
    """Everything the viewer draws, at the rest pose (see the module docstring).

    ``stage`` and the robots' kinematic specs (root -> ``RobotSpec``) stay open to pose (:func:`node_poses`);
    ``twin`` is False for a plain USD stage, which is shown as far as it goes (``problems`` says what could not be
    read, as ``inspect`` describes it).
    """

    path: Path
    twin: bool
    splats: list[SplatNode]
    meshes: list[MeshNode]
    cameras: list[CameraView]
    joints: list[JointRange]
    timeline: Timeline | None
    bodies: list[BodyMass]
    table: TableFit | None
    rest_overrides: dict[str, np.ndarray]
    problems: list[str]
    stage: Any = None
    robots: dict[str, Any] = field(default_factory=dict)

    @property
    def gaussian_count(self) -> int:
        """Total Gaussians over every splat node."""
        return sum(len(node.gaussians) for node in self.splats)


def covariances(quats_wxyz: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """3D covariances R diag(s^2) R^T [N, 3, 3] float32 of Gaussians (quats [N, 4] wxyz, scales [N, 3] m)."""
    rotation = quat_wxyz_to_matrix(np.asarray(quats_wxyz, dtype=np.float64))
    scaled = rotation * np.asarray(scales, dtype=np.float64)[:, None, :]
    return np.einsum("nij,nkj->nik", scaled, scaled).astype(np.float32)


def splat_buffers(gaussians: Gaussians) -> dict[str, np.ndarray]:
    """The arrays viser's ``add_gaussian_splats`` takes: centers [N, 3], covariances [N, 3, 3], rgbs [N, 3] (the
    view-independent colour of the SH DC band, in [0, 1]) and opacities [N, 1], all float32."""
    return {
        "centers": np.ascontiguousarray(gaussians.means, dtype=np.float32),
        "covariances": covariances(gaussians.quats_wxyz, gaussians.scales),
        "rgbs": sh0_to_rgb(gaussians.sh[:, 0]).astype(np.float32),
        "opacities": np.asarray(gaussians.opacities, dtype=np.float32).reshape(-1, 1),
    }


def _footprints(covariances: np.ndarray) -> np.ndarray:
    """sqrt(l1 l2) of the two largest eigenvalues of covariances [N, 3, 3]: the 1-sigma ellipse's area / pi of the
    Gaussian's widest cross-section (a flat splat seen face on), float64 [N]."""
    eigenvalues = np.linalg.eigvalsh(np.asarray(covariances, dtype=np.float64))  # ascending
    return np.sqrt(np.clip(eigenvalues[:, 1], 0.0, None) * np.clip(eigenvalues[:, 2], 0.0, None))


def merge_by_voxel(buffers: Mapping[str, np.ndarray], voxel: float) -> dict[str, np.ndarray]:
    """Merge the Gaussians in each cube of a grid (edge ``voxel`` m, corners on multiples of it) into one.

    Each member weighs its alpha mass ``w = opacity * a``, ``a`` the footprint ``sqrt(l1 l2)`` of its covariance's
    two largest eigenvalues (a flat splat seen face on covers ``pi a`` at 1 sigma). The merged Gaussian matches the
    members' mixture: mean ``sum w mu / W``, colour ``sum w rgb / W``, covariance ``sum w (Sigma + g (mu - mean)
    (mu - mean)^T) / W``, the moment match with the centres' spread counted ``g`` = 3 times (:data:`_SPREAD_GAIN`:
    a moment-matched level leaves gaps between voxels). Its opacity keeps the members' optical depth
    ``tau = -ln(1 - opacity)`` integrated over their footprints, spread over its own footprint ``A``:
    ``1 - exp(-sum tau a / A)``, so two Gaussians on top of each other compose as two layers, two side by side are
    less opaque than each, and a voxel with one member keeps it unchanged. Members with zero opacity or footprint
    are left out.

    Args:
        buffers: ``splat_buffers`` arrays: centers [N, 3] m, covariances [N, 3, 3] m^2, rgbs [N, 3], opacities [N, 1].
        voxel: the grid's edge [m], > 0.

    Returns:
        The same four arrays for the M <= N merged Gaussians (float32), in the order of their voxels.

    Raises:
        ValueError: ``voxel`` not positive and finite.
    """
    if not (np.isfinite(voxel) and voxel > 0):
        raise ValueError(f"merge_by_voxel: voxel must be a positive length in metres, got {voxel}")
    centers = np.asarray(buffers["centers"], dtype=np.float64)
    covs = np.asarray(buffers["covariances"], dtype=np.float64)
    rgbs = np.asarray(buffers["rgbs"], dtype=np.float64)
    alphas = np.clip(np.asarray(buffers["opacities"], dtype=np.float64).reshape(-1), 0.0, _MAX_ALPHA)
    footprint = _footprints(covs)
    weights = alphas * footprint
    keep = weights > 0
    if not keep.all():  # (a copy of every array: 2 s for a 1M splat under load, so only when needed)
        centers, covs, rgbs, alphas, footprint, weights = (
            a[keep] for a in (centers, covs, rgbs, alphas, footprint, weights)
        )
    if len(centers) == 0:
        return {"centers": np.zeros((0, 3), np.float32), "covariances": np.zeros((0, 3, 3), np.float32),
                "rgbs": np.zeros((0, 3), np.float32), "opacities": np.zeros((0, 1), np.float32)}  # fmt: skip
    _, voxel_of = np.unique(_voxel_keys(centers, voxel), return_inverse=True)
    count = int(voxel_of.max()) + 1

    def total(values: np.ndarray) -> np.ndarray:  # per-voxel sums of values [N, ...] weighted by the members' w
        flat = (weights.reshape(-1, *([1] * (values.ndim - 1))) * values).reshape(len(values), -1)
        return np.stack([np.bincount(voxel_of, flat[:, k], count) for k in range(flat.shape[1])], axis=1)

    mass = np.bincount(voxel_of, weights, count)
    mean = total(centers) / mass[:, None]
    offset = centers - mean[voxel_of]  # about the voxel's own mean: no cancellation of large world coordinates
    spread = covs + _SPREAD_GAIN * offset[:, :, None] * offset[:, None, :]
    merged_cov = (total(spread) / mass[:, None]).reshape(count, 3, 3)
    merged_cov = 0.5 * (merged_cov + merged_cov.transpose(0, 2, 1))
    rgb = total(rgbs) / mass[:, None]
    depth = np.bincount(voxel_of, -np.log1p(-alphas) * footprint, count)
    area = np.maximum(_footprints(merged_cov), np.finfo(np.float64).tiny)
    opacity = np.clip(-np.expm1(-depth / area), 0.0, _MAX_ALPHA)
    return {
        "centers": mean.astype(np.float32),
        "covariances": merged_cov.astype(np.float32),
        "rgbs": np.clip(rgb, 0.0, 1.0).astype(np.float32),
        "opacities": opacity.astype(np.float32).reshape(-1, 1),
    }


def _voxel_keys(points: np.ndarray, voxel: float) -> np.ndarray:
    """One int64 per point [N, 3]: equal for points in the same cube of edge ``voxel`` (corners on its multiples)."""
    cells = np.floor(np.asarray(points, dtype=np.float64) / voxel).astype(np.int64)
    cells -= cells.min(axis=0)
    extent = cells.max(axis=0) + 1
    return (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]


def _occupied(points: np.ndarray, voxel: float) -> int:
    """How many cubes of edge ``voxel`` the points [N, 3] fall in."""
    return len(np.unique(_voxel_keys(points, voxel)))


def coarse_voxel(centers: np.ndarray, target: int) -> float:
    """The voxel edge [m] at which merging centers [N, 3] gives about ``target`` Gaussians (within 15 %, after at
    most 8 refinements: a surface's count goes as 1 / voxel^2).

    Raises:
        ValueError: no centers, or ``target`` < 1.
    """
    points = np.asarray(centers, dtype=np.float64)
    if len(points) == 0 or target < 1:
        raise ValueError(f"coarse_voxel: need Gaussians and a target >= 1, got {len(points)} Gaussians, {target}")
    # Counted on every k-th centre, 16 or more per target voxel: the same count within a few % (a 1M splat: 0.1 s).
    sample = points[:: max(1, len(points) // (16 * target))]
    voxel = (float(np.ptp(points, axis=0).max()) or 1.0) / np.sqrt(target)
    for _ in range(8):
        count = _occupied(sample, voxel)
        if abs(count - target) <= 0.15 * target:
            break
        voxel *= float(np.clip(np.sqrt(count / target), 0.25, 4.0))
    return voxel


def coarse_level(nodes: list[Mapping[str, np.ndarray]], target: int) -> list[dict[str, np.ndarray]]:
    """Each node's ``splat_buffers`` merged (:func:`merge_by_voxel`) so that all hold about ``target`` Gaussians.

    Each node keeps its share of the whole (a robot link with 7 % of the Gaussians keeps 7 % of the target), so
    every object stays recognisable; one voxel size for all would spend the budget on the widest (the scene) and
    turn the robot's links into a few blobs each. Nodes move apart (robot links), so each is merged on its own.
    """
    total = sum(len(node["centers"]) for node in nodes)
    out = []
    for node in nodes:
        share = max(1, round(target * len(node["centers"]) / max(total, 1)))
        if len(node["centers"]) <= share:
            out.append({key: np.asarray(value, dtype=np.float32) for key, value in node.items()})
            continue
        out.append(merge_by_voxel(node, coarse_voxel(node["centers"], share)))
    return out


def rigid_pose(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A rigid 4x4 (column vectors) -> (wxyz [4], position [3] m), as viser's scene nodes take their pose."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix_to_quat_wxyz(matrix[:3, :3]), matrix[:3, 3].copy()


def node_poses(
    follows: Mapping[str, str | None], rest: Mapping[str, np.ndarray], posed: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The transform of each moving node: ``posed[a] @ inv(rest[a])`` for the prim ``a`` it follows.

    Args:
        follows: node -> the overridden prim it follows (None: static, left out).
        rest: prim -> world transform 4x4 at the rest pose (what the node's data was gathered at).
        posed: prim -> world transform 4x4 now; a prim missing here keeps its rest pose.

    Returns:
        node -> 4x4 node transform (identity at the rest pose), for the nodes whose prim is in ``posed``.
    """
    out = {}
    for node, prim in follows.items():
        if prim is None or prim not in posed:
            continue
        out[node] = np.asarray(posed[prim], dtype=np.float64) @ np.linalg.inv(rest[prim])
    return out


def sample_timeline(timeline: Timeline, t: float) -> dict[str, float]:
    """Joint values at time ``t`` [s]: linear interpolation of each robot's keys, held at the ends."""
    values: dict[str, float] = {}
    for names, times, positions in timeline.joints.values():
        for column, name in enumerate(names):
            values[name] = float(np.interp(t, times, positions[:, column]))
    return values


def framing_view(points: np.ndarray, fov_y: float) -> tuple[np.ndarray, np.ndarray]:
    """A camera (eye [3], target [3], world, z up) that sees ``points`` [N, 3] from the front right and above.

    The target is the points' median; the eye looks at it along (-1, 1, -0.7) from far enough that a sphere
    holding 95 % of the points fills the vertical field of view ``fov_y`` [rad] (outliers do not push it away).
    """
    points = np.asarray(points, dtype=np.float64)
    target = np.median(points, axis=0)
    radius = max(float(np.percentile(np.linalg.norm(points - target, axis=1), 95)), 0.05)
    direction = np.array([1.0, -1.0, 0.7]) / np.linalg.norm([1.0, -1.0, 0.7])
    return target + direction * radius / np.sin(fov_y / 2), target


def table_outline(table: TableFit) -> np.ndarray:
    """The table fit's rectangle as 4 line segments [4, 2, 3] (world, metres)."""
    half = 0.5 * table.sides[:, None] * table.axes  # [2, 3]
    corners = np.array([table.centre + a * half[0] + b * half[1] for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    return np.stack([corners, np.roll(corners, -1, axis=0)], axis=1)


def _table_fit(record: Mapping[str, Any] | None, means: np.ndarray) -> TableFit | None:
    """The alignment's table fit (tilt, rmse, sides) placed where the scene's Gaussians hold it.

    The alignment levels the table, but records no position: the plane is the densest horizontal band of the
    scene's Gaussians (the fit's inliers, 4 rmse thick), its centre and in-plane axes their mean and principal axes.
    """
    if not record or len(means) == 0:
        return None
    sides = np.asarray(list(record.get("sides", []) or []), dtype=np.float64)
    if sides.shape != (2,):
        return None
    rmse = float(record.get("rmse", 0.0))
    band = max(2.0 * rmse, _TABLE_BAND_M)
    z = means[:, 2]
    bins = np.arange(z.min(), z.max() + 2 * band, 2 * band)
    counts, edges = np.histogram(z, bins=bins) if len(bins) > 1 else (np.array([len(z)]), np.array([z.min(), z.max()]))
    k = int(np.argmax(counts))
    inliers = means[(z >= edges[k] - band / 2) & (z <= edges[k + 1] + band / 2)]
    centre = inliers.mean(axis=0)
    xy = inliers[:, :2] - centre[:2]
    _, vectors = np.linalg.eigh(xy.T @ xy) if len(xy) > 1 else (None, np.eye(2))
    major = vectors[:, -1]
    axes = np.array([[major[0], major[1], 0.0], [-major[1], major[0], 0.0]])
    sides = np.sort(sides)[::-1]  # the longer side along the major axis
    return TableFit(centre, axes, sides, float(record.get("tiltDeg", 0.0)), rmse)


def _follows(prim_path: str, overridden: set[str]) -> str | None:
    """The nearest ancestor of ``prim_path`` (itself included) among the overridden prims."""
    path = prim_path
    while path and path != "/":
        if path in overridden:
            return path
        path = path.rsplit("/", 1)[0]
    return None


def _cameras(stage: Any, problems: list[str]) -> list[CameraView]:
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    from splattwin.errors import SplatTwinError  # noqa: PLC0415
    from splattwin.scene import camera_from_prim  # noqa: PLC0415

    views = []
    for prim in stage.Traverse(Usd.TraverseInstanceProxies()):
        if not prim.IsA(UsdGeom.Camera):
            continue
        camera = UsdGeom.Camera(prim)
        h_ap = float(camera.GetHorizontalApertureAttr().Get() or 0.0)
        v_ap = float(camera.GetVerticalApertureAttr().Get() or 0.0)
        width, height = 1000, max(1, round(1000 * v_ap / h_ap)) if h_ap > 0 else 750
        try:
            view = camera_from_prim(stage, str(prim.GetPath()), width=width, height=height)
        except SplatTwinError as exc:
            problems.append(str(exc))
            continue
        fov_y = 2.0 * np.arctan(0.5 * height / view.K[1, 1])
        views.append(CameraView(str(prim.GetPath()), np.linalg.inv(view.viewmat), float(fov_y), width / height))
    return views


def _robots(stage: Any, problems: list[str]) -> dict[str, Any]:
    """Robot root -> its :class:`~splattwin.robot.usd_robot.RobotSpec` (posed by the torch-free FK)."""
    from splattwin.errors import SplatTwinError  # noqa: PLC0415
    from splattwin.robot import find_robots  # noqa: PLC0415
    from splattwin.robot.usd_robot import read_robot_spec  # noqa: PLC0415

    robots = {}
    for root in find_robots(stage):
        try:
            robots[root] = read_robot_spec(stage, root)
        except SplatTwinError as exc:  # a broken robot (inspect lists its problems): shown unposed
            problems.append(str(exc))
    return robots


def _timeline(stage: Any, robots: Mapping[str, Any]) -> Timeline | None:
    from splattwin.errors import SplatTwinError  # noqa: PLC0415
    from splattwin.robot.trajectories import read_joint_trajectory  # noqa: PLC0415
    from splattwin.scene import keyed_pose_overrides  # noqa: PLC0415

    rate = float(stage.GetTimeCodesPerSecond() or 1.0)
    joints = {}
    for root in robots:
        try:
            trajectory = read_joint_trajectory(stage, root)
        except SplatTwinError:  # no keyed joints on this robot
            continue
        joints[root] = (list(trajectory.joint_names), trajectory.times, trajectory.positions)
    objects = sorted(keyed_pose_overrides(stage, stage.GetStartTimeCode()))
    if not joints and not objects:
        return None
    starts = [times[0] for _, times, _ in joints.values()]
    ends = [times[-1] for _, times, _ in joints.values()]
    if objects or not joints:
        starts.append(stage.GetStartTimeCode() / rate)
        ends.append(stage.GetEndTimeCode() / rate)
    return Timeline(start=float(min(starts)), end=float(max(ends)), rate=rate, joints=joints, objects=objects)


def link_overrides(model: TwinModel, joints: Mapping[str, float]) -> dict[str, np.ndarray]:
    """World transforms of every robot link at the joint values (unset joints at their rest value), from the
    robots read once, by the torch-free FK (:func:`splattwin.robot.kinematics.spec_link_poses`)."""
    from splattwin.robot.kinematics import spec_link_poses  # noqa: PLC0415

    values = {joint.name: joint.rest for joint in model.joints}
    values.update(joints)
    overrides: dict[str, np.ndarray] = {}
    for spec in model.robots.values():
        poses = spec_link_poses(spec, values)
        overrides.update({path: poses[i] for i, path in enumerate(spec.link_paths)})
    return overrides


def posed_overrides(model: TwinModel, joints: Mapping[str, float], t: float | None) -> dict[str, np.ndarray]:
    """Robot links at ``joints`` and, when ``t`` [s] is given, keyed objects at that time."""
    from splattwin.scene import keyed_pose_overrides  # noqa: PLC0415

    overrides = {}
    if t is not None and model.timeline is not None and model.timeline.objects:
        overrides.update(keyed_pose_overrides(model.stage, t * model.timeline.rate))
    overrides.update(link_overrides(model, joints))
    return overrides


def read_splats(path: Path) -> TwinModel:
    """The first part of :func:`read_model`: the stage, its robots, joints, timeline, rest pose and splat nodes,
    what a browser is sent first; meshes, cameras, masses and the table fit are left for :func:`read_rest`.

    Raises:
        StageError: the file is missing or not a readable USD layer.
    """
    from splattwin.errors import SplatTwinError  # noqa: PLC0415
    from splattwin.robot.kinematics import free_joints  # noqa: PLC0415
    from splattwin.scene import gather_gaussians  # noqa: PLC0415
    from splattwin.usd import open_usd_stage  # noqa: PLC0415

    stage = open_usd_stage(path)
    twin = bool(stage.GetRootLayer().customLayerData.get("splattwin"))
    problems: list[str] = [] if twin else ["not a SplatTwin twin: shown as a plain USD stage"]
    robots = _robots(stage, problems)
    timeline = _timeline(stage, robots)
    model = TwinModel(path, twin, [], [], [], [], timeline, [], None, {}, problems, stage, robots)
    start = sample_timeline(timeline, timeline.start) if timeline is not None else {}
    for root, spec in robots.items():
        for joint in free_joints(spec):
            name, lower, upper = joint.name, float(joint.lower), float(joint.upper)
            if not (np.isfinite(lower) and np.isfinite(upper)):
                lower, upper = -_CONTINUOUS_RANGE, _CONTINUOUS_RANGE
            rest = float(np.clip(start.get(name, np.clip(0.0, lower, upper)), lower, upper))
            model.joints.append(JointRange(root, name, float(lower), float(upper), rest))
    overrides = posed_overrides(model, {}, timeline.start if timeline is not None else None)
    model.rest_overrides = overrides
    overridden = set(overrides)
    try:
        scene = gather_gaussians(stage, overrides=overrides)
    except SplatTwinError as exc:
        problems.append(str(exc))
    else:
        for k, prim in enumerate(scene.prim_paths):
            model.splats.append(
                SplatNode(prim, scene.gaussians.subset(scene.prim_index == k), _follows(prim, overridden))
            )
    return model


def read_rest(model: TwinModel) -> TwinModel:
    """The rest of :func:`read_model` on a model from :func:`read_splats`: its meshes, cameras, bodies' masses and
    table fit (filled in place; the model is returned)."""
    from pxr import UsdPhysics  # noqa: PLC0415

    from splattwin.errors import SplatTwinError  # noqa: PLC0415
    from splattwin.scene import gather_meshes  # noqa: PLC0415
    from splattwin.usd.frames import ALIGNMENT_KEY  # noqa: PLC0415
    from splattwin.usd.identified import read_mass  # noqa: PLC0415

    stage, overridden = model.stage, set(model.rest_overrides)
    meshes = gather_meshes(stage, overrides=model.rest_overrides)
    for k, prim in enumerate(meshes.prim_paths):
        selected = meshes.prim_index == k
        color = meshes.colors[selected][0] if selected.any() else np.full(3, 0.6)
        model.meshes.append(MeshNode(prim, meshes.vertices[selected], color, _follows(prim, overridden)))
    model.cameras = _cameras(stage, model.problems)
    for prim in stage.Traverse():
        if not prim.HasAPI(UsdPhysics.RigidBodyAPI):
            continue
        try:
            mass, sigma, source, _ = read_mass(stage, str(prim.GetPath()))
        except SplatTwinError:  # a body without an authored mass: the simulator's default
            mass, sigma, source = None, None, "none authored"
        model.bodies.append(BodyMass(str(prim.GetPath()), mass, sigma, source))
    world = stage.GetPrimAtPath("/World")
    record = world.GetCustomDataByKey(ALIGNMENT_KEY) if world else None
    scene_means = [n.gaussians.means for n in model.splats if n.follows is None and n.prim.startswith("/World/Scene")]
    if record and scene_means:
        model.table = _table_fit(dict(record).get("tableFit"), np.concatenate(scene_means).astype(np.float64))
    return model


def read_model(path: Path) -> TwinModel:
    """Read a twin (or any USD stage) into a :class:`TwinModel` (:func:`read_splats`, then :func:`read_rest`).

    A plain USD stage, or a twin missing parts, is shown as far as it goes: what cannot be read is listed in
    ``problems`` (a stage without Gaussian prims shows its meshes and cameras).

    Raises:
        StageError: the file is missing or not a readable USD layer.
    """
    return read_rest(read_splats(path))
