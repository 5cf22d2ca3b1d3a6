"""``splattwin identify-mass``: identify a twin object's mass from push logs and write it into the twin.

Order, so nothing is half-written: read and validate every log and the stage (any problem raises before
anything is written); fit; write the plots and the JSON report (atomically); only then, and only when the mass
is identifiable, author it into the twin's ``physics`` layer through :func:`~splattwin.usd.edit_twin` (saved
atomically or not at all). A "not identifiable" result leaves the stage untouched.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError

__all__ = ["IdentifyConfig", "IdentifyResult", "identify_object_mass", "save_identification_plots"]

logger = logging.getLogger(__name__)

METHOD = "Warp differentiable push simulation (PD fingertip, bristle friction); bracketed log-mass search"


@dataclass(kw_only=True)
class IdentifyConfig:
    """``splattwin identify-mass`` options.

    Attributes:
        stage: the twin's root layer.
        object: the rigid body prim whose mass is identified.
        logs: push log v1 folders of that object (world frame of the twin).
        report: JSON report path (plots go next to it: ``<stem>_loss.png``, ``<stem>_trajectories.png``).
        fit_contact_stiffness: fit the fingertip contact stiffness as a nuisance parameter.
        fit_friction: fit the table friction as well.
        device: Warp device (``cpu`` or ``cuda``).
        write_stage: author the result into the twin (False: report only).
        plots: write the PNG plots next to the report.
        extra: more entries for the JSON report (the demo adds ``true_mass_kg``, also drawn in the plots).
        overwrite: replace a report or plots that exist already (``--force``); refused without.
    """

    stage: Path
    object: str
    logs: list[Path]
    report: Path
    fit_contact_stiffness: bool = True
    fit_friction: bool = False
    device: str = "cpu"
    write_stage: bool = True
    plots: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False

    def outputs(self) -> list[Path]:
        """The report and, with ``plots``, the plot files beside it."""
        stem = self.report.with_suffix("")
        plots = [stem.with_name(f"{stem.name}_{kind}.png") for kind in ("loss", "trajectories")] if self.plots else []
        return [self.report, *plots]

    def validate(self) -> None:
        """Check options that need no file access."""
        if not self.logs:
            raise InputError("--log", "give at least one push log folder")
        if not self.object.startswith("/"):
            raise InputError("--object", f"must be an absolute prim path, got {self.object!r}")
        if self.report.suffix.lower() != ".json":
            raise InputError(self.report, "the report must be a .json file")
        from splattwin.io import check_new_outputs  # noqa: PLC0415

        check_new_outputs(*self.outputs(), force=self.overwrite)


@dataclass
class IdentifyResult:
    """What :func:`identify_object_mass` did.

    Attributes:
        report: the JSON report's content.
        identification: the :class:`~splattwin.sysid.MassIdentification`.
        written: whether the stage was edited.
        images: plot files written.
    """

    report: dict[str, Any]
    identification: Any
    written: bool
    images: list[Path]


def save_identification_plots(identification: Any, stem: Path, *, true_mass: float | None = None) -> list[Path]:
    """Plots as PNG: loss per iteration (``<stem>_loss.png``), observed vs simulated (``<stem>_trajectories.png``)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from splattwin.io import atomic_output  # noqa: PLC0415

    paths = []
    history = identification.history
    if history:
        fig, (ax_loss, ax_mass) = plt.subplots(1, 2, figsize=(9, 3.2))
        iterations = np.arange(1, len(history) + 1)
        ax_loss.semilogy(iterations, [max(h["loss"], 1e-12) for h in history], "o-", ms=3)
        ax_loss.set_xlabel("gradient evaluation")
        ax_loss.set_ylabel("loss [m^2]")
        ax_loss.set_title("loss per iteration")
        ax_mass.plot(iterations, [h["mass"] for h in history], "o-", ms=3, label="mass tried")
        if identification.mass is not None:
            ax_mass.axhline(identification.mass, color="C2", label=f"identified {identification.mass:.4g} kg")
        ax_mass.axhline(
            identification.mass_prior, color="C7", ls=":", label=f"prior {identification.mass_prior:.4g} kg"
        )
        if true_mass is not None:
            ax_mass.axhline(true_mass, color="C3", ls="--", label=f"true {true_mass:.4g} kg")
        ax_mass.set_xlabel("gradient evaluation")
        ax_mass.set_ylabel("mass [kg]")
        ax_mass.legend(fontsize=7)
        fig.tight_layout()
        path = stem.with_name(f"{stem.name}_loss.png")
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
        paths.append(path)
    simulated = getattr(identification, "simulated", None) or []
    observed = getattr(identification, "observed", None) or []
    if simulated:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        for i, (sim, log) in enumerate(zip(simulated, observed, strict=False)):
            color = f"C{i}"
            axes[0].plot(
                log.object_pose[:, 0], log.object_pose[:, 1], color=color, lw=2, alpha=0.5, label=f"observed {i}"
            )
            axes[0].plot(
                sim.object_pose[:, 0], sim.object_pose[:, 1], color=color, ls="--", lw=1, label=f"simulated {i}"
            )
            axes[0].plot(log.pusher_target[:, 0], log.pusher_target[:, 1], color=color, ls=":", lw=0.8)
            if log.pusher_position is not None:
                lag_obs = np.linalg.norm(log.pusher_target - log.pusher_position, axis=1)
                n = min(len(sim.pusher_position), len(log.t))
                target = np.array([np.interp(sim.t[:n], log.t, log.pusher_target[:, a]) for a in range(3)]).T
                lag_sim = np.linalg.norm(target - sim.pusher_position[:n], axis=1)
                axes[1].plot(log.t - log.t[0], 1000 * lag_obs, color=color, lw=2, alpha=0.5, label=f"observed {i}")
                axes[1].plot(sim.t[:n] - sim.t[0], 1000 * lag_sim, color=color, ls="--", lw=1, label=f"simulated {i}")
        axes[0].set_aspect("equal", adjustable="datalim")
        axes[0].set_xlabel("x [m]")
        axes[0].set_ylabel("y [m]")
        axes[0].set_title("object centre (dotted: commanded fingertip)")
        axes[0].legend(fontsize=7)
        axes[1].set_xlabel("t [s]")
        axes[1].set_ylabel("|target - fingertip| [mm]")
        axes[1].set_title("fingertip lag (the force that reveals the mass)")
        axes[1].legend(fontsize=7)
        fig.tight_layout()
        path = stem.with_name(f"{stem.name}_trajectories.png")
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def identify_object_mass(config: IdentifyConfig, *, progress: Callable[[int], None] | None = None) -> IdentifyResult:
    """Run the identification and write report, plots and (when identifiable) the twin's physics layer.

    Raises:
        InputError: a bad log, option or mesh.
        StageError: the stage or prim is missing or not a rigid body.
    """
    import trimesh  # noqa: PLC0415

    from splattwin.io.pushlog import read_push_log  # noqa: PLC0415
    from splattwin.physics import PushSimConfig, body_from_mesh  # noqa: PLC0415
    from splattwin.sysid import MassIdentificationConfig, identify_mass  # noqa: PLC0415
    from splattwin.usd.bodies import read_collision_parts  # noqa: PLC0415
    from splattwin.usd.identified import read_collision_mesh, read_mass, write_identified_mass  # noqa: PLC0415
    from splattwin.usd.stage import edit_twin, open_twin  # noqa: PLC0415

    config.validate()
    logs = [read_push_log(path) for path in config.logs]
    twin = open_twin(config.stage)
    _check_identifiable_object(twin.stage, config.object, logs)
    prior, prior_sigma, prior_source, _ = read_mass(twin.stage, config.object)
    prim_vertices, prim_faces = read_collision_mesh(twin.stage, config.object)
    prim_parts = read_collision_parts(twin.stage, config.object)
    if logs[0].mesh_path is not None:
        log_meshes = {}
        for log in logs:
            if log.mesh_path is not None and log.mesh_path not in log_meshes:
                try:
                    log_meshes[log.mesh_path] = trimesh.load(log.mesh_path, process=False, force="mesh")
                except Exception as exc:  # trimesh raises many types for unreadable files
                    raise InputError(log.mesh_path, f"cannot read the object mesh ({exc})") from None
                _check_same_object(log.mesh_path, log_meshes[log.mesh_path], prim_vertices, prim_faces, twin, config)
        mesh = log_meshes[logs[0].mesh_path]
        body = body_from_mesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), name=str(logs[0].mesh_path))
        mesh_source = str(logs[0].mesh_path)
    else:
        _check_rests_on_the_table(logs, prim_vertices, twin, config)
        body = body_from_mesh(prim_vertices, prim_faces, name=f"{config.stage}:{config.object}", parts=prim_parts)
        mesh_source = f"{config.object} collision mesh" + (f", {len(prim_parts)} convex parts" if prim_parts else "")
    from splattwin.usd.prims import world_matrix  # noqa: PLC0415

    prim_position = world_matrix(twin.stage.GetPrimAtPath(config.object))[:3, 3]
    del twin
    pose_warnings = [
        f"{log.folder}: the object starts {1000 * d:.0f} mm from where the twin has {config.object}"
        for log in logs
        if (d := float(np.linalg.norm(log.object_pose[0, :3] - prim_position))) > 0.01
    ]
    settings = MassIdentificationConfig(
        fit_contact_stiffness=config.fit_contact_stiffness,
        fit_friction=config.fit_friction,
        sim=PushSimConfig(device=config.device),
    )
    identification = identify_mass(logs, body, mass_prior=prior, config=settings, name=config.object, progress=progress)
    report = {
        "stage": str(config.stage),
        "object": config.object,
        "mesh": mesh_source,
        "prior": {"mass_kg": prior, "uncertainty_kg": prior_sigma, "source": prior_source},
        **identification.to_dict(),
        "written_to_stage": False,
        **config.extra,
    }
    report["warnings"] = report["warnings"] + pose_warnings
    config.report.parent.mkdir(parents=True, exist_ok=True)
    images = []
    if config.plots:
        true_mass = config.extra.get("true_mass_kg")
        images = save_identification_plots(identification, config.report.with_suffix(""), true_mass=true_mass)
    report["images"] = [p.name for p in images]
    _write_report(config.report, report)  # first, so an unwritable report fails before the stage is touched
    written = False
    if identification.identifiable and config.write_stage:
        with edit_twin(config.stage, create=False) as editing:
            write_identified_mass(
                editing,
                config.object,
                mass_kg=identification.mass,
                uncertainty_kg=identification.uncertainty,
                method=METHOD,
                loss=identification.loss,
                logs=[str(p) for p in config.logs],
                extra={
                    "contactStiffnessNm": identification.contact_stiffness,
                    "tableFriction": identification.friction,
                    "rmsResidualM": identification.rms_residual_m,
                },
            )
        written = True
        report["written_to_stage"] = True
        _write_report(config.report, report)
    return IdentifyResult(report=report, identification=identification, written=written, images=images)


