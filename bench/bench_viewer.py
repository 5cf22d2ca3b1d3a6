"""Start to first frame of ``splattwin view`` (goal <= 5 s for the demo twin), with where the time goes.

    python bench/bench_viewer.py out/demo/twin.usda          # the demo twin: the default and --coarse 0
    python bench/bench_viewer.py --gaussians 1000000          # a twin made here: a 1M-Gaussian scene splat

A headless Chromium (software WebGL) is started first and waits on a blank page, as a user's browser would. Then,
for each start, the clock starts: ``splattwin view STAGE`` is launched as its own process, a fresh page opens the
URL the moment the verb prints it, and the page's WebGL canvas is read back after every frame it draws until it
stops changing (the settled drawing). Each run starts the viewer twice, alternating (``--repeat`` pairs): as it
is (a coarse level first, the full sets once the browser drew it) and the baseline ``--coarse 0`` (the full sets
at once), so both are measured under the same load.

*First frame*: the first frame in which at least 90 % of the pixels where the project's own renderer draws the
scene's Gaussians (same camera: the viewer's initial view, :func:`splattwin.viewer.model.framing_view`) are drawn
and, both blurred over 24 pixels, within 0.1 of the settled drawing (a coarse level shows the scene, not its
finest detail). *Full detail*: the first frame in which 90 % of the pixels of every Gaussian prim are within 0.1 of
the settled drawing, unblurred. The server's own steps are timed in a second fresh process, against the baseline
of reading the same twin's Gaussians for the renderer (``gather_gaussians``) in this run. Timings are wall-clock
on whatever machine runs it: the load is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
WIDTH, HEIGHT = 800, 600
MATCH = 0.9  # share of the reference pixels that must look as settled
GRID = (75, 100)  # rows, columns: each drawn frame is sampled on this grid
# In the page: viser handles its websocket in a worker, which hands decoded messages over (timed here); after
# every animation frame that drew the WebGL canvas, its pixels are read back (on the grid) with a time stamp.
INIT = """
window.__bench = {worker: [], frames: []};
const Base = window.Worker;
window.Worker = class extends Base { constructor(...args) { super(...args);
  this.addEventListener('message', (e) => { window.__bench.worker.push([performance.timeOrigin + performance.now(),
    bytes(e.data, 0)]); }); } };
// The typed arrays' bytes in a decoded message (JSON.stringify of a 1.6 MB buffer took the page seconds).
const bytes = (x, depth) => {
  if (x === null || typeof x !== 'object' || depth > 8) return 0;
  if (ArrayBuffer.isView(x) || x instanceof ArrayBuffer) return x.byteLength;
  let n = 0;
  for (const k in x) n += bytes(x[k], depth + 1);
  return n;
};
let gl = null;
const getContext = HTMLCanvasElement.prototype.getContext;
HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
  const context = getContext.call(this, type, ...rest);
  if (type === 'webgl2' && context) gl = context;
  return context;
};
let last = -1;
const raf = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = (callback) => raf((t) => {
  callback(t);
  if (gl === null || t === last) return;
  last = t;
  const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, px = new Uint8Array(w * h * 4);
  gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  const out = [];
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < COLS; c++) {
    const i = ((h - 1 - Math.floor((r + 0.5) * h / ROWS)) * w + Math.floor((c + 0.5) * w / COLS)) * 4;
    out.push(px[i], px[i + 1], px[i + 2]);
  }
  const frames = window.__bench.frames;
  const previous = frames.length ? frames[frames.length - 1][1] : null;
  const now = performance.timeOrigin + performance.now();
  if (previous === null || out.some((v, k) => v !== previous[k])) frames.push([now, out]);
});
""".replace("ROWS", str(GRID[0])).replace("COLS", str(GRID[1]))


def _server_steps(stage: Path) -> None:
    """Run in a fresh process: time each step of the server's start and print them as JSON."""
    marks = {}
    if os.environ.get("BENCH_VIEWER_BASELINE"):  # its own fresh process: the layers are not cached yet
        from splattwin.scene import gather_gaussians
        from splattwin.usd import open_usd_stage

        start = time.perf_counter()
        gather_gaussians(open_usd_stage(stage))
        print(json.dumps({"baseline": time.perf_counter() - start}))
        return
    start = time.perf_counter()
    import viser

    marks["import viser"] = time.perf_counter() - start
    t = time.perf_counter()
    import splattwin.viewer.server as server_module
    from splattwin.viewer import model as model_module

    marks["import splattwin viewer"] = time.perf_counter() - t
    t = time.perf_counter()
    server = viser.ViserServer(host="127.0.0.1", port=server_module.free_port("127.0.0.1"), verbose=False)
    marks["start viser (then the URL is printed)"] = time.perf_counter() - t
    t = time.perf_counter()
    import pxr.Usd  # noqa: F401

    marks["import OpenUSD"] = time.perf_counter() - t
    t = time.perf_counter()
    model = model_module.read_splats(stage)
    marks["read the splats (read_splats)"] = time.perf_counter() - t
    t = time.perf_counter()
    full = [model_module.splat_buffers(node.gaussians) for node in model.splats]
    marks["  splat buffers"] = time.perf_counter() - t
    t = time.perf_counter()
    coarse = model_module.coarse_level(full, model_module.COARSE_GAUSSIANS)
    marks[f"  coarse level ({sum(len(c['centers']) for c in coarse):,} Gaussians)"] = time.perf_counter() - t
    t = time.perf_counter()
    model_module.read_rest(model)
    marks["read the rest (read_rest)"] = time.perf_counter() - t
    t = time.perf_counter()
    server_module.read_splats = lambda path: model  # draw the model read above
    server_module.read_rest = lambda model: model
    viewer = server_module.TwinViewer(server, stage)
    marks["draw (buffers, coarse level, panel, pose)"] = time.perf_counter() - t
    viewer.close()
    server.stop()
    print(json.dumps(marks))


