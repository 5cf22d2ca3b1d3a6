"""Make the overlay images of docs/extension.md with the CPU renderer (the same controllers the panel drives).

    python docs/make_extension_images.py            # writes docs/images/extension_overlay.png

A Panda is imported with its link Gaussians, the sample trajectory is keyed on it, and the overlay controller
renders it at two time codes over a stand-in simulator image (a floor and a cube drawn by SplatTwin's mesh
rasterizer, with depth), exactly as the viewport overlay composites over the RTX colour and depth.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import trimesh

from splattwin.app.overlay import OverlayController, OverlayRequest, poses_at_time
from splattwin.app.panel import PanelController
from splattwin.render import look_at_camera, rasterize_meshes
from splattwin.render.meshes import SceneMeshes
from splattwin.usd import open_twin

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "images" / "extension_overlay.png"


def _sim_meshes() -> SceneMeshes:
    floor = trimesh.creation.box(extents=(2.5, 2.5, 0.02))
    floor.apply_translation((0.2, 0.0, -0.01))
    cube = trimesh.creation.box(extents=(0.25, 0.25, 0.25))
    cube.apply_translation((0.45, -0.35, 0.125))
    parts = [(floor, (0.55, 0.55, 0.5)), (cube, (0.15, 0.35, 0.9))]
    triangles = np.concatenate([np.asarray(m.vertices)[np.asarray(m.faces)] for m, _ in parts])
    colors = np.concatenate([np.broadcast_to(c, (len(m.faces), 3)) for m, c in parts])
    index = np.concatenate([np.full(len(m.faces), i, dtype=np.int32) for i, (m, _) in enumerate(parts)])
    return SceneMeshes(triangles, colors.copy(), ["floor", "cube"], index)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        stage_path = Path(folder) / "twin.usda"
        panel = PanelController(stage=stage_path)
        for result in (
            panel.import_robot("pybullet_data:franka_panda/panda.urdf"),
            panel.import_trajectory(REPO / "usd_assets" / "tabletop" / "panda_wave.csv", "/World/Robot"),
        ):
            assert result.ok, result.text
        stage = open_twin(stage_path).stage
        rate = stage.GetTimeCodesPerSecond()
        camera = look_at_camera((1.5, -1.2, 0.9), (0.15, 0.0, 0.4), width=240, height=180, vertical_fov_deg=45.0)
        sim_rgb, sim_depth, _ = rasterize_meshes(_sim_meshes(), camera, background=(0.45, 0.52, 0.62))
        overlay = OverlayController(stage_path)
        panels = [sim_rgb]
        try:
            for seconds, with_sim in ((0.0, False), (0.0, True), (0.5, True)):
                poses = poses_at_time(stage, seconds * rate)
                request = OverlayRequest(
                    camera=camera,
                    poses=poses,
                    sim_rgb=sim_rgb if with_sim else None,
                    sim_depth=sim_depth if with_sim else None,
                )
                overlay.submit(request)
                assert overlay.idle(timeout_s=300) and not overlay.errors, overlay.errors
                image = overlay.latest().image
                if image.shape[2] == 4:  # splats alone: premultiplied RGBA, shown over a checkerboard
                    rows, cols = np.indices(image.shape[:2]) // 12
                    checker = np.where(((rows + cols) % 2)[..., None] == 0, 0.25, 0.4).astype(np.float32)
                    image = image[..., :3] + (1.0 - image[..., 3:]) * checker
                panels.append(image)
        finally:
            overlay.close()
    gap = np.ones((180, 4, 3), dtype=np.float32)
    strip = np.concatenate([x for p in panels for x in (np.clip(p, 0, 1), gap)][:-1], axis=1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(OUT, np.round(strip * 255).astype(np.uint8), optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main()
