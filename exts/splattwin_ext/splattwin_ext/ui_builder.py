"""The panel's widgets, bound to :class:`splattwin.app.panel.PanelController` (Kit layer only, no logic).

Stage edits go through :mod:`.commands` (Ctrl+Z undoes them); identification runs on a worker thread with a
progress bar and Cancel and lands on the undo stack when it finishes; training runs as a subprocess
(:class:`splattwin.app.training.TrainingRun`); the overlay is :class:`.overlay_view.ViewportOverlay`. Every
result is a line in the message label, never an exception dialog.
"""

from __future__ import annotations

import asyncio
import shlex
import threading
from pathlib import Path
from typing import Any

import numpy as np
import omni.kit.app
import omni.kit.commands
import omni.timeline
import omni.ui as ui
import omni.usd
from pxr import Usd

from splattwin.app.messages import ActionResult, Message
from splattwin.app.panel import PanelController
from splattwin.app.recording import TrajectoryRecorder
from splattwin.app.training import TrainingRun, training_command
from splattwin.app.undo import snapshot_twin
from splattwin.usd.prims import world_matrix

from .commands import save_dirty_layers
from .overlay_view import ViewportOverlay, native_splats_supported

__all__ = ["UIBuilder"]


def _open_stage_path() -> Path | None:
    stage = omni.usd.get_context().get_stage()
    if stage is None or stage.GetRootLayer().anonymous:
        return None
    return Path(stage.GetRootLayer().realPath)


def _selected_paths() -> list[str]:
    return list(omni.usd.get_context().get_selection().get_selected_prim_paths())


def _selected_world_point() -> tuple[float, float, float] | None:
    stage = omni.usd.get_context().get_stage()
    paths = _selected_paths()
    if stage is None or not paths:
        return None
    prim = stage.GetPrimAtPath(paths[0])
    return tuple(world_matrix(prim)[:3, 3].tolist())


