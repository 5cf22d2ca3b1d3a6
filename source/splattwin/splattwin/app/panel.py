"""The panel's state and actions on the open twin, without Kit: each action returns an :class:`ActionResult`.

The Kit layer (``exts/splattwin_ext/splattwin_ext/ui.py``) calls these from its buttons, wrapped in undoable
commands (``exts/.../commands.py``). Stage edits go through the pipelines, which save the twin atomically or not at
all, so an action that fails leaves the stage as it was, and the panel shows its one error line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from splattwin.app.messages import ActionResult, Message, run_action
from splattwin.errors import InputError, SplatTwinError

__all__ = ["IdentificationCancelled", "IdentifiedMass", "PanelController"]


class IdentificationCancelled(SplatTwinError):
    """Raised from the progress callback when the panel's Cancel was pressed; nothing is written then."""


@dataclass
class IdentifiedMass:
    """What the panel shows for an object: mass [kg], 1-sigma [kg] or None, its source and the plot images."""

    prim: str
    mass_kg: float
    sigma_kg: float | None
    source: str
    plots: list[Path] = field(default_factory=list)


@dataclass
class PanelController:
    """State of the SplatTwin panel for one twin.

    Attributes:
        stage: the twin's root layer file (the stage open in Kit, saved).
        scale_points: world points [m] picked for the scale step, at most two (the latest two are kept).
        table_prim: the prim picked as the table for the gravity step (or ``"auto"``).
        overlay_enabled: whether the viewport overlay is on.
        native_splats: draw ``ParticleField3DGaussianSplat`` with the runtime's own renderer instead of the overlay.
        identified: the last identification's result, per object prim.
    """

    stage: Path
    scale_points: list[tuple[float, float, float]] = field(default_factory=list)
    table_prim: str | None = None
    overlay_enabled: bool = False
    native_splats: bool = False
    identified: dict[str, IdentifiedMass] = field(default_factory=dict)

    # ---- imports -------------------------------------------------------------------------------------------
    def import_splat(
        self, source: Path, prim: str = "/World/Scene/Splat", *, up_axis: str = "z", scale: float = 1.0
    ) -> ActionResult:
        """Import a Gaussian file (.ply, .spz, .splat) as a splat prim of the scene layer."""
        from splattwin.pipelines.importing import ImportSplatConfig, import_splat  # noqa: PLC0415

        config = ImportSplatConfig(source=Path(source), stage=self.stage, prim=prim, up_axis=up_axis, scale=scale)
        return run_action(
            "import splat",
            lambda: import_splat(config),
            lambda r: (
                [Message("info", f"imported {r.count} Gaussians into {r.prim} ({r.layer} layer)")]
                + [Message("warning", w) for w in r.warnings]
            ),
        )

    def import_mesh(
        self, source: Path, prim: str, *, dynamic: bool = False, material: str = "wood", mass_kg: float | None = None
    ) -> ActionResult:
        """Import a mesh as a static collider or (``dynamic``) a rigid object with a mass prior or ``mass_kg``."""
        from splattwin.pipelines.importing import ImportMeshConfig, import_mesh  # noqa: PLC0415

        config = ImportMeshConfig(
            source=Path(source), stage=self.stage, prim=prim, dynamic=dynamic, material=material, mass=mass_kg
        )
        return run_action(
            "import mesh",
            lambda: import_mesh(config),
            lambda r: (
                [Message("info", f"imported {r.prim} ({r.layer} layer)")] + [Message("warning", w) for w in r.warnings]
            ),
        )

    def import_robot(
        self, urdf: str, prim: str = "/World/Robot", *, base: Sequence[float] = (0.0, 0.0, 0.0)
    ) -> ActionResult:
        """Import a URDF robot (``pybullet_data:...`` names work) with Gaussians bound to its links."""
        from splattwin.pipelines.robot import ImportRobotConfig, import_robot, resolve_urdf  # noqa: PLC0415

        def work():  # noqa: ANN202
            config = ImportRobotConfig(urdf=resolve_urdf(str(urdf)), stage=self.stage, prim=prim, base=tuple(base))
            return import_robot(config)

        return run_action("import robot", work, lambda r: [Message("info", f"imported robot at {prim}")])

    # ---- frame unification ---------------------------------------------------------------------------------
    def pick_scale_point(self, point: Sequence[float]) -> ActionResult:
        """Record a picked world point [m] for the scale step; the latest two are kept."""
        values = tuple(float(v) for v in point)
        if len(values) != 3 or not all(v == v and abs(v) != float("inf") for v in values):
            return ActionResult(ok=False, messages=[Message("error", f"pick: not a finite 3D point: {point}")])
        self.scale_points = [*self.scale_points, values][-2:]  # type: ignore[list-item]
        return ActionResult(ok=True, messages=[Message("info", f"scale point {len(self.scale_points)}: {values}")])

    def pick_table(self, prim: str) -> ActionResult:
        """Record the prim that holds the table (or ``"auto"`` for a plane fit on every splat and static mesh)."""
        self.table_prim = prim
        return ActionResult(ok=True, messages=[Message("info", f"table: {prim}")])

    def unify_frame(
        self, distance_m: float, *, up_axis: str = "z", origin: Sequence[float] | None = None
    ) -> ActionResult:
        """Align the twin: scale from the two picked points and their real distance, gravity from the table."""
        from splattwin.pipelines.align import AlignConfig, align_twin  # noqa: PLC0415

        def work():  # noqa: ANN202
            if len(self.scale_points) != 2:
                raise InputError("scale points", f"pick two points first ({len(self.scale_points)} picked)")
            if not (distance_m > 0):
                raise InputError("distance", f"must be a positive number of metres, got {distance_m}")
            first, second = self.scale_points
            config = AlignConfig(
                stage=self.stage,
                up_axis=up_axis,
                scale_from=(first, second, float(distance_m)),
                table=self.table_prim,
                origin=tuple(origin) if origin is not None else None,
            )
            config.validate()
            return align_twin(config)

        return run_action(
            "unify frame",
            work,
            lambda r: (
                [Message("info", f"aligned {len(r.prims)} prims: scale x{r.applied.scale:.5g}")]
                + [Message("warning", w) for w in r.warnings]
            ),
        )

    # ---- identification ------------------------------------------------------------------------------------
    def identify_mass(
        self,
        prim: str,
        logs: Sequence[Path],
        report: Path,
        *,
        progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
        **options: object,
    ) -> ActionResult:
        """Identify an object's mass from push logs (run it on a worker thread; the panel polls ``progress``).

        Args:
            prim: the rigid object.
            logs: push log folders.
            report: the JSON report to write; plots go beside it.
            progress: called with the number of simulations run so far.
            cancel: when set, the next progress call stops the run; nothing is written.
            options: more :class:`~splattwin.pipelines.identify.IdentifyConfig` fields.
        """
        from splattwin.pipelines.identify import IdentifyConfig, identify_object_mass  # noqa: PLC0415

        def on_progress(done: int) -> None:
            if cancel is not None and cancel.is_set():
                raise IdentificationCancelled("identify", "cancelled; nothing was written")
            if progress is not None:
                progress(done)

        def work():  # noqa: ANN202
            # The panel's report field names the panel's own file (identify.json by default): a rerun replaces it,
            # as before the command line's --force existed (the CLI refuses an existing report without it).
            options.setdefault("overwrite", True)
            config = IdentifyConfig(
                stage=self.stage, object=prim, logs=[Path(p) for p in logs], report=Path(report), **options
            )
            return identify_object_mass(config, progress=on_progress)

        def describe(result) -> list[Message]:  # noqa: ANN001
            found = result.identification
            if not found.identifiable:
                return [Message("warning", f"{prim}: {found.reason}; stage left untouched")]
            self.identified[prim] = IdentifiedMass(
                prim=prim,
                mass_kg=float(found.mass),
                sigma_kg=found.uncertainty,
                source="identified",
                plots=list(result.images),
            )
            sigma = "" if found.uncertainty is None else f" ± {found.uncertainty:.2g}"
            return [Message("info", f"{prim}: mass {found.mass:.4g}{sigma} kg; plots: {len(result.images)}")]

        return run_action("identify mass", work, describe)

    def read_mass(self, prim: str) -> ActionResult:
        """The mass the stage holds for ``prim`` now (identified, prior or given) for the panel's label."""
        from splattwin.usd.identified import read_mass  # noqa: PLC0415
        from splattwin.usd.stage import open_twin  # noqa: PLC0415

        def work() -> IdentifiedMass:
            mass, sigma, source, _ = read_mass(open_twin(self.stage).stage, prim)
            plots = self.identified[prim].plots if prim in self.identified else []
            return IdentifiedMass(prim=prim, mass_kg=mass, sigma_kg=sigma, source=source, plots=plots)

        return run_action("mass", work, lambda m: [Message("info", f"{prim}: {m.mass_kg:.4g} kg ({m.source})")])

    # ---- trajectories and overlay --------------------------------------------------------------------------
    def import_trajectory(self, file: Path, robot: str, *, rate_hz: float | None = None) -> ActionResult:
        """A .csv/.npz trajectory -> time samples on the robot (trajectories layer); issues become warnings."""
        from splattwin.pipelines.trajectory import import_trajectory  # noqa: PLC0415

        return run_action(
            "import trajectory",
            lambda: import_trajectory(Path(file), stage=self.stage, robot=robot, rate_hz=rate_hz),
            lambda r: (
                [Message("info", f"keyed {len(r.trajectory.times)} samples on {robot}")]
                + [Message("warning", i.message) for i in r.issues]
            ),
        )

    def check_trajectory(self, robot: str) -> ActionResult:
        """Joint limits, velocity limits and gaps of the robot's time samples, as warnings."""
        from splattwin.pipelines.trajectory import check_stage_trajectory  # noqa: PLC0415

        return run_action(
            "check trajectory",
            lambda: check_stage_trajectory(self.stage, robot),
            lambda r: (
                [Message("warning", i.message) for i in r.issues]
                or [Message("info", f"{len(r.trajectory.times)} samples within limits, no gaps")]
            ),
        )

    def export_trajectory(self, robot: str, out: Path, *, rate_hz: float | None = None) -> ActionResult:
        """The robot's time samples -> a .csv/.npz file, resampled to ``rate_hz`` when given."""
        from splattwin.pipelines.trajectory import export_trajectory  # noqa: PLC0415

        return run_action(
            "export trajectory",
            lambda: export_trajectory(self.stage, robot, Path(out), rate_hz=rate_hz, overwrite=True),
            lambda r: [Message("info", f"wrote {out} ({len(r.trajectory.times)} samples)")],
        )

    def set_overlay(self, enabled: bool, *, native: bool = False) -> ActionResult:
        """Switch the overlay; ``native`` uses the runtime's own ParticleField3DGaussianSplat drawing instead."""
        self.overlay_enabled = bool(enabled)
        self.native_splats = bool(native)
        how = "native splat drawing" if native else "SplatTwin overlay"
        return ActionResult(ok=True, messages=[Message("info", f"{how} {'on' if enabled else 'off'}")])
