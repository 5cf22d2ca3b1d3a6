"""Numba kernel of the mesh z-buffer rasterizer (:mod:`splattwin.render.meshes`)."""

from __future__ import annotations

import math

import numba

__all__ = ["scan_triangles"]


@numba.njit(cache=True, nogil=True)
def scan_triangles(cam, shade, prim_index, K, near, rgb, depth, labels):  # noqa: ANN001, ANN201, N803
    """Scan-convert camera-frame triangles [T,3,3] into rgb [H,W,3], depth [H,W] (z), labels [H,W] in place."""
    height, width = depth.shape
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    for t in range(cam.shape[0]):
        z0, z1, z2 = cam[t, 0, 2], cam[t, 1, 2], cam[t, 2, 2]
        if z0 <= near or z1 <= near or z2 <= near:
            continue
        x0 = fx * cam[t, 0, 0] / z0 + cx
        y0 = fy * cam[t, 0, 1] / z0 + cy
        x1 = fx * cam[t, 1, 0] / z1 + cx
        y1 = fy * cam[t, 1, 1] / z1 + cy
        x2 = fx * cam[t, 2, 0] / z2 + cx
        y2 = fy * cam[t, 2, 1] / z2 + cy
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if area == 0.0:
            continue
        lo_x = max(0, int(math.floor(min(x0, x1, x2) - 0.5)))
        hi_x = min(width - 1, int(math.ceil(max(x0, x1, x2) - 0.5)))
        lo_y = max(0, int(math.floor(min(y0, y1, y2) - 0.5)))
        hi_y = min(height - 1, int(math.ceil(max(y0, y1, y2) - 0.5)))
        for py in range(lo_y, hi_y + 1):
            sy = py + 0.5
            for px in range(lo_x, hi_x + 1):
                sx = px + 0.5
                w0 = ((x1 - sx) * (y2 - sy) - (x2 - sx) * (y1 - sy)) / area
                w1 = ((x2 - sx) * (y0 - sy) - (x0 - sx) * (y2 - sy)) / area
                w2 = 1.0 - w0 - w1
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0:
                    continue
                z = 1.0 / (w0 / z0 + w1 / z1 + w2 / z2)  # perspective-correct depth
                if z < depth[py, px]:
                    depth[py, px] = z
                    labels[py, px] = prim_index[t]
                    for ch in range(3):
                        rgb[py, px, ch] = shade[t, ch]