class UIBuilder:
    """Builds the panel inside the extension's window and keeps its state between frames."""

    def __init__(self, *, overlay_backend: str = "cpu", train_command: str = "") -> None:
        self._overlay_backend = overlay_backend
        self._train_command = shlex.split(train_command) if train_command else None
        self._controller: PanelController | None = None
        self._overlay: ViewportOverlay | None = None
        self._training: TrainingRun | None = None
        self._cancel = threading.Event()
        self._identify_progress = 0
        self._identify_task: asyncio.Task | None = None
        self._update_sub = (
            omni.kit.app.get_app()
            .get_update_event_stream()
            .create_subscription_to_pop(self._on_update, name="splattwin.panel.update")
        )
        self._models: dict[str, Any] = {}
        self._recorder: TrajectoryRecorder | None = None
        self._record_channels: list[Any] = []

    # ---- building -------------------------------------------------------------------------------------------
    def _field(self, label: str, key: str, value: str = "") -> None:
        with ui.HStack(height=22):
            ui.Label(label, width=110)
            self._models[key] = ui.StringField().model
            self._models[key].set_value(value)

    def _text(self, key: str) -> str:
        return self._models[key].get_value_as_string().strip()

    def build(self) -> None:
        """Create the widgets (called inside the window's frame)."""
        with ui.ScrollingFrame():
            with ui.VStack(spacing=6):
                self._stage_label = ui.Label("stage: (open a twin's .usda)", height=20)
                with ui.CollapsableFrame("Import", height=0):
                    with ui.VStack(spacing=4):
                        self._field("File / URDF", "file")
                        self._field("Prim", "prim", "/World/Scene/Splat")
                        with ui.HStack(height=22):
                            self._models["dynamic"] = ui.CheckBox(width=20).model
                            ui.Label("dynamic object", width=110)
                            self._field("Material", "material", "wood")
                        with ui.HStack(height=24):
                            ui.Button("Splat", clicked_fn=self._import_splat)
                            ui.Button("Mesh", clicked_fn=self._import_mesh)
                            ui.Button("URDF robot", clicked_fn=self._import_robot)
                with ui.CollapsableFrame("Frame unification", height=0):
                    with ui.VStack(spacing=4):
                        with ui.HStack(height=24):
                            ui.Button("Add point (selection)", clicked_fn=self._pick_point)
                            ui.Button("Table = selection", clicked_fn=self._pick_table)
                        self._points_label = ui.Label("points: 0, table: -", height=20)
                        self._field("Distance [m]", "distance", "1.0")
                        self._field("Up axis", "up_axis", "z")
                        ui.Button("Unify frame", height=24, clicked_fn=self._unify)
                with ui.CollapsableFrame("Mass identification", height=0):
                    with ui.VStack(spacing=4):
                        self._field("Object", "object", "/World/Objects/Block")
                        self._field("Push logs", "logs")
                        self._field("Report", "report", "identify.json")
                        with ui.HStack(height=24):
                            ui.Button("Identify", clicked_fn=self._identify)
                            ui.Button("Cancel", clicked_fn=self._cancel.set)
                        self._identify_bar = ui.ProgressBar(height=16)
                        self._mass_label = ui.Label("mass: -", height=20)
                        self._plot = ui.Image(height=160, fill_policy=ui.FillPolicy.PRESERVE_ASPECT_FIT)
                with ui.CollapsableFrame("Trajectory", height=0):
                    with ui.VStack(spacing=4):
                        self._field("Robot", "robot", "/World/Robot")
                        self._field("Rate [Hz]", "rate")
                        with ui.HStack(height=24):
                            ui.Button("Import file", clicked_fn=self._import_trajectory)
                            ui.Button("Check", clicked_fn=self._check_trajectory)
                            ui.Button("Export file", clicked_fn=self._export_trajectory)
                        with ui.HStack(height=22):
                            self._models["replay"] = ui.CheckBox(width=20).model
                            ui.Label("replay keys as drive targets", width=190)
                            self._models["record"] = ui.CheckBox(width=20).model
                            ui.Label("record from sim")
                        self._models["record"].add_value_changed_fn(lambda _: self._toggle_recording())
                with ui.CollapsableFrame("Training", height=0):
                    with ui.VStack(spacing=4):
                        self._field("Task", "task", "SplatTwin-Push-v0")
                        self._field("Overrides", "overrides", "max_iterations=100")
                        with ui.HStack(height=24):
                            ui.Button("Start", clicked_fn=self._start_training)
                            ui.Button("Stop", clicked_fn=self._stop_training)
                        self._train_bar = ui.ProgressBar(height=16)
                        self._train_label = ui.Label("", height=20)
                with ui.CollapsableFrame("Overlay", height=0):
                    with ui.HStack(height=22):
                        self._models["overlay"] = ui.CheckBox(width=20).model
                        ui.Label("splat overlay", width=110)
                        self._models["native"] = ui.CheckBox(width=20, enabled=native_splats_supported()).model
                        ui.Label("renderer's own splats")
                    self._models["overlay"].add_value_changed_fn(lambda _: self._toggle_overlay())
                    self._models["native"].add_value_changed_fn(lambda _: self._toggle_overlay())
                self._message = ui.Label("", word_wrap=True, height=60)

    # ---- helpers --------------------------------------------------------------------------------------------
    def _panel(self) -> PanelController | None:
        path = _open_stage_path()
        if path is None:
            self._show(ActionResult(ok=False, messages=[Message("error", "open a twin stage (.usda) first")]))
            return None
        if self._controller is None or self._controller.stage != path:
            self._controller = PanelController(stage=path)
        self._stage_label.text = f"stage: {path}"
        return self._controller

    def _show(self, result: ActionResult) -> None:
        self._message.text = result.text

    def _edit(self, action: str, *args: Any, **kwargs: Any) -> None:
        panel = self._panel()
        if panel is None:
            return
        _, result = omni.kit.commands.execute(
            "SplatTwinAction", stage_path=str(panel.stage), action=action, controller=panel, args=args, kwargs=kwargs
        )
        if result is not None:
            self._show(result)

    # ---- actions --------------------------------------------------------------------------------------------
    def _import_splat(self) -> None:
        self._edit("import_splat", Path(self._text("file")), self._text("prim"))

    def _import_mesh(self) -> None:
        dynamic = self._models["dynamic"].get_value_as_bool()
        self._edit(
            "import_mesh",
            Path(self._text("file")),
            self._text("prim"),
            dynamic=dynamic,
            material=self._text("material"),
        )

    def _import_robot(self) -> None:
        self._edit("import_robot", self._text("file"), self._text("prim") or "/World/Robot")

    def _pick_point(self) -> None:
        panel = self._panel()
        point = _selected_world_point()
        if panel is None or point is None:
            self._message.text = "error: select a prim (or a point helper) in the viewport first"
            return
        self._show(panel.pick_scale_point(point))
        self._points_label.text = f"points: {len(panel.scale_points)}, table: {panel.table_prim or '-'}"

    def _pick_table(self) -> None:
        panel = self._panel()
        paths = _selected_paths()
        if panel is None:
            return
        self._show(panel.pick_table(paths[0] if paths else "auto"))
        self._points_label.text = f"points: {len(panel.scale_points)}, table: {panel.table_prim}"

    def _unify(self) -> None:
        try:
            distance = float(self._text("distance"))
        except ValueError:
            self._message.text = f"error: distance must be a number of metres, got {self._text('distance')!r}"
            return
        self._edit("unify_frame", distance, up_axis=self._text("up_axis") or "z")

    def _identify(self) -> None:
        panel = self._panel()
        if panel is None or self._identify_task is not None:
            return
        save_dirty_layers()
        before = snapshot_twin(panel.stage)
        self._cancel.clear()
        self._identify_progress = 0
        logs = [Path(p) for p in shlex.split(self._text("logs"))]
        report = Path(self._text("report") or "identify.json")
        if not report.is_absolute():
            report = panel.stage.parent / report
        obj = self._text("object")

        def progress(done: int) -> None:
            self._identify_progress = done  # read by _on_update on the UI thread

        async def run() -> None:
            loop = asyncio.get_event_loop()
            result = await loop.run_in_executor(
                None, lambda: panel.identify_mass(obj, logs, report, progress=progress, cancel=self._cancel)
            )
            self._identify_task = None
            self._show(result)
            if result.ok and before is not None:
                after = snapshot_twin(panel.stage)
                if after != before:
                    omni.kit.commands.execute(
                        "SplatTwinRecordedEdit", stage_path=str(panel.stage), before=before, after=after
                    )
            found = panel.identified.get(obj)
            if found is not None:
                sigma = "" if found.sigma_kg is None else f" ± {found.sigma_kg:.2g}"
                self._mass_label.text = f"mass: {found.mass_kg:.4g}{sigma} kg ({found.source})"
                if found.plots:
                    self._plot.source_url = str(found.plots[0])

        self._identify_task = asyncio.ensure_future(run())

    def _import_trajectory(self) -> None:
        rate = self._text("rate")
        self._edit(
            "import_trajectory", Path(self._text("file")), self._text("robot"), rate_hz=float(rate) if rate else None
        )

    def _check_trajectory(self) -> None:
        panel = self._panel()
        if panel is not None:
            save_dirty_layers()
            self._show(panel.check_trajectory(self._text("robot")))

    def _export_trajectory(self) -> None:
        panel = self._panel()
        if panel is not None:
            save_dirty_layers()
            rate = self._text("rate")
            self._show(
                panel.export_trajectory(
                    self._text("robot"), Path(self._text("file")), rate_hz=float(rate) if rate else None
                )
            )

    def _replay_step(self) -> None:
        """While the timeline plays: the keyed values at its time become drive targets (session layer only)."""
        from splattwin.robot.trajectories import drive_targets

        stage = omni.usd.get_context().get_stage()
        timeline = omni.timeline.get_timeline_interface()
        if stage is None or not timeline.is_playing():
            return
        try:
            targets = drive_targets(
                stage, self._text("robot"), timeline.get_current_time() * stage.GetTimeCodesPerSecond()
            )
        except Exception as exc:  # noqa: BLE001
            self._message.text = f"error: replay: {exc}"
            self._models["replay"].set_value(False)
            return
        with Usd.EditContext(stage, stage.GetSessionLayer()):  # never saved: the twin's layers stay untouched
            for joint_path, value in targets.items():
                joint = stage.GetPrimAtPath(joint_path)
                for kind in ("angular", "linear"):
                    attribute = joint.GetAttribute(f"drive:{kind}:physics:targetPosition")
                    if attribute:
                        attribute.Set(value)

    def _toggle_recording(self) -> None:
        panel = self._panel()
        if panel is None:
            return
        if self._models["record"].get_value_as_bool():
            from splattwin.robot.trajectories import joint_channels

            stage = omni.usd.get_context().get_stage()
            try:
                self._record_channels = joint_channels(stage, self._text("robot"))
            except Exception as exc:  # noqa: BLE001
                self._message.text = f"error: record: {exc}"
                return
            self._recorder = TrajectoryRecorder([c.name for c in self._record_channels])
            self._message.text = "recording: press Play; untick to key the samples on the robot"
            return
        recorder, self._recorder = self._recorder, None
        if recorder is None or len(recorder) == 0:
            self._message.text = "record: no samples (the joints need PhysicsJointStateAPI and the sim playing)"
            return
        save_dirty_layers()
        before = snapshot_twin(panel.stage)
        try:
            recorder.save(panel.stage, self._text("robot"))
        except Exception as exc:  # noqa: BLE001
            self._message.text = f"error: record: {exc}"
            return
        omni.kit.commands.execute(
            "SplatTwinRecordedEdit", stage_path=str(panel.stage), before=before, after=snapshot_twin(panel.stage)
        )
        self._message.text = f"keyed {len(recorder)} recorded samples on {self._text('robot')}"

    def _record_step(self) -> None:
        """While playing: joint positions from the joints' PhysicsJointStateAPI (deg or m) into the recorder."""
        stage = omni.usd.get_context().get_stage()
        timeline = omni.timeline.get_timeline_interface()
        if stage is None or not timeline.is_playing():
            return
        robot = self._text("robot")
        values = []
        for channel in self._record_channels:
            joint = stage.GetPrimAtPath(f"{robot}/joints/{channel.attribute.rsplit(':', 1)[-1]}")
            kind = "linear" if channel.type == "prismatic" else "angular"
            attribute = joint.GetAttribute(f"state:{kind}:physics:position")
            value = attribute.Get() if attribute else None
            if value is None:
                return
            values.append(float(value) if kind == "linear" else float(np.radians(value)))
        self._recorder.add(timeline.get_current_time(), values)

    def _start_training(self) -> None:
        if self._training is not None and self._training.status().running:
            self._message.text = "error: a training run is already running (Stop it first)"
            return
        overrides = dict(item.split("=", 1) for item in shlex.split(self._text("overrides")) if "=" in item)
        argv = training_command(self._text("task"), overrides=overrides, command=self._train_command)
        try:
            self._training = TrainingRun(argv)
        except OSError as exc:
            self._message.text = f"error: cannot start {argv[0]}: {exc}"
            return
        self._message.text = "training: " + " ".join(argv)

    def _stop_training(self) -> None:
        if self._training is not None:
            self._training.stop()

    def _toggle_overlay(self) -> None:
        panel = self._panel()
        enabled = self._models["overlay"].get_value_as_bool()
        native = self._models["native"].get_value_as_bool()
        if panel is None:
            return
        self._show(panel.set_overlay(enabled, native=native))
        if self._overlay is not None:
            self._overlay.destroy()
            self._overlay = None
        if enabled and not native:
            save_dirty_layers()  # the overlay's worker reads the twin from its files
            try:
                self._overlay = ViewportOverlay(panel.stage, backend=self._overlay_backend)
            except RuntimeError as exc:
                self._message.text = f"error: overlay: {exc}"

    # ---- per frame ------------------------------------------------------------------------------------------
    def _on_update(self, _event: Any) -> None:
        if self._identify_task is not None:
            self._identify_bar.model.set_value(min(1.0, self._identify_progress / 200.0))
        if self._training is not None:
            status = self._training.status()
            self._train_bar.model.set_value(status.fraction)
            reward = "" if status.reward is None else f", reward {status.reward:.3g}"
            state = "running" if status.running else f"exit {status.returncode}"
            self._train_label.text = f"iteration {status.iteration}/{status.total or '?'}{reward} ({state})"
        if self._overlay is not None:
            self._overlay.update()
        if self._models.get("replay") is not None and self._models["replay"].get_value_as_bool():
            self._replay_step()
        if self._recorder is not None:
            self._record_step()

    def pause(self) -> None:
        """The window was hidden: stop drawing the overlay (training and identification keep running)."""
        if self._overlay is not None:
            self._overlay.destroy()
            self._overlay = None
            self._models["overlay"].set_value(False)

    def cleanup(self) -> None:
        """Stop everything this panel started (overlay worker, training process, update subscription)."""
        self._cancel.set()
        if self._overlay is not None:
            self._overlay.destroy()
            self._overlay = None
        if self._training is not None:
            self._training.stop()
            self._training = None
        self._update_sub = None
        self._models.clear()
