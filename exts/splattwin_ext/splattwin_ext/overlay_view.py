"""The splat overlay in the active viewport: an ``omni.ui.ByteImageProvider`` image in the viewport's frame.

Every app update :meth:`ViewportOverlay.update` hands the viewport camera, the poses at the timeline's time
code (or the simulation's, written to USD by the physics) and, when ``omni.replicator.core`` is there, the RTX
colour and ``distance_to_image_plane`` of the viewport's render product to the Kit-free
:class:`splattwin.app.overlay.OverlayController`, which renders on its worker and never blocks this thread; the
newest finished frame is copied into the image. Without the RTX buffers the splats alone are drawn (RGBA) over the
viewport.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import omni.timeline
import omni.ui as ui
import omni.usd
from omni.kit.viewport.utility import get_active_viewport_window

from splattwin.app.overlay import OverlayController, OverlayRequest, poses_at_time

from .viewport_math import camera_from_viewport_matrices, to_rgba8

__all__ = ["ViewportOverlay", "native_splats_supported"]

_log = logging.getLogger(__name__)
_FRAME_NAME = "splattwin.overlay"


def native_splats_supported() -> bool:
    """True where the runtime's USD knows ParticleField3DGaussianSplat (its RTX renderer draws the prims)."""
    from pxr import Usd

    return Usd.SchemaRegistry().FindConcretePrimDefinition("ParticleField3DGaussianSplat") is not None


class _RtxBuffers:
    """The viewport's colour and depth through Replicator annotators (None when Replicator is missing)."""

    def __init__(self, render_product: str) -> None:
        self._annotators: list[Any] = []
        try:
            import omni.replicator.core as rep
        except ImportError:
            return
        self._color = rep.AnnotatorRegistry.get_annotator("LdrColor")
        self._depth = rep.AnnotatorRegistry.get_annotator("distance_to_image_plane")
        for annotator in (self._color, self._depth):
            annotator.attach([render_product])
            self._annotators.append(annotator)

    def read(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not self._annotators:
            return None, None
        color, depth = np.asarray(self._color.get_data()), np.asarray(self._depth.get_data())
        if color.ndim != 3 or depth.ndim != 2 or color.shape[:2] != depth.shape:
            return None, None  # not rendered yet
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.inf).astype(np.float32)
        return color[..., :3].astype(np.float32) / 255.0, depth

    def detach(self) -> None:
        for annotator in self._annotators:
            annotator.detach()
        self._annotators = []


class ViewportOverlay:
    """The overlay image over the active viewport, fed by an :class:`OverlayController`."""

    def __init__(self, stage_path: Path, *, backend: str = "cpu") -> None:
        self._window = get_active_viewport_window()
        if self._window is None:
            raise RuntimeError("no active viewport window")
        self._viewport = self._window.viewport_api
        self._controller = OverlayController(stage_path, backend=backend)
        self._frame = self._window.get_frame(_FRAME_NAME)
        self._frame.clear()
        with self._frame:
            self._provider = ui.ByteImageProvider()
            self._image = ui.ImageWithProvider(self._provider, fill_policy=ui.IwpFillPolicy.IWP_STRETCH)
        self._buffers = _RtxBuffers(self._viewport.render_product_path)
        self._frame_number = 0
        self._shown = -1
        self._pose_time: float | None = None
        self._poses: dict[str, np.ndarray] = {}

    def update(self) -> None:
        """Queue this frame (never waits) and show the newest finished one."""
        stage = omni.usd.get_context().get_stage()
        if stage is None:
            return
        width, height = (int(v) for v in self._viewport.resolution)
        camera = camera_from_viewport_matrices(self._viewport.view, self._viewport.projection, width, height)
        seconds = omni.timeline.get_timeline_interface().get_current_time()
        if seconds != self._pose_time or omni.timeline.get_timeline_interface().is_playing():
            # about 8 ms for a Panda on the 2-core build machine: only when the time moved or the sim runs
            self._poses = poses_at_time(stage, seconds * stage.GetTimeCodesPerSecond())
            self._pose_time = seconds
        poses = self._poses
        sim_rgb, sim_depth = self._buffers.read()
        if sim_rgb is not None and sim_rgb.shape[:2] != (height, width):
            sim_rgb = sim_depth = None
        self._frame_number += 1
        self._controller.submit(
            OverlayRequest(camera=camera, poses=poses, sim_rgb=sim_rgb, sim_depth=sim_depth, frame=self._frame_number)
        )
        frame = self._controller.latest()
        if frame is not None and frame.frame != self._shown:
            image = frame.image
            if image.shape[2] == 4:  # splats alone come premultiplied; the image provider wants straight alpha
                alpha = image[..., 3:]
                image = np.concatenate([image[..., :3] / np.maximum(alpha, 1e-6), alpha], axis=2)
            rgba = to_rgba8(image)
            size = [rgba.shape[1], rgba.shape[0]]
            try:
                self._provider.set_bytes_data(rgba.reshape(-1).data, size)  # no per-pixel Python list
            except TypeError:  # Kit builds whose binding takes only a list
                self._provider.set_bytes_data(rgba.reshape(-1).tolist(), size)
            self._shown = frame.frame
        for error in self._controller.errors[-1:]:
            _log.warning(error)
        self._controller.errors.clear()

    def destroy(self) -> None:
        """Stop the worker, detach the annotators and remove the image from the viewport."""
        self._controller.close()
        self._buffers.detach()
        self._frame.clear()
        self._image = None
        self._provider = None
