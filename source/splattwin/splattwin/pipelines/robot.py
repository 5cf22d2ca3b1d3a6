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
    "RobotDemoConfig",
    "base_matrix",
    "capture_robot_base",
    "import_robot",
    "make_capture_robot_splat",
    "read_joint_values",
    "resolve_urdf",
    "robot_report_lines",
    "run_robot_demo_step",
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
        splat: a splat of the robot (.ply, .spz, .splat) captured at ``splat_joints``, in the frame the other
            imports take (docs/frames.md): on an aligned twin the reconstruction frame (the recorded alignment
            brings it into the twin), on an unaligned one the twin's frame.
        metric: the splat is already in the twin's aligned frame (z-up metres): the alignment is not applied.
        force: import with a base beyond the units limits (farther than a room from the origin).
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
    metric: bool = False
    force: bool = False

    def validate(self) -> None:
        """Check values and option combinations (InputError naming the flag)."""
        from splattwin.pipelines._units import ROOM_SIZE_M  # noqa: PLC0415

        if len(self.base) not in (3, 4) or not np.isfinite(self.base).all():
            raise InputError("--base", f"expected X,Y,Z or X,Y,Z,YAW_DEG finite numbers, got {self.base}")
        distance = float(np.linalg.norm(self.base[:3]))
        if distance > ROOM_SIZE_M and not self.force:
            # The import verbs' units rule: farther than a room is a unit mistake (a base in millimetres).
            factor = 0.001 if distance >= 50 else 0.01
            unit = "millimetres" if factor == 0.001 else "centimetres"
            guess = ",".join(f"{v * factor:g}" for v in self.base[:3]) + (
                f",{self.base[3]:g}" if len(self.base) > 3 else ""
            )
            raise InputError(
                "--base",
                f"{distance:.3g} m from the twin's origin, farther than a room ({ROOM_SIZE_M:g} m): {unit}? --base "
                f"takes metres: try --base {guess}; give --force to import it there anyway",
            )
        if self.metric and self.splat is None:
            raise InputError("--metric", "says which frame --splat is in; give --splat too")
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
    splat_frame: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


