"""The viser server behind ``splattwin view``: the twin's scene, a panel (prims, joints, timeline, masses) and live
reload when another process saves the twin.

Scene nodes: ``/gaussians<prim>`` (one splat node per Gaussian prim, so posing a robot moves only its links'
nodes), ``/meshes<prim>`` (hidden until "collision meshes" is ticked), ``/cameras<prim>`` (frustums),
``/frames/world`` and ``/frames<robot>`` (axes) and ``/table`` (the table fit's outline).
"""

from __future__ import annotations

import contextlib
import errno
import io
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError
from splattwin.viewer.model import (
    COARSE_GAUSSIANS,
    TwinModel,
    coarse_level,
    framing_view,
    node_poses,
    posed_overrides,
    read_model,
    read_rest,
    read_splats,
    rigid_pose,
    sample_timeline,
    splat_buffers,
    table_outline,
)

__all__ = ["POLL_S", "TwinViewer", "check_port", "free_port", "layer_versions", "serve"]

POLL_S = 0.5
"""How often the layer files' versions are compared with what was drawn [s]."""
_PLAY_FPS = 20.0
_PROBE_SIZE = (120, 160)  # height, width of the renders asked of a browser to learn that it drew the coarse level
_FADE_IN_S = 0.6  # viser's client grows new splats to their size over 0.5 s of frames
_PROBE_GIVE_UP_S = 30.0  # a browser that shows no stable drawing by then (looking away, stalled) gets the full sets


def check_port(host: str, port: int) -> None:
    """Refuse a port another program listens on (viser would silently move to the next one).

    Raises:
        InputError: ``--port`` in use or not bindable, naming a port to try.
    """
    if not 0 <= port <= 65535:
        raise InputError("--port", f"must be 0..65535, got {port}")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InputError(
                    "--port", f"{port} is in use on {host}; try another (e.g. --port {port + 1})"
                ) from None
            raise InputError("--host", f"cannot serve on {host}:{port} ({exc.strerror})") from None


