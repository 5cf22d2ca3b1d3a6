"""Start to first frame of ``splattwin view`` on the demo twin (goal <= 5 s): reading the twin and drawing it on
the server, then a headless Chromium connecting and receiving every splat node, against the baseline of reading
the same twin's Gaussians for the renderer (``gather_gaussians``) in the same run.

    python bench/bench_viewer.py [out/demo/twin.usda]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def main() -> None:
    import viser
    from playwright.sync_api import sync_playwright

    from splattwin.scene import gather_gaussians
    from splattwin.usd import open_usd_stage
    from splattwin.viewer.server import TwinViewer, free_port

    stage = Path(sys.argv[1] if len(sys.argv) > 1 else "out/demo/twin.usda")
    start = time.perf_counter()
    gather_gaussians(open_usd_stage(stage))
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    port = free_port("127.0.0.1")
    server = viser.ViserServer(host="127.0.0.1", port=port, verbose=False)
    viewer = TwinViewer(server, stage)
    served = time.perf_counter() - start
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 800, "height": 600})
        page.goto(f"http://127.0.0.1:{port}")
        page.wait_for_selector("canvas")
        while not server.get_clients():
            time.sleep(0.02)
        next(iter(server.get_clients().values())).flush()
        page.screenshot()
        first_frame = time.perf_counter() - start
        browser.close()
    viewer.close()
    server.stop()
    print(f"{stage}: {viewer.model.gaussian_count:,} Gaussians in {len(viewer.model.splats)} splat nodes")
    print(f"baseline gather_gaussians: {baseline:.2f} s")
    print(f"viewer served: {served:.2f} s ({served / baseline:.1f}x baseline); first frame: {first_frame:.2f} s")


if __name__ == "__main__":
    main()