_SIZE_TOLERANCE = 1.25
"""The log's object mesh and the prim's collision mesh may differ by this factor in size (a scan against a CAD
model); beyond it they are not one object at one scale (millimetres, an unaligned reconstruction)."""


def _check_identifiable_object(stage: Any, object_path: str, logs: list[Any]) -> None:
    """Refuse an ``--object`` that is not a dynamic rigid body of the twin's objects (a robot link, a static or
    kinematic body, a prim the logs do not name)."""
    from pxr import Usd, UsdPhysics  # noqa: PLC0415

    prim = stage.GetPrimAtPath(object_path)
    if not prim or not prim.IsValid():
        return  # read_mass says "no prim at ..."
    objects = [
        str(p.GetPath())
        for p in Usd.PrimRange(stage.GetPseudoRoot())
        if p.HasAPI(UsdPhysics.RigidBodyAPI) and _articulation_of(p) is None and _is_dynamic(p)
    ]
    hint = f"the twin's dynamic objects: {objects}" if objects else "the twin has none (import-mesh --dynamic)"
    robot = _articulation_of(prim)
    if robot is not None:
        raise InputError(
            "--object",
            f"{object_path} is a link of the robot {robot}, not an object; identify-mass identifies the mass of a "
            f"dynamic object the robot pushes ({hint})",
        )
    if not prim.HasAPI(UsdPhysics.RigidBodyAPI):
        raise InputError("--object", f"{object_path} is not a rigid body (a static mesh has no mass to fit; {hint})")
    if not _is_dynamic(prim):
        raise InputError("--object", f"{object_path} is a kinematic or disabled rigid body, not a dynamic one ({hint})")
    named = sorted({log.prim for log in logs if log.prim and log.prim != object_path})
    if named:
        raise InputError("--object", f"the push logs are of {named}, not of {object_path}")