def free_port(host: str) -> int:
    """A port free on ``host`` now (``--port 0``)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def layer_versions(stage: Any) -> dict[str, tuple[int, int, int] | None]:
    """Every file layer the stage uses -> (inode, size, mtime ns), None when missing: a save renames a new file in."""
    versions: dict[str, tuple[int, int, int] | None] = {}
    for layer in stage.GetUsedLayers():
        file = layer.realPath
        if not file:
            continue
        try:
            st = Path(file).stat()
        except OSError:
            versions[file] = None
        else:
            versions[file] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return versions


def _name(prefix: str, prim: str) -> str:
    return prefix + prim


def _u8(rgb: np.ndarray) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in np.clip(np.round(np.asarray(rgb) * 255), 0, 255))
    return r, g, b


class TwinViewer:
    """Draws a :class:`TwinModel` on a ``viser.ViserServer`` and keeps it current.

    Args:
        server: the viser server.
        path: the stage file.
        on_reload: called with the new model after each reload (tests, logging).
    """

    def __init__(
        self,
        server: Any,
        path: Path,
        *,
        on_reload: Callable[[TwinModel], None] | None = None,
        coarse: int = COARSE_GAUSSIANS,
        on_full_detail: Callable[[], None] | None = None,
    ) -> None:
        self.server = server
        self.path = Path(path)
        self.on_reload = on_reload
        self.on_full_detail = on_full_detail
        self.coarse = coarse
        self.reloads = 0
        self.joints: dict[str, float] = {}
        self.time: float | None = None
        self.full_detail = threading.Event()
        """Set once every splat node holds its full set of Gaussians (at once when there is no coarse level)."""
        self.probe: np.ndarray | None = None
        """The browser's render [H, W, 4] that showed the coarse level drawn (None until then, or without one)."""
        self._pending: dict[str, dict[str, np.ndarray]] = {}  # node -> full buffers still to send
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._posing = False
        self.model = read_splats(self.path)
        self._build_splats()  # sent before the rest is even read: a browser can draw these while it is
        server.on_client_connect(self._probe_client)
        read_rest(self.model)
        self._versions = layer_versions(self.model.stage)
        self._build_rest()
        self._threads = [
            threading.Thread(target=self._watch, name="splattwin-view-reload", daemon=True),
            threading.Thread(target=self._play, name="splattwin-view-play", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # --- building -----------------------------------------------------------------------------------------------
    def _build_splats(self) -> None:
        """The scene's set-up, the initial camera and one splat node per Gaussian prim: the coarse level first when
        the twin is large (the full sets follow once a browser drew it, :meth:`_probe_client`), else the full sets."""
        model, scene = self.model, self.server.scene
        scene.set_up_direction("+z")
        # Splats are not lit: no shadow maps, no environment map (each costs a software-WebGL browser per frame).
        scene.configure_default_lights(enabled=True, cast_shadow=False)
        scene.configure_environment_map(None)
        points = [n.gaussians.means for n in model.splats]
        if points and self.reloads == 0:  # a new browser looks at the twin; a reload keeps the user's view
            camera = self.server.initial_camera
            eye, target = framing_view(np.concatenate(points), camera.fov)
            camera.up, camera.look_at, camera.position = (0.0, 0.0, 1.0), target, eye
        self.splat_handles: dict[str, Any] = {}
        self.follows: dict[str, str | None] = {}
        names = [_name("/gaussians", node.prim) for node in model.splats]
        full = [splat_buffers(node.gaussians) for node in model.splats]
        coarse_first = self.reloads == 0 and self.coarse > 0 and model.gaussian_count > 2 * self.coarse
        sent = coarse_level(full, self.coarse) if coarse_first else full
        self.first_count = sum(len(buffers["centers"]) for buffers in sent)
        with self._lock, self.server.atomic():
            for name, node, buffers in zip(names, model.splats, sent, strict=True):
                self.splat_handles[name] = scene.add_gaussian_splats(name, **buffers)
                self.follows[name] = node.follows
            self._pending = dict(zip(names, full, strict=True)) if coarse_first else {}
        if not coarse_first:
            self.full_detail.set()

    def _build_rest(self) -> None:
        """Everything after the splats: the meshes' nodes (sent when first shown), cameras, frames, the table fit,
        the panel and the pose."""
        model, scene, gui = self.model, self.server.scene, self.server.gui
        if not model.splats and model.meshes and self.reloads == 0:  # a stage of meshes: framed by them
            camera = self.server.initial_camera
            eye, target = framing_view(np.concatenate([n.triangles.reshape(-1, 3) for n in model.meshes]), camera.fov)
            camera.up, camera.look_at, camera.position = (0.0, 0.0, 1.0), target, eye
        gui.configure_theme(dark_mode=True, control_width="medium")  # a dark canvas: white robot links stand out
        self.joints = {j.name: self.joints.get(j.name, j.rest) for j in model.joints}
        if model.timeline is not None:
            self.time = float(np.clip(self.time if self.time is not None else model.timeline.start,
                                      model.timeline.start, model.timeline.end))  # fmt: skip
        else:
            self.time = None
        self.mesh_handles: dict[str, Any] = {}
        with self.server.atomic():
            for node in model.meshes:  # drawn when first shown (_draw_meshes): most twins' meshes outweigh splats
                self.follows[_name("/meshes", node.prim)] = node.follows
            self.camera_handles = []
            for camera in model.cameras:
                wxyz, position = rigid_pose(camera.camera_to_world)
                self.camera_handles.append(
                    scene.add_camera_frustum(
                        _name("/cameras", camera.prim),
                        camera.fov_y,
                        camera.aspect,
                        scale=0.15,
                        wxyz=wxyz,
                        position=position,
                        color=(200, 60, 60),
                    )  # fmt: skip
                )
            self.frame_handles = [scene.add_frame("/frames/world", axes_length=0.2, axes_radius=0.006)]
            for root in model.robots:
                base = model.rest_overrides.get(model.robots[root].link_paths[0])
                if base is not None:
                    wxyz, position = rigid_pose(base)
                    self.frame_handles.append(
                        scene.add_frame(
                            _name("/frames", root), axes_length=0.15, axes_radius=0.005, wxyz=wxyz, position=position
                        )  # fmt: skip
                    )
            if model.table is not None:
                self.frame_handles.append(
                    scene.add_line_segments("/table", table_outline(model.table), (40, 160, 40), thickness=0.008)
                )
        self._build_gui(gui)
        self._apply_pose()

    def _probe_client(self, client: Any) -> None:
        """Send the full sets once this browser drew the coarse level (viser's client tells nothing of its frames).

        A render asked of the browser is drawn after every message sent before it, so once one comes back the
        browser holds the coarse level, sorted, and has drawn it (that render shows it; :attr:`probe` keeps it).
        viser grows new splats to their size over 0.5 s of frames, which the coarse level draws at up to 60 a
        second: 0.6 s later it is on screen whole, and the full sets follow. Sent earlier, they would take its
        place before a frame showed it (they take 2-3 s a frame in software WebGL).
        """
        import imageio.v3  # noqa: F401, PLC0415 - viser's get_render decodes with it; imported before the first one

        deadline = time.monotonic() + _PROBE_GIVE_UP_S
        while self._pending and not self._stop.is_set() and time.monotonic() < deadline:
            try:
                image = client.get_render(
                    *_PROBE_SIZE, transport_format="png", timeout=max(deadline - time.monotonic(), 0.1)
                )
            except Exception:  # noqa: BLE001 - the browser stalled (given up on below) or left
                if client.client_id not in self.server.get_clients():
                    return  # the next browser to connect asks again
                continue
            time.sleep(_FADE_IN_S)
            self._send_full(image)
            return
        self._send_full(None)

    def _send_full(self, probe: np.ndarray | None) -> None:
        """Replace each splat node's coarse Gaussians by its full set (an update: viser draws it without a fade-in)."""
        with self._lock:
            if not self._pending:
                return
            with self.server.atomic():
                for name, buffers in self._pending.items():
                    self.splat_handles[name].set_gaussians(**buffers)
            self._pending = {}
            self.probe = probe
        self.full_detail.set()
        if self.on_full_detail is not None:
            self.on_full_detail()

    def _draw_meshes(self) -> None:
        """Send the mesh prims to the browser, once, posed as the robot is now (hidden until this is asked for)."""
        with self._lock:
            if self.mesh_handles or not self.model.meshes:
                return
            with self.server.atomic():
                for node in self.model.meshes:
                    name = _name("/meshes", node.prim)
                    vertices = node.triangles.reshape(-1, 3).astype(np.float32)
                    faces = np.arange(len(vertices), dtype=np.uint32).reshape(-1, 3)
                    self.mesh_handles[name] = self.server.scene.add_mesh_simple(
                        name, vertices, faces, color=_u8(node.color), opacity=0.6, side="double", visible=False
                    )
            self._apply_pose()

    def _build_gui(self, gui: Any) -> None:
        model = self.model
        with gui.add_folder("Twin"):
            kind = "twin" if model.twin else "plain USD stage"
            lines = [f"**{self.path.name}** ({kind}), {model.gaussian_count:,} Gaussians in {len(model.splats)} prims"]
            lines += [f"- {p}" for p in model.problems]
            if model.table is not None:
                t = model.table
                lines.append(
                    f"table fit: {t.sides[0]:.2f} x {t.sides[1]:.2f} m, tilt {t.tilt_deg:.1f} deg, "
                    f"RMSE {1000 * t.rmse:.1f} mm"
                )
            self.info = gui.add_markdown("\n".join(lines))
            self.reload_note = gui.add_markdown(f"reloads: {self.reloads}")
            show_splats = gui.add_checkbox("Gaussians", True)
            show_meshes = gui.add_checkbox("Collision meshes", False)
            show_cameras = gui.add_checkbox("Cameras", True)
            show_frames = gui.add_checkbox("Frames and table fit", True)
        prim_boxes: dict[str, Any] = {}
        mesh_names = [_name("/meshes", node.prim) for node in model.meshes]

        @show_splats.on_update
        def _(_: Any) -> None:
            for name, handle in self.splat_handles.items():
                handle.visible = show_splats.value and prim_boxes[name].value

        @show_meshes.on_update
        def _(_: Any) -> None:
            if show_meshes.value:
                self._draw_meshes()
            for name, handle in self.mesh_handles.items():
                handle.visible = show_meshes.value and prim_boxes[name].value

        @show_cameras.on_update
        def _(_: Any) -> None:
            for handle in self.camera_handles:
                handle.visible = show_cameras.value

        @show_frames.on_update
        def _(_: Any) -> None:
            for handle in self.frame_handles:
                handle.visible = show_frames.value

        with gui.add_folder("Prims", expand_by_default=False):
            for name, handles, parent in [
                *((n, self.splat_handles, show_splats) for n in self.splat_handles),
                *((n, self.mesh_handles, show_meshes) for n in mesh_names),
            ]:
                box = gui.add_checkbox(name, True)
                prim_boxes[name] = box

                def toggle(
                    _: Any, box: Any = box, name: str = name, handles: dict = handles, parent: Any = parent
                ) -> None:
                    if name in handles:  # meshes exist once first shown
                        handles[name].visible = box.value and parent.value

                box.on_update(toggle)
        self.sliders: dict[str, Any] = {}
        for root in model.robots:
            with gui.add_folder(f"Joints {root}"):
                for joint in (j for j in model.joints if j.robot == root):
                    step = max((joint.upper - joint.lower) / 1000.0, 1e-4)
                    slider = gui.add_slider(joint.name, joint.lower, joint.upper, step, self.joints[joint.name])
                    self.sliders[joint.name] = slider

                    def moved(_: Any, name: str = joint.name, slider: Any = slider) -> None:
                        self.joints[name] = float(slider.value)
                        if not self._posing:
                            self._apply_pose()

                    slider.on_update(moved)
        self.timeline_slider = self.play = None
        if model.timeline is not None:
            timeline = model.timeline
            with gui.add_folder("Timeline"):
                # A step of one time code is a second where the keys are in seconds: too coarse to scrub.
                step = min(1.0 / max(timeline.rate, 1.0), max((timeline.end - timeline.start) / 500.0, 1e-3))
                self.timeline_slider = gui.add_slider(
                    "time [s]", timeline.start, max(timeline.end, timeline.start + step), step, self.time
                )
                self.play = gui.add_checkbox("Play", False)

                @self.timeline_slider.on_update
                def _(_: Any) -> None:
                    self.seek(float(self.timeline_slider.value))

        if model.bodies:
            with gui.add_folder("Masses"):
                rows = ["| body | mass [kg] | ± 1σ [kg] | source |", "| --- | --- | --- | --- |"]
                for body in model.bodies:
                    mass = f"{body.mass:.4g}" if body.mass is not None else "-"
                    sigma = f"{body.sigma:.2g}" if body.sigma is not None else "-"
                    rows.append(f"| {body.prim} | {mass} | {sigma} | {body.source} |")
                gui.add_markdown("\n".join(rows))

    # --- posing -------------------------------------------------------------------------------------------------
    def seek(self, t: float) -> None:
        """Show the timeline at ``t`` [s]: keyed joints (sliders follow) and keyed objects."""
        with self._lock:
            self.time = t
            if self.model.timeline is not None:
                self.joints.update(sample_timeline(self.model.timeline, t))
            self._posing = True
            try:
                for name, slider in self.sliders.items():
                    slider.value = float(np.clip(self.joints[name], slider.min, slider.max))
            finally:
                self._posing = False
            self._apply_pose()

    def _apply_pose(self) -> None:
        with self._lock:
            posed = posed_overrides(self.model, self.joints, self.time)
            transforms = node_poses(self.follows, self.model.rest_overrides, posed)
            handles = {**self.splat_handles, **self.mesh_handles}
            with self.server.atomic():
                for name, matrix in transforms.items():
                    if name not in handles:  # a mesh not drawn yet (_draw_meshes poses it when it is)
                        continue
                    wxyz, position = rigid_pose(matrix)
                    handles[name].wxyz = wxyz
                    handles[name].position = position

    # --- background work ----------------------------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read the stage and redraw everything, keeping the joint values and the time."""
        with self._lock:
            # OpenUSD keeps the layers this process opened in its registry: without a reload, opening the stage
            # again would give the old content back.
            self.model.stage.Reload()
            model = read_model(self.path)
            self._versions = layer_versions(model.stage)
            self.model = model
            self.reloads += 1
            self._pending = {}  # a coarse level still shown is replaced by the full sets
            self.server.scene.reset()
            self.server.gui.reset()
            self._build_splats()
            self._build_rest()
        if self.on_reload is not None:
            self.on_reload(model)

    def _watch(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                if layer_versions(self.model.stage) == self._versions:
                    continue
                time.sleep(POLL_S)  # let a save that renames several layers finish
                self.reload()
            except Exception as exc:  # noqa: BLE001 - a half-written or broken save: keep showing the last good one
                for client in self.server.get_clients().values():
                    client.add_notification("reload failed", str(exc), auto_close_seconds=10.0)
                self._versions = layer_versions(self.model.stage)

    def _play(self) -> None:
        """Advance the timeline in real time while Play is ticked, on a clock of its own: a seek from anywhere else
        (a person moving the slider, :meth:`seek`) moves the clock there and playback goes on from it."""
        last = time.monotonic()
        clock: float | None = None
        while not self._stop.wait(1.0 / _PLAY_FPS):
            now = time.monotonic()
            elapsed, last = now - last, now
            timeline, play, slider = self.model.timeline, self.play, self.timeline_slider
            if timeline is None or play is None or slider is None or not play.value:
                clock = None
                continue
            shown = self.time if self.time is not None else timeline.start
            if clock is None or abs(shown - clock) > 1e-9:  # started, or the slider was moved
                clock = shown
            # Real time, however long posing took: a loaded machine drops frames, not speed.
            clock += elapsed
            if clock > timeline.end:
                clock = timeline.start
            slider.value = clock  # its callback poses

    def close(self) -> None:
        """Stop the background threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)


def serve(
    path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    coarse: int = COARSE_GAUSSIANS,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the viewer until Ctrl-C (which propagates as ``KeyboardInterrupt`` after the server stopped).

    The URL is announced as soon as the server listens, before OpenUSD is even imported, so a browser loads the
    page while the twin is read; the scene streams in as it is drawn (a coarse level of about ``coarse``
    Gaussians first, 0: the full sets at once), and a line says when it is all there and when the full sets went.

    Raises:
        InputError / StageError: a port in use, a missing stage (before anything is served) or one that is not a
            readable USD file (the server stops again).
    """
    import viser  # noqa: PLC0415

    from splattwin.errors import StageError  # noqa: PLC0415

    start = time.perf_counter()
    if not Path(path).is_file():  # the rest of open_usd_stage's checks need OpenUSD (0.4 s): after the URL
        raise StageError(path, "no such USD file")
    port = free_port(host) if port == 0 else port
    check_port(host, port)
    with contextlib.redirect_stdout(io.StringIO()):  # viser's own banner: the verb prints its line
        server = viser.ViserServer(host=host, port=port, verbose=False)
    viewer = None
    try:
        shown = f"[{host}]" if ":" in host else host
        announce(f"viewing {path} at http://{shown}:{port}; Ctrl-C stops")

        def full_detail() -> None:
            announce(f"full detail: the browser drew the coarse level ({time.perf_counter() - start:.1f} s)")

        viewer = TwinViewer(server, path, coarse=coarse, on_full_detail=full_detail)
        model = viewer.model
        first = (
            f" (a coarse level of {viewer.first_count:,} first)" if viewer.first_count < model.gaussian_count else ""
        )
        announce(
            f"drawn: {model.gaussian_count:,} Gaussians in {len(model.splats)} splat nodes{first}, "
            f"{len(model.joints)} joints, {len(model.bodies)} bodies ({time.perf_counter() - start:.1f} s)"
        )
        while True:
            time.sleep(0.2)
    finally:
        if viewer is not None:
            viewer.close()
        server.stop()
