"""The viewport overlay: the twin's bound Gaussians rendered on a worker thread and composited with depth.

Each viewport frame the Kit layer calls :meth:`OverlayController.submit` with the link / object poses (from the
running simulation, or :func:`poses_at_time` for the timeline's time code), the viewport camera and the
simulator's RGB + depth, and shows :meth:`OverlayController.latest` in the viewport. ``submit`` returns at once:
one render runs at a time on a ``concurrent.futures`` worker, and a request arriving while it runs replaces the
one waiting (stale frames are dropped, counted in :attr:`OverlayController.dropped`), so the UI thread never waits
and the overlay shows the newest pose the renderer can keep up with.

The worker reads its own copy of the twin (opened from the file), so it never touches the stage Kit edits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OverlayController", "OverlayFrame", "OverlayRequest", "poses_at_time"]


@dataclass
class OverlayRequest:
    """One frame to draw.

    Attributes:
        camera: the viewport camera (:class:`splattwin.render.Camera`: world->camera OpenCV 4x4, K, size).
        poses: prim path -> world transform (4x4 column-vector, metres) for robot links and moving objects.
        sim_rgb: [H, W, 3] simulator colours in [0, 1], or None for the splats alone (RGBA).
        sim_depth: [H, W] simulator camera-frame z [m], +inf where empty; None with ``sim_rgb`` None.
        frame: the caller's frame number, returned with the result.
    """

    camera: Any
    poses: Mapping[str, np.ndarray]
    sim_rgb: np.ndarray | None = None
    sim_depth: np.ndarray | None = None
    frame: int = 0


@dataclass
class OverlayFrame:
    """A finished overlay: ``image`` [H, W, 3] composite (or [H, W, 4] premultiplied RGBA without a sim image)."""

    frame: int
    image: np.ndarray
    seconds: float


class OverlayController:
    """Renders overlay requests on one worker thread, newest first, never blocking the caller.

    Args:
        stage: the twin's root layer; the worker opens its own read-only copy.
        backend: the renderer backend ("cpu", "gsplat", "auto").
        on_frame: called on the worker thread with each finished frame (the Kit layer copies it to its image
            provider on the next UI update).
        render: replaces the gather + render + composite step (tests use a slow stand-in).
    """

    def __init__(
        self,
        stage: Path,
        *,
        backend: str = "cpu",
        on_frame: Callable[[OverlayFrame], None] | None = None,
        render: Callable[[OverlayRequest], np.ndarray] | None = None,
    ) -> None:
        self.stage = Path(stage)
        self.backend = backend
        self.on_frame = on_frame
        self._render_image = render or self._render_with_splattwin
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="splattwin-overlay")
        self._lock = threading.Lock()
        self._pending: OverlayRequest | None = None
        self._busy = False
        self._latest: OverlayFrame | None = None
        self._usd_stage: Any = None
        self.dropped = 0
        self.errors: list[str] = []

    def submit(self, request: OverlayRequest) -> bool:
        """Queue a frame; True when it started rendering now, False when it waits (replacing a stale one)."""
        with self._lock:
            if self._busy:
                if self._pending is not None:
                    self.dropped += 1
                self._pending = request
                return False
            self._busy = True
        self._start(request)
        return True

    def _start(self, request: OverlayRequest) -> None:
        future: Future = self._executor.submit(self._run, request)
        future.add_done_callback(self._next)

    def _run(self, request: OverlayRequest) -> None:
        start = time.perf_counter()
        try:
            image = self._render_image(request)
        except Exception as exc:  # noqa: BLE001 (a bad frame becomes a message, the overlay keeps running)
            with self._lock:
                self.errors.append(f"overlay frame {request.frame}: {exc}")
            return
        frame = OverlayFrame(frame=request.frame, image=image, seconds=time.perf_counter() - start)
        with self._lock:
            self._latest = frame
        if self.on_frame is not None:
            self.on_frame(frame)

    def _next(self, _: Future) -> None:
        with self._lock:
            request, self._pending = self._pending, None
            if request is None:
                self._busy = False
                return
        self._start(request)

    def latest(self) -> OverlayFrame | None:
        """The newest finished frame (None before the first)."""
        with self._lock:
            return self._latest

    def idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until nothing renders or waits (for tests and shutdown); True when idle."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._busy:
                    return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        """Drop the waiting request and stop the worker after the frame it is drawing."""
        with self._lock:
            self._pending = None
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _render_with_splattwin(self, request: OverlayRequest) -> np.ndarray:
        from splattwin.render import composite, render_view  # noqa: PLC0415
        from splattwin.scene import gather_gaussians  # noqa: PLC0415
        from splattwin.usd.stage import open_usd_stage  # noqa: PLC0415

        if self._usd_stage is None:
            self._usd_stage = open_usd_stage(self.stage)
        scene = gather_gaussians(self._usd_stage, overrides=dict(request.poses))
        view = render_view(scene, request.camera, backend=self.backend, background=(0.0, 0.0, 0.0))
        if request.sim_rgb is None:
            return np.concatenate([view.premultiplied_rgb, view.alpha[..., None]], axis=-1).astype(np.float32)
        sim_depth = request.sim_depth if request.sim_depth is not None else np.full(view.depth.shape, np.inf)
        return composite(view.premultiplied_rgb, view.depth, request.sim_rgb, sim_depth, splat_alpha=view.alpha)


def poses_at_time(stage: Any, time_code: float) -> dict[str, np.ndarray]:
    """Robot link and keyed object world transforms at a time code, from the stage's time samples.

    Robot joints come from :mod:`splattwin.robot.trajectories` attributes (unset joints at 0); objects whose
    transform is time-sampled get their world transform at ``time_code`` (4x4 column-vector, metres).
    """
    from pxr import UsdGeom, UsdPhysics  # noqa: PLC0415

    from splattwin.robot import find_robots  # noqa: PLC0415
    from splattwin.robot.trajectories import joint_channels  # noqa: PLC0415
    from splattwin.scene import robot_link_overrides  # noqa: PLC0415
    from splattwin.usd.prims import world_matrix  # noqa: PLC0415

    joints: dict[str, float] = {}
    for robot in find_robots(stage):
        prim = stage.GetPrimAtPath(robot)
        for channel in joint_channels(stage, robot):
            attribute = prim.GetAttribute(channel.attribute)
            if attribute and attribute.HasValue():
                joints[channel.name] = float(attribute.Get(time_code))
    poses = robot_link_overrides(stage, joints) if find_robots(stage) else {}
    for prim in stage.Traverse():
        if prim.HasAPI(UsdPhysics.RigidBodyAPI) and str(prim.GetPath()) not in poses:
            xformable = UsdGeom.Xformable(prim)
            if xformable.TransformMightBeTimeVarying():
                poses[str(prim.GetPath())] = world_matrix(prim, time_code)
    return poses