def _articulation_of(prim: Any) -> str | None:
    from pxr import UsdPhysics  # noqa: PLC0415

    while prim and prim.IsValid() and not prim.IsPseudoRoot():
        if prim.HasAPI(UsdPhysics.ArticulationRootAPI):
            return str(prim.GetPath())
        prim = prim.GetParent()
    return None


def _is_dynamic(prim: Any) -> bool:
    from pxr import UsdPhysics  # noqa: PLC0415

    body = UsdPhysics.RigidBodyAPI(prim)
    return bool(body.GetRigidBodyEnabledAttr().Get() is not False and not body.GetKinematicEnabledAttr().Get())


def _mesh_size(mesh: Any) -> tuple[np.ndarray, float]:
    """Sorted oriented-bounding-box extents (orientation-free) and the enclosed volume (hull if not closed)."""
    extents = np.sort(np.asarray(mesh.bounding_box_oriented.primitive.extents, dtype=np.float64))
    volume = float(mesh.volume) if mesh.is_volume else float(abs(mesh.convex_hull.volume))
    return extents, volume


def _frame_note(twin: Any, object_path: str) -> str:
    """Where the prim's data came from and which frame it is in, for a mismatch message."""
    frame = dict(twin.stage.GetPrimAtPath(object_path).GetCustomDataByKey("splattwin:frame") or {})
    source = f" (imported from {Path(str(frame['source'])).name})" if frame.get("source") else ""
    aligned = twin.stage.GetPrimAtPath("/World").GetCustomDataByKey("splattwin:alignment") is not None
    if not aligned and not frame.get("metric"):
        advice = (
            "the twin is not aligned, so the prim is in the reconstruction's units, not metres: run align "
            "(--scale-from) first (docs/frames.md)"
        )
    else:
        advice = "check the log mesh's units and the twin's alignment scale (docs/frames.md)"
    return f"{source}; {advice}"


