"""``splattwin import-robot``: a URDF robot into the twin's robot layer, with Gaussians bound to its links.

Order of work: parse and check the URDF, the splat and the joint file (any problem: an error naming the file,
and the stage is not touched); then, inside one :func:`~splattwin.usd.stage.edit_twin` session, author the
articulation, optionally fit the base pose to the splat (ICP), bind the splat's Gaussians to the links (or make
Gaussians from the link meshes when there is no scan) and author each link's ``Gaussians`` prim with its binding
primvars. Every check that can fail runs before the session saves, so a failure leaves the stage as it was.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians

if TYPE_CHECKING:
    from pxr import Usd

    from splattwin.robot.binding import Binding
    from splattwin.robot.kinematics import Robot
    from splattwin.robot.usd_robot import LinkMesh

__all__ = [
    "BINDING_PRIMVARS",
    "ImportRobotConfig",
    "ImportRobotResult",
    "base_matrix",
    "import_robot",
    "read_joint_values",
]

logger = logging.getLogger(__name__)

BINDING_PRIMVARS = ("splattwin:triangle", "splattwin:barycentric", "splattwin:normalOffset")
"""Per-Gaussian binding primvars on each link's ``Gaussians`` prim (vertex interpolation): int, float3, float."""


def base_matrix(base: tuple[float, ...]) -> np.ndarray:
    """``(x, y, z[, yaw_deg])`` -> base pose [4, 4]: a turn by yaw about world z, then the translation."""
    x, y, z = base[:3]
    yaw = np.radians(base[3]) if len(base) > 3 else 0.0
    matrix = np.eye(4)
    matrix[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    matrix[:3, 3] = (x, y, z)
    return matrix


@dataclass(kw_only=True)
class ImportRobotConfig:
    """``splattwin import-robot`` options.

    Attributes:
        urdf: the URDF file (``package://`` meshes resolved relative to it).
        stage: the twin's root layer (created when missing).
        prim: the new robot prim, below /World.
        base: base pose guess in the twin's world frame: x, y, z (m) and optionally yaw (deg, about +z).
        splat: a splat of the robot (.ply, .spz, .splat) in the twin's world frame, captured at ``splat_joints``.
        splat_joints: JSON object joint name -> value (rad or m) of the captured configuration; joints not named
            are at 0.
        fit_base: estimate the base pose by ICP of link surfaces against the splat, starting from ``base``.
        bind_threshold: largest distance (m) of a bound Gaussian from its link's surface; None: 1% of the
            robot's size (the diagonal of its link meshes' bounds at the capture configuration).
        min_bound_fraction: below this share of bound Gaussians the splat does not show the robot: an error.
        gaussians_per_link: Gaussians made per link from its meshes when there is no splat.
        seed: random seed of surface sampling (ICP model, Gaussians from meshes).
        model_samples: link-surface samples in the ICP model.
    """

    urdf: Path
    stage: Path
    prim: str
    base: tuple[float, ...] = (0.0, 0.0, 0.0)
    splat: Path | None = None
    splat_joints: Path | None = None
    fit_base: bool = False
    bind_threshold: float | None = None
    min_bound_fraction: float = 0.5
    gaussians_per_link: int = 4000
    seed: int = 0
    model_samples: int = 150_000

    def validate(self) -> None:
        """Check values and option combinations (InputError naming the flag)."""
        if len(self.base) not in (3, 4) or not np.isfinite(self.base).all():
            raise InputError("--base", f"expected X,Y,Z or X,Y,Z,YAW_DEG finite numbers, got {self.base}")
        if self.splat_joints is not None and self.splat is None:
            raise InputError("--splat-joints", "is the configuration of --splat; give --splat too")
        if self.fit_base and self.splat is None:
            raise InputError("--fit-base", "fits the base to a splat of the robot; give --splat and --splat-joints")
        if self.bind_threshold is not None and not (np.isfinite(self.bind_threshold) and self.bind_threshold > 0):
            raise InputError("--bind-threshold", f"must be a finite number > 0, got {self.bind_threshold}")
        if not 0 <= self.min_bound_fraction <= 1:
            raise InputError("min_bound_fraction", f"must be in [0, 1], got {self.min_bound_fraction}")
        if self.gaussians_per_link < 1 or self.model_samples < 100:
            raise InputError("gaussians_per_link", "needs at least 1 Gaussian per link and 100 model samples")


@dataclass
class ImportRobotResult:
    """What ``import-robot`` wrote and measured."""

    prim: str
    links: int
    joints: int
    dof: int
    gaussians_per_link: dict[str, int] = field(default_factory=dict)
    unbound: int = 0
    total_gaussians: int = 0
    bind_threshold_m: float = 0.0
    base_world: list[list[float]] = field(default_factory=list)
    fit_rmse_m: float | None = None
    fit_inliers: int | None = None
    source: str = "meshes"


def read_joint_values(path: Path) -> dict[str, float]:
    """The ``--splat-joints`` JSON object (joint name -> rad or m); InputError naming the file otherwise."""
    try:
        values = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(path, "joint values file does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"is not a readable JSON file ({exc})") from None
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise InputError(path, "must hold a JSON object {joint name: value}")
    return values


def _robot_size(meshes: list[LinkMesh | None], poses: np.ndarray) -> float:
    points = [m.vertices @ p[:3, :3].T + p[:3, 3] for m, p in zip(meshes, poses, strict=True) if m is not None]
    if not points:
        return 0.0
    stacked = np.concatenate(points)
    return float(np.linalg.norm(stacked.max(0) - stacked.min(0)))


def _author_link_gaussians(
    stage: Usd.Stage, link_path: str, gaussians: Gaussians, binding: dict[str, np.ndarray], custom: dict[str, Any]
) -> None:
    from pxr import Sdf, UsdGeom, Vt  # noqa: PLC0415

    from splattwin.usd.splats import define_gaussians_prim  # noqa: PLC0415

    prim = define_gaussians_prim(stage, f"{link_path}/Gaussians", gaussians, custom_data=custom)
    api = UsdGeom.PrimvarsAPI(prim)
    values = [
        (BINDING_PRIMVARS[0], Sdf.ValueTypeNames.IntArray, Vt.IntArray.FromNumpy(binding["triangle"].astype(np.int32))),
        (
            BINDING_PRIMVARS[1],
            Sdf.ValueTypeNames.Float3Array,
            Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(binding["barycentric"], np.float32)),
        ),
        (
            BINDING_PRIMVARS[2],
            Sdf.ValueTypeNames.FloatArray,
            Vt.FloatArray.FromNumpy(np.ascontiguousarray(binding["normal_offset"], np.float32)),
        ),
    ]
    for name, kind, value in values:
        api.CreatePrimvar(name, kind, UsdGeom.Tokens.vertex).Set(value)


def _to_link_frame(gaussians: Gaussians, pose: np.ndarray) -> Gaussians:
    from splattwin.geometry.transforms import Similarity  # noqa: PLC0415

    return Similarity.from_matrix(np.linalg.inv(pose)).apply_gaussians(gaussians)


def _subset(gaussians: Gaussians, rows: np.ndarray) -> Gaussians:
    return Gaussians(
        means=gaussians.means[rows],
        quats_wxyz=gaussians.quats_wxyz[rows],
        scales=gaussians.scales[rows],
        opacities=gaussians.opacities[rows],
        sh=gaussians.sh[rows],
    )


def _bind_splat(
    config: ImportRobotConfig, robot: Robot, meshes: list[LinkMesh | None], q: np.ndarray, splat: Gaussians
) -> tuple[dict[int, tuple[Gaussians, dict[str, np.ndarray]]], Binding, float]:
    import torch  # noqa: PLC0415

    from splattwin.robot.binding import bind_gaussians  # noqa: PLC0415

    poses = robot.link_poses(torch.tensor(q[None], dtype=torch.float64))[0].numpy()
    threshold = config.bind_threshold or 0.01 * _robot_size(meshes, poses)
    binding = bind_gaussians(splat.means, meshes, poses, threshold=threshold)
    bound_fraction = 1.0 - binding.unbound / max(len(splat), 1)
    if bound_fraction < config.min_bound_fraction:
        raise InputError(
            config.splat,
            f"does not overlap robot {config.prim}: only {len(splat) - binding.unbound} of {len(splat)} Gaussians "
            f"lie within {threshold * 1000:.1f} mm of a link surface at the --splat-joints configuration "
            "(check --base, --splat-joints and the splat's frame)",
        )
    if binding.unbound:
        warnings.warn(
            f"{config.splat}: {binding.unbound} of {len(splat)} Gaussians are farther than "
            f"{threshold * 1000:.1f} mm from every link surface and were left unbound",
            stacklevel=2,
        )
    per_link = {}
    for index in range(len(meshes)):
        rows = np.flatnonzero(binding.link == index)
        if len(rows) == 0:
            continue
        local = _to_link_frame(_subset(splat, rows), poses[index])
        per_link[index] = (
            local,
            {
                "triangle": binding.triangle[rows],
                "barycentric": binding.barycentric[rows],
                "normal_offset": binding.normal_offset[rows],
            },
        )
    return per_link, binding, float(threshold)


def _gaussians_from_meshes(
    config: ImportRobotConfig, meshes: list[LinkMesh | None]
) -> dict[int, tuple[Gaussians, dict[str, np.ndarray]]]:
    from splattwin.robot.binding import plane_binding, sample_link_gaussians  # noqa: PLC0415

    rng = np.random.default_rng(config.seed)
    per_link = {}
    for index, mesh in enumerate(meshes):
        if mesh is None:
            continue
        gaussians, faces = sample_link_gaussians(mesh, config.gaussians_per_link, rng)
        bary, offset = plane_binding(gaussians.means.astype(np.float64), mesh.vertices[mesh.faces[faces]])
        per_link[index] = (gaussians, {"triangle": faces, "barycentric": bary, "normal_offset": offset})
    return per_link


def import_robot(config: ImportRobotConfig) -> ImportRobotResult:
    """Run ``import-robot``; see the module docstring. Raises InputError/StageError with the stage untouched."""
    import torch  # noqa: PLC0415

    from splattwin.io import read_gaussians  # noqa: PLC0415
    from splattwin.pipelines._common import check_new_prim_path, world_to_parent  # noqa: PLC0415
    from splattwin.robot.kinematics import Robot  # noqa: PLC0415
    from splattwin.robot.urdf import parse_urdf  # noqa: PLC0415
    from splattwin.robot.usd_robot import author_robot, link_meshes, read_robot_spec  # noqa: PLC0415
    from splattwin.usd.stage import edit_twin  # noqa: PLC0415

    config.validate()
    urdf = parse_urdf(config.urdf)
    splat = read_gaussians(config.splat) if config.splat is not None else None
    joint_values = read_joint_values(config.splat_joints) if config.splat_joints is not None else {}
    base_world = base_matrix(config.base)
    with edit_twin(config.stage) as twin:
        check_new_prim_path(twin, config.prim)
        with twin.edit_layer("robot") as stage:
            parent_from_world = world_to_parent(twin, config.prim).matrix()
            author_robot(stage, config.prim, urdf, base_local=parent_from_world @ base_world)
            spec = read_robot_spec(stage, config.prim)
            robot = Robot(spec)
            meshes = [link_meshes(stage, path) for path in spec.link_paths]
            result = ImportRobotResult(
                prim=config.prim, links=len(spec.link_names), joints=len(spec.joints), dof=robot.dof
            )
            q = (
                robot.check_joint_values(joint_values, str(config.splat_joints))
                if joint_values
                else np.zeros(robot.dof)
            )
            if splat is not None and config.fit_base:
                from splattwin.robot.registration import fit_base_pose, surface_samples  # noqa: PLC0415

                base_free = Robot(spec)
                base_free.base_world = torch.eye(4, dtype=torch.float64)
                poses = base_free.link_poses(torch.tensor(q[None]))[0].numpy()
                points, normals = surface_samples(
                    meshes, poses, config.model_samples, np.random.default_rng(config.seed)
                )
                fit = fit_base_pose(splat.means.astype(np.float64), points, normals, base_world)
                base_world = fit.base_world
                result.fit_rmse_m, result.fit_inliers = fit.rmse, fit.inliers
                _set_base(stage, config.prim, parent_from_world @ base_world)
                robot.base_world = torch.tensor(base_world)
            if splat is not None:
                per_link, binding, threshold = _bind_splat(config, robot, meshes, q, splat)
                result.unbound, result.bind_threshold_m, result.source = binding.unbound, threshold, str(config.splat)
            else:
                per_link = _gaussians_from_meshes(config, meshes)
            for index, (gaussians, bound) in per_link.items():
                custom = {"splattwin:binding": {"source": result.source, "triangles": "visuals then collisions"}}
                _author_link_gaussians(stage, spec.link_paths[index], gaussians, bound, custom)
                result.gaussians_per_link[spec.link_names[index]] = len(gaussians)
            result.total_gaussians = sum(result.gaussians_per_link.values()) + result.unbound
            result.base_world = base_world.tolist()
    return result


def _set_base(stage: Usd.Stage, prim_path: str, base_local: np.ndarray) -> None:
    from pxr import Gf, UsdGeom  # noqa: PLC0415

    xform = UsdGeom.Xformable(stage.GetPrimAtPath(prim_path))
    xform.GetOrderedXformOps()[0].Set(Gf.Matrix4d(np.asarray(base_local, np.float64).T.tolist()))