def _bind_splat(
    config: ImportRobotConfig,
    robot: Robot,
    meshes: list[LinkMesh | None],
    q: np.ndarray,
    splat: Gaussians,
    splat_frame: str,
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
            f"(check --base, --splat-joints and the splat's frame: it was taken {splat_frame})",
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
        local = _to_link_frame(splat.subset(rows), poses[index])
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
    from splattwin.robot.kinematics import Robot  # noqa: PLC0415
    from splattwin.robot.urdf import parse_urdf  # noqa: PLC0415
    from splattwin.robot.usd_robot import author_robot, link_meshes, read_robot_spec  # noqa: PLC0415
    from splattwin.usd.prims import check_new_prim_path, world_to_parent  # noqa: PLC0415
    from splattwin.usd.stage import edit_twin  # noqa: PLC0415

    config.validate()
    urdf = parse_urdf(config.urdf)
    splat = read_gaussians(config.splat) if config.splat is not None else None
    joint_values = read_joint_values(config.splat_joints) if config.splat_joints is not None else {}
    base_world = base_matrix(config.base)
    with edit_twin(config.stage) as twin:
        check_new_prim_path(twin, config.prim)
        notes: list[str] = []
        warnings_found: list[str] = []
        splat_frame = None
        if splat is not None:
            # The scan of the robot is taken like every import (docs/frames.md): on an aligned twin in the
            # reconstruction frame, brought in by the recorded alignment, unless --metric.
            from splattwin.pipelines._common import import_frame  # noqa: PLC0415

            frame = import_frame(twin, source=config.splat, up_axis="z", scale=1.0, metric=config.metric)
            notes, warnings_found = frame.notes, frame.warnings
            if not frame.to_twin.is_identity():
                splat = frame.to_twin.apply_gaussians(splat)
            splat_frame = _frame_words(twin, config.metric)
        with twin.edit_layer("robot") as stage:
            parent_from_world = world_to_parent(twin, config.prim).matrix()
            author_robot(stage, config.prim, urdf, base_local=parent_from_world @ base_world)
            spec = read_robot_spec(stage, config.prim)
            robot = Robot(spec)
            meshes = [link_meshes(stage, path) for path in spec.link_paths]
            result = ImportRobotResult(
                prim=config.prim,
                links=len(spec.link_names),
                joints=len(spec.joints),
                dof=robot.dof,
                splat_frame=splat_frame,
                notes=notes,
                warnings=warnings_found,
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
                _record_capture_configuration(stage, config.prim, robot, q)
                per_link, binding, threshold = _bind_splat(config, robot, meshes, q, splat, splat_frame or "")
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


def _frame_words(twin: Any, metric: bool) -> str:
    """Which frame ``--splat`` was taken in, for the messages."""
    from splattwin.usd.frames import alignment_record  # noqa: PLC0415

    if alignment_record(twin.stage) is None:
        return "in the twin's frame (the twin is not aligned)"
    if metric:
        return "in the twin's aligned frame (--metric)"
    return "in the reconstruction frame and brought into the aligned twin (give --metric for a twin-frame splat)"


def _record_capture_configuration(stage: Usd.Stage, prim_path: str, robot: Robot, q: np.ndarray) -> None:
    """Keep the scan's configuration: ``customData["splattwin:captureJoints"]`` on the robot prim (rad / m) and the
    joint drives' targets (degrees for angular drives), so a simulator holds the robot where the scan shows it."""
    from pxr import UsdPhysics  # noqa: PLC0415

    values = dict(zip(robot.joint_names, (float(v) for v in q), strict=True))
    for joint in robot.spec.joints:
        if joint.mimic is not None:
            values[joint.name] = joint.mimic[1] * values[joint.mimic[0]] + joint.mimic[2]
    stage.GetPrimAtPath(prim_path).SetCustomDataByKey("splattwin:captureJoints", values)
    for prim in stage.GetPrimAtPath(f"{prim_path}/joints").GetChildren():
        name = str(prim.GetCustomDataByKey("splattwin:urdfName") or prim.GetName())
        if name not in values:
            continue
        angular = prim.IsA(UsdPhysics.RevoluteJoint)
        drive = UsdPhysics.DriveAPI.Get(prim, "angular" if angular else "linear")
        if drive:
            drive.GetTargetPositionAttr().Set(float(np.degrees(values[name]) if angular else values[name]))


def _set_base(stage: Usd.Stage, prim_path: str, base_local: np.ndarray) -> None:
    from pxr import Gf, UsdGeom  # noqa: PLC0415

    xform = UsdGeom.Xformable(stage.GetPrimAtPath(prim_path))
    xform.GetOrderedXformOps()[0].Set(Gf.Matrix4d(np.asarray(base_local, np.float64).T.tolist()))


PANDA_IN_PYBULLET_DATA = "pybullet_data:franka_panda/panda.urdf"
"""The demo's robot: the Franka Panda URDF with meshes shipped in the ``pybullet`` wheel (``splattwin[robots]``)."""


def resolve_urdf(spec: str) -> Path:
    """A URDF path, or ``pybullet_data:<relative path>`` for the robots shipped with pybullet.

    Raises:
        InputError: ``pybullet_data:`` is asked for but pybullet is not installed (it says what to install).
    """
    if not spec.startswith("pybullet_data:"):
        return Path(spec)
    try:
        import pybullet_data  # noqa: PLC0415
    except ImportError:
        raise InputError(
            spec, "needs the pybullet wheel's robot files: pip install 'splattwin[robots]' (or give a URDF path)"
        ) from None
    return Path(pybullet_data.getDataPath()) / spec.split(":", 1)[1]


@dataclass(kw_only=True)
class RobotDemoConfig:
    """The demo's robot step (``splattwin demo ... robot.seed=3``).

    Attributes:
        enabled: run the step.
        urdf: the robot's URDF, or ``pybullet_data:<path>``.
        prim: the robot prim in the twin.
        joints: the configuration the robot was "captured" at (rad / m), joint name -> value.
        gaussians: Gaussians in the generated robot splat.
        seed: seed of the generated splat and of the coarse base guess.
        guess_offset_m: how far the coarse base guess is from the truth (m), in a seeded random direction.
        guess_yaw_deg: how far the guess is turned about z from the truth (deg).
    """

    enabled: bool = True
    urdf: str = PANDA_IN_PYBULLET_DATA
    prim: str = "/World/Robot"
    joints: dict[str, float] = field(
        default_factory=lambda: {
            "panda_joint1": 0.35,
            "panda_joint2": -0.45,
            "panda_joint3": 0.2,
            "panda_joint4": -2.2,
            "panda_joint5": 0.15,
            "panda_joint6": 1.8,
            "panda_joint7": 0.7,
            "panda_finger_joint1": 0.03,
        }
    )
    gaussians: int = 30_000
    seed: int = 7
    guess_offset_m: float = 0.03
    guess_yaw_deg: float = 5.0


def capture_robot_base(capture_json: Path) -> tuple[np.ndarray, float]:
    """Where the sample's assets script put the robot: base pose [4, 4] in the reconstruction frame, and its scale.

    From ``capture.json``'s ``truth`` (the robot base point; base axes = the truth world's axes), which stands in
    for the camera that filmed the robot; an import never reads it.
    """
    from splattwin.geometry.transforms import Similarity  # noqa: PLC0415

    truth = json.loads(Path(capture_json).read_text())["truth"]
    recon = Similarity(
        rotation=np.array(truth["recon_from_world"]["rotation"]),
        translation=np.array(truth["recon_from_world"]["translation"]),
        scale=float(truth["recon_from_world"]["scale"]),
    )
    base = np.eye(4)
    base[:3, :3] = recon.rotation
    base[:3, 3] = recon.apply_points(np.array(truth["robot_base"], np.float64))
    return base, recon.scale


def make_capture_robot_splat(
    urdf: Path, joints: dict[str, float], truth_base_recon: np.ndarray, recon_scale: float, *, count: int, seed: int
) -> Gaussians:
    """The robot as a scan would show it: Gaussians on its link meshes at ``joints``, in the reconstruction frame.

    Args:
        urdf: the robot.
        joints: joint name -> value (rad / m).
        truth_base_recon: the base pose in the reconstruction frame, rotation and translation [4, 4] (no scale).
        recon_scale: reconstruction units per metre.
        count: number of Gaussians.
        seed: random seed (same seed, same splat).
    """
    import tempfile  # noqa: PLC0415

    from splattwin.robot.kinematics import load_robot  # noqa: PLC0415
    from splattwin.robot.synthetic import robot_splat_from_meshes  # noqa: PLC0415
    from splattwin.robot.usd_robot import link_meshes  # noqa: PLC0415
    from splattwin.usd.stage import open_twin  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "robot.usda"
        import_robot(ImportRobotConfig(urdf=urdf, stage=stage, prim="/World/Robot", gaussians_per_link=1))
        twin = open_twin(stage)
        robot = load_robot(twin, "/World/Robot", gaussians=False)
        meshes = [link_meshes(twin.stage, path) for path in robot.link_paths]
    q = robot.check_joint_values(joints, "joints")
    metric, _ = robot_splat_from_meshes(robot, meshes, q, count=count, seed=seed, base_world=np.eye(4))
    from splattwin.geometry.transforms import Similarity  # noqa: PLC0415

    to_recon = Similarity(rotation=truth_base_recon[:3, :3], translation=truth_base_recon[:3, 3], scale=recon_scale)
    return to_recon.apply_gaussians(metric)


def run_robot_demo_step(
    config: RobotDemoConfig, *, stage: Path, out: Path, capture_json: Path, twin_from_recon: Any
) -> dict[str, Any]:
    """The demo's robot: a Panda splat made from its meshes (seeded) as the scan shows it, the base fitted from a
    coarse guess, the Gaussians bound to the links, then ``align --robot`` so the twin's axes follow the base.

    Args:
        config: the step's options.
        stage: the demo twin (already aligned: z up, metres, table top at z = 0).
        out: the demo's output folder (the generated splat files go there).
        capture_json: ``capture.json`` of the sample; its ``truth`` block (where the assets script put the robot)
            stands in for the camera that would have filmed the robot.
        twin_from_recon: the demo's alignment (a Similarity, reconstruction frame -> twin).

    Returns:
        The report section: counts, RMSE, base errors against the truth, the heading fixed.
    """
    import time  # noqa: PLC0415

    from splattwin.io import write_gaussians  # noqa: PLC0415
    from splattwin.pipelines.align import AlignConfig, align_twin  # noqa: PLC0415

    started = time.perf_counter()
    urdf = resolve_urdf(config.urdf)
    base_recon, recon_scale = capture_robot_base(capture_json)
    capture = make_capture_robot_splat(
        urdf, dict(config.joints), base_recon, recon_scale, count=config.gaussians, seed=config.seed
    )
    write_gaussians(out / "robot_capture.ply", capture)  # as the scan holds it (reconstruction frame)
    in_twin = twin_from_recon.apply_gaussians(capture)
    splat_path, joints_path = out / "robot_splat.ply", out / "robot_joints.json"
    write_gaussians(splat_path, in_twin)
    joints_path.write_text(json.dumps(dict(config.joints), indent=2))
    # The base in the twin per the truth, and a coarse guess off by guess_offset_m / guess_yaw_deg.
    true_base = np.eye(4)
    true_base[:3, :3] = twin_from_recon.rotation @ base_recon[:3, :3]
    true_base[:3, 3] = twin_from_recon.apply_points(base_recon[:3, 3])
    true_yaw = float(np.degrees(np.arctan2(true_base[1, 0], true_base[0, 0])))
    rng = np.random.default_rng(config.seed)
    direction = rng.normal(size=3)
    direction *= config.guess_offset_m / np.linalg.norm(direction)
    guess = (*(true_base[:3, 3] + direction).tolist(), true_yaw + config.guess_yaw_deg)
    result = import_robot(
        ImportRobotConfig(
            urdf=urdf,
            stage=stage,
            prim=config.prim,
            base=guess,
            splat=out / "robot_capture.ply",  # as the scan holds it: the twin's alignment brings it in
            splat_joints=joints_path,
            fit_base=True,
        )
    )
    fitted = np.array(result.base_world)
    relative = fitted[:3, :3].T @ true_base[:3, :3]
    angle_error = float(np.degrees(np.arccos(np.clip((np.trace(relative) - 1) / 2, -1, 1))))
    aligned = align_twin(AlignConfig(stage=stage, robot=config.prim, compose=True))
    heading = next(s for s in aligned.record["steps"] if s["name"] == "robot")["heading_deg"]
    return {
        "prim": result.prim,
        "urdf": str(urdf),
        "links": result.links,
        "joints": result.joints,
        "dof": result.dof,
        "gaussians": result.total_gaussians,
        "bound": sum(result.gaussians_per_link.values()),
        "unbound": result.unbound,
        "per_link": result.gaussians_per_link,
        "bind_threshold_mm": 1000 * result.bind_threshold_m,
        "fit_rmse_mm": 1000 * result.fit_rmse_m,
        "fit_inliers": result.fit_inliers,
        "guess_error_mm": 1000 * config.guess_offset_m,
        "guess_yaw_deg": config.guess_yaw_deg,
        "base_position_error_mm": float(1000 * np.linalg.norm(fitted[:3, 3] - true_base[:3, 3])),
        "base_angle_error_deg": angle_error,
        "heading_fixed_deg": heading,
        "seconds": time.perf_counter() - started,
    }


def robot_report_lines(section: dict[str, Any]) -> list[str]:
    """The demo report's robot section (markdown lines)."""
    if "skipped" in section:
        return ["## Robot", f"- Skipped: {section['skipped']}", ""]
    per_link = ", ".join(f"{name} {count:,}" for name, count in section["per_link"].items())
    return [
        "## Robot",
        f"- `{section['prim']}` from `{Path(section['urdf']).name}`: {section['links']} links, {section['joints']} "
        f"joints, {section['dof']} degrees of freedom.",
        f"- Robot splat (made from its own meshes, seeded): {section['gaussians']:,} Gaussians; "
        f"{section['bound']:,} bound to links, {section['unbound']:,} unbound "
        f"(threshold {section['bind_threshold_mm']:.1f} mm). Per link: {per_link}.",
        f"- Base fit (ICP from a guess {section['guess_error_mm']:.0f} mm / {section['guess_yaw_deg']:.0f} deg off): "
        f"RMSE {section['fit_rmse_mm']:.2f} mm over {section['fit_inliers']:,} Gaussians; error against the truth "
        f"{section['base_position_error_mm']:.2f} mm, {section['base_angle_error_deg']:.3f} deg.",
        f"- `align --robot`: the twin turned {-section['heading_fixed_deg']:.2f} deg about z, so +x follows the "
        "robot base and the origin sits at the base.",
        f"- Step time: {section['seconds']:.1f} s.",
        "",
    ]