def _check_same_object(
    mesh_path: Path, log_mesh: Any, prim_vertices: np.ndarray, prim_faces: np.ndarray, twin: Any, config: Any
) -> None:
    """Refuse a log whose object mesh is clearly not the prim's collision mesh at the twin's scale."""
    import trimesh  # noqa: PLC0415

    log_extents, log_volume = _mesh_size(log_mesh)
    prim_extents, prim_volume = _mesh_size(trimesh.Trimesh(prim_vertices, prim_faces, process=False))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = prim_extents / log_extents
        factor = float(np.cbrt(prim_volume / log_volume)) if log_volume > 0 and prim_volume > 0 else float("nan")
    checked = [*ratios[log_extents > 1e-9], factor] if np.isfinite(factor) else list(ratios[log_extents > 1e-9])
    if all(1 / _SIZE_TOLERANCE <= r <= _SIZE_TOLERANCE for r in checked):
        return
    size = factor if np.isfinite(factor) else float(np.exp(np.mean(np.log(ratios))))

    def dims(extents: np.ndarray) -> str:
        return " x ".join(f"{e:.4g}" for e in extents)

    raise InputError(
        mesh_path,
        f"the push log's object mesh ({dims(log_extents)} m, {log_volume:.4g} m^3) is not {config.object}'s "
        f"collision mesh in {config.stage} ({dims(prim_extents)}, {prim_volume:.4g} in the twin's frame: "
        f"{size:.3g} times the size){_frame_note(twin, config.object)}",
    )


def _check_rests_on_the_table(logs: list[Any], vertices: np.ndarray, twin: Any, config: Any) -> None:
    """Without a log mesh the prim's is simulated: at the first sample it must rest on the log's table (its lowest
    point at the table height), else it is not in metres and the fitted mass would be wrong."""
    for log in logs:
        w, x, y, z = log.object_pose[0, 3:] / np.linalg.norm(log.object_pose[0, 3:])
        # The world-z row of the body's rotation: the height of each vertex above the body origin.
        row = np.array([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])
        depth_mesh = -float((vertices @ row).min())
        depth_log = float(log.object_pose[0, 2] - log.table_height)
        if abs(depth_mesh - depth_log) > max(0.005, 0.25 * abs(depth_log)):
            raise InputError(
                log.folder,
                f"the object's centre starts {depth_log * 1000:.1f} mm above the log's table, but "
                f"{config.object}'s collision mesh in {config.stage} reaches {depth_mesh:.4g} below its centre "
                f"in that pose: the prim's mesh is not the logged object in metres"
                f"{_frame_note(twin, config.object)}",
            )


def _write_report(path: Path, report: dict[str, Any]) -> None:
    from splattwin.io import atomic_output  # noqa: PLC0415

    try:
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(_finite(report), indent=2, default=_json_default) + "\n")
    except OSError as exc:
        raise InputError(path, f"cannot write the report ({exc.strerror})") from None


def _finite(value: Any) -> Any:
    """NaN/inf become null so the report stays valid JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