def _million_twin(count: int, folder: Path) -> Path:
    """A twin with one scene splat of ``count`` random Gaussians on a 2 x 2 m floor and a 1 m wall (made here)."""
    from splattwin.cli import main as cli
    from splattwin.gaussians import Gaussians, rgb_to_sh0
    from splattwin.io.ply import write_ply

    rng = np.random.default_rng(0)
    floor = count // 2
    means = np.concatenate(
        [
            np.c_[rng.uniform(-1, 1, (floor, 2)), rng.normal(0, 0.002, floor)],
            np.c_[rng.uniform(-1, 1, count - floor), np.full(count - floor, 1.0), rng.uniform(0, 1, count - floor)],
        ]
    )
    colors = np.where(means[:, 2:3] < 0.05, [0.3, 0.7, 0.3], [0.8, 0.6, 0.3]) * rng.uniform(0.8, 1.0, (count, 1))
    write_ply(
        folder / "scene.ply",
        Gaussians(
            means=means.astype(np.float32),
            quats_wxyz=np.tile([1.0, 0, 0, 0], (count, 1)).astype(np.float32),
            scales=np.full((count, 3), 0.006, dtype=np.float32),
            opacities=np.full(count, 0.9, dtype=np.float32),
            sh=rgb_to_sh0(colors)[:, None, :].astype(np.float32),
        ),
    )
    stage = folder / "twin.usda"
    assert cli(["import-splat", str(folder / "scene.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat"]) == 0
    return stage


def _reference_masks(stage: Path) -> tuple[np.ndarray, np.ndarray]:
    """Where the project's renderer draws the scene's and all Gaussians from the viewer's initial view."""
    from splattwin.render.camera import look_at_camera
    from splattwin.render.views import render_view
    from splattwin.scene import gather_gaussians
    from splattwin.usd import open_usd_stage
    from splattwin.viewer.model import framing_view, read_model

    fov = np.radians(75.0)  # viser's initial field of view, which the viewer keeps
    model = read_model(stage)
    eye, target = framing_view(np.concatenate([n.gaussians.means for n in model.splats]), fov)
    camera = look_at_camera(tuple(eye), tuple(target), width=WIDTH, height=HEIGHT, vertical_fov_deg=np.degrees(fov))
    scene = gather_gaussians(open_usd_stage(stage), overrides=model.rest_overrides)
    view = render_view(scene, camera, background=(0.0, 0.0, 0.0))
    labels = view.segmentation
    everything = labels >= 0
    scene_ids = [k for k, p in enumerate(view.prim_paths) if p.startswith("/World/Scene")]
    scene_mask = np.isin(labels, scene_ids) if scene_ids else everything
    rows = ((np.arange(GRID[0]) + 0.5) * HEIGHT / GRID[0]).astype(int)
    cols = ((np.arange(GRID[1]) + 0.5) * WIDTH / GRID[1]).astype(int)
    return scene_mask[np.ix_(rows, cols)], everything[np.ix_(rows, cols)]


def _first_match(shots: list[tuple[float, np.ndarray]], mask: np.ndarray) -> float | None:
    settled = shots[-1][1]
    for t, image in shots:
        if (np.abs(image - settled).max(axis=-1) < 0.1)[mask].mean() >= MATCH:
            return t
    return None


def _drawn(image: np.ndarray, settled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels [rows, cols] of a frame that show something other than the empty canvas (its median colour outside
    ``mask``, where no Gaussians are)."""
    empty = np.median(settled[~mask], axis=0)
    return np.abs(image - empty).max(axis=-1) > 0.1


def _blurred(image: np.ndarray) -> np.ndarray:
    """The grid's image averaged over 3 x 3 cells (24 pixels): what a coarse level should get right."""
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
    rows, cols = image.shape[:2]
    return sum(padded[r : r + rows, c : c + cols] for r in range(3) for c in range(3)) / 9.0


def _looks_settled(image: np.ndarray, settled: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Shares of the mask's pixels that are drawn, and that look as settled when both are blurred over 24 px."""
    drawn = _drawn(image, settled, mask)[mask].mean()
    close = (np.abs(_blurred(image) - _blurred(settled)).max(axis=-1) < 0.1)[mask].mean()
    return float(drawn), float(close)


def _first_frame(shots: list[tuple[float, np.ndarray]], mask: np.ndarray) -> float | None:
    """The first frame in which 90 % of the mask's pixels are drawn and look as settled, blurred over 24 px (a
    coarse level shows the scene, not its finest detail; for the full sets this is the frame they are drawn)."""
    settled = shots[-1][1]
    for t, image in shots:
        drawn, close = _looks_settled(image, settled, mask)
        if drawn >= MATCH and close >= MATCH:
            return t
    return None


def _end_to_end(browser: object, stage: Path, coarse: int | None) -> dict[str, object]:
    """One start of ``splattwin view`` (``--coarse`` when given) watched by a fresh page of the waiting browser."""
    from splattwin.viewer.server import free_port

    port = free_port("127.0.0.1")
    marks: dict[str, object] = {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})  # type: ignore[attr-defined]
    page = context.new_page()
    page.add_init_script(INIT)
    page.on(
        "console",
        lambda m: marks.setdefault("websocket connected", time.time() - t0) if "Connected!" in m.text else None,
    )
    page.goto("about:blank")
    t0 = time.time()
    command = [sys.executable, "-m", "splattwin", "view", str(stage), "--port", str(port)]
    command += [] if coarse is None else ["--coarse", str(coarse)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)

    def read_lines() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            if line.startswith("drawn:"):
                marks["server: drawn"] = time.time() - t0
            elif line.startswith("full detail:"):
                marks["server: full sets sent"] = time.time() - t0

    line = process.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("viewing"), line
    marks["server: URL printed"] = time.time() - t0
    threading.Thread(target=read_lines, daemon=True).start()
    page.goto(f"http://127.0.0.1:{port}")
    marks["page loaded"] = time.time() - t0
    count, changed, gap, deadline = 0, time.time(), 0.0, t0 + 600
    # Settled: no new drawing for 8 s and for three times the longest wait between two drawings so far.
    while time.time() - changed < max(8.0, 3 * gap) and time.time() < deadline:
        time.sleep(0.5)
        now = page.evaluate("() => window.__bench.frames.length")
        if now != count:
            count, gap, changed = now, max(gap, time.time() - changed), time.time()
    bench = page.evaluate("() => window.__bench")
    big = [w[0] / 1000 - t0 for w in bench["worker"] if w[1] > 50_000]  # splat buffers (the coarse level: 118 kB)
    marks["scene received by the page"] = big[0] if big else None
    if "server: full sets sent" in marks and len(big) > 1:
        marks["full sets received by the page"] = big[-1]
    shots = [(t / 1000 - t0, np.asarray(px, np.float32).reshape(*GRID, 3) / 255) for t, px in bench["frames"]]
    marks["settled"] = shots[-1][0]
    name = "coarse" if coarse is None else f"coarse{coarse}"
    page.screenshot(path=str(Path(tempfile.gettempdir()) / f"bench_viewer_settled_{name}.png"), timeout=600_000)
    context.close()
    process.terminate()
    process.wait(timeout=30)
    marks["frames"] = len(shots)
    marks["_shots"] = shots
    return marks


def _report(label: str, marks: dict[str, object], scene_mask: np.ndarray, all_mask: np.ndarray) -> None:
    shots: list[tuple[float, np.ndarray]] = marks.pop("_shots")  # type: ignore[assignment]
    if os.environ.get("BENCH_VIEWER_DUMP"):
        np.savez(
            os.environ["BENCH_VIEWER_DUMP"] + label.split(",")[0].split(":")[0].replace(" ", "_") + ".npz",
            t=np.array([t for t, _ in shots]),
            im=np.stack([im for _, im in shots]),
            scene=scene_mask,
            all=all_mask,
        )
    marks["first frame: the scene drawn (blurred as settled)"] = _first_frame(shots, scene_mask)
    marks["full detail: every Gaussian prim as settled"] = _first_match(shots, all_mask)
    settled = shots[-1][1]
    print(f"{label} ({marks.pop('frames')} changed frames), s from launching `splattwin view`:")
    for name, seconds in sorted(marks.items(), key=lambda kv: kv[1] if kv[1] is not None else 1e9):  # type: ignore[arg-type,return-value]
        print(f"  {name:44s} " + (f"{seconds:6.2f} s" if seconds is not None else "  never"))
    match = [(np.abs(im - settled).max(axis=-1) < 0.1)[scene_mask].mean() for _, im in shots]
    looks = [_looks_settled(im, settled, scene_mask) for _, im in shots]
    print(
        "  frames (s: shares of the scene's pixels drawn / as settled blurred / as settled): "
        + ", ".join(f"{t:.1f}: {d:.2f}/{c:.2f}/{m:.2f}" for (t, _), (d, c), m in zip(shots, looks, match, strict=True))
    )
    background = np.median(settled[~all_mask & (settled.max(axis=-1) < 0.3)], axis=0)
    covered = (np.abs(settled - background).max(axis=-1) > 0.05)[all_mask].mean()
    print(f"  settled drawing covers {100 * covered:.0f} % of the renderer's Gaussian pixels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", nargs="?", type=Path, default=Path("out/demo/twin.usda"))
    parser.add_argument("--gaussians", type=int, help="make a twin with one scene splat of this many Gaussians")
    parser.add_argument("--repeat", type=int, default=1, help="starts of each kind, alternating (default 1)")
    parser.add_argument("--server-steps", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server_steps:
        _server_steps(args.stage)
        return
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        stage = _million_twin(args.gaussians, Path(folder)) if args.gaussians else args.stage
        script = [sys.executable, __file__, str(stage), "--server-steps"]
        output = subprocess.run(script, check=True, capture_output=True, text=True).stdout
        steps = json.loads(output.strip().splitlines()[-1])  # after viser's banner
        env = {**os.environ, "BENCH_VIEWER_BASELINE": "1"}
        output = subprocess.run(script, check=True, capture_output=True, text=True, env=env).stdout
        baseline = json.loads(output)["baseline"]
        scene_mask, all_mask = _reference_masks(stage)
        loads = [os.getloadavg()[0]]
        runs = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            for k in range(args.repeat):
                for label, coarse in (("coarse level first (the default)", None), ("baseline: --coarse 0", 0)):
                    runs.append((f"{label}, start {k + 1}", _end_to_end(browser, stage, coarse)))
                    loads.append(os.getloadavg()[0])
            browser.close()
        from splattwin.viewer.model import read_model

        model = read_model(stage)
        name = f"{args.gaussians:,}-Gaussian scene splat" if args.gaussians else str(stage)
        print(f"{name}: {model.gaussian_count:,} Gaussians in {len(model.splats)} splat nodes")
        print("load (1-min average) before and after each start: " + ", ".join(f"{x:.1f}" for x in loads))
        print(f"baseline gather_gaussians: {baseline:.2f} s")
        print("server steps (fresh process):")
        for step, seconds in steps.items():
            print(f"  {step:44s} {seconds:6.2f} s")
        for label, marks in runs:
            _report(label, marks, scene_mask, all_mask)


if __name__ == "__main__":
    main()
