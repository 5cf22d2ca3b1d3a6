"""``splattwin view`` in a real headless Chromium: the table and the robot are drawn where the project's own
rasterizer puts them from the same camera, a joint slider moved in the browser moves the robot's pixels, the
timeline's Play plays the keyed trajectory back, a save by another process is shown without a restart, the coarse
first level is what the page draws first and the full sets what it draws last, and (with
``SPLATTWIN_BROWSER_1M=1``: minutes of software WebGL) a 1M-Gaussian scene splat is drawn.

The browser tests skip when Debian's chromium or playwright is missing, unless ``SPLATTWIN_REQUIRE_BROWSER=1``
(set by ``.ci/run``, which installs the browser with ``scripts/install_browser.sh``). One server and one browser
are shared by the module.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from splattwin.gaussians import Gaussians, rgb_to_sh0

pytest.importorskip("pxr")
pybullet_data = pytest.importorskip("pybullet_data")
CHROMIUM = Path("/usr/bin/chromium")
REQUIRED = os.environ.get("SPLATTWIN_REQUIRE_BROWSER") == "1"
try:
    import viser  # noqa: F401
    from playwright.sync_api import sync_playwright
except ModuleNotFoundError:
    if REQUIRED:
        raise
    pytest.skip("viser / playwright not installed (pip install 'splattwin[view]')", allow_module_level=True)
if not CHROMIUM.is_file():
    if REQUIRED:
        raise RuntimeError(f"SPLATTWIN_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (scripts/install_browser.sh)")
    pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)", allow_module_level=True)

from splattwin.cli import main  # noqa: E402
from splattwin.io.ply import write_ply  # noqa: E402
from splattwin.io.trajectory import Trajectory, write_trajectory  # noqa: E402

PANDA = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
ARM = [f"panda_joint{i}" for i in range(1, 8)]
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]  # fmt: skip
WIDTH, HEIGHT = 800, 600
FOV_DEG = 50.0
EYE, TARGET = (1.6, -1.6, 1.2), (0.2, 0.0, 0.3)
PANEL_X = 440  # viser's panel floats over the right of the canvas and its notices over the top left: not compared


def _table(path: Path) -> None:
    """A 1.0 x 0.8 m green table of Gaussians at z = 0, centred at (0.35, 0, 0), made here."""
    xs, ys = np.meshgrid(np.linspace(-0.15, 0.85, 60), np.linspace(-0.4, 0.4, 48))
    means = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    n = len(means)
    write_ply(
        path,
        Gaussians(
            means=means.astype(np.float32),
            quats_wxyz=np.tile([1.0, 0, 0, 0], (n, 1)).astype(np.float32),
            scales=np.tile([0.012, 0.012, 0.002], (n, 1)).astype(np.float32),
            opacities=np.full(n, 0.95, dtype=np.float32),
            sh=rgb_to_sh0(np.tile([0.2, 0.8, 0.2], (n, 1)))[:, None, :],
        ),
    )


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("view")
    stage = folder / "twin.usda"
    _table(folder / "table.ply")
    assert main(["import-splat", str(folder / "table.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat"]) == 0
    assert main(["import-robot", str(PANDA), "--stage", str(stage), "--prim", "/World/Robot"]) == 0
    t = np.linspace(0.0, 2.0, 21)
    positions = np.zeros((len(t), 7))
    positions[:, 0] = 1.2 * t / 2.0  # joint1 swings the arm 1.2 rad over 2 s
    positions[:, 3] = -1.5
    positions[:, 5] = 1.5
    write_trajectory(folder / "swing.csv", Trajectory(times=t, positions=positions, joint_names=ARM))
    assert (
        main(["trajectory", "import", str(folder / "swing.csv"), "--stage", str(stage), "--robot", "/World/Robot"]) == 0
    )
    return stage


@pytest.fixture(scope="module")
def served(twin: Path) -> Iterator[tuple[object, object, str]]:
    from splattwin.viewer.server import TwinViewer, free_port

    port = free_port("127.0.0.1")
    server = viser.ViserServer(host="127.0.0.1", port=port, verbose=False)
    viewer = TwinViewer(server, twin)
    # The page starts at the test's camera: set on the client alone, the camera raced the page's own start-up,
    # which could reset it to the viewer's framing view after the test had set it (a flaky robot mask).
    initial = server.initial_camera
    initial.up, initial.look_at, initial.position = (0.0, 0.0, 1.0), TARGET, EYE
    initial.fov = np.radians(FOV_DEG)
    try:
        yield server, viewer, f"http://127.0.0.1:{port}"
    finally:
        viewer.close()
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(served: tuple[object, object, str], browser: object) -> Iterator[object]:
    server, _, url = served
    tab = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})  # type: ignore[attr-defined]
    tab.goto(url)
    deadline = time.monotonic() + 60
    while not server.get_clients() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.get_clients(), "the browser never connected"
    _, viewer, _ = served
    assert viewer.full_detail.wait(120), "the full sets never followed the coarse level"  # the tests compare them
    for client in server.get_clients().values():
        client.camera.up_direction = (0.0, 0.0, 1.0)
        client.camera.fov = np.radians(FOV_DEG)
        client.camera.position = EYE
        client.camera.look_at = TARGET
    yield tab
    tab.close()


def _screenshot(tab: object, settle_s: float = 3.0, within_s: float = 60.0) -> np.ndarray:
    """The page once it stopped changing: viser fades splats in over seconds (faint at 2 s, whole by 8 s here,
    slower on a loaded machine), so three shots 1 s apart, each after the page drew two more frames (a loaded
    machine can stall the page's drawing for longer than a second), must agree before one is used (at most 60 s)."""
    import imageio.v3 as iio

    def shot() -> np.ndarray:
        tab.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # type: ignore[attr-defined]
        return iio.imread(tab.screenshot(timeout=1000 * within_s), extension=".png")[..., :3].astype(np.float32) / 255.0  # type: ignore[attr-defined]

    time.sleep(settle_s)
    previous, agreed, deadline = shot(), 0, time.monotonic() + within_s
    while time.monotonic() < deadline:
        time.sleep(1.0)
        current = shot()
        agreed = agreed + 1 if np.abs(current - previous).mean() < 0.001 else 0
        previous = current
        if agreed == 2:
            break
    return previous


def _reference(stage_path: Path, joints: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Masks [H, W] of the robot and of the table in the project's own render from the same camera."""
    from splattwin.render.camera import look_at_camera
    from splattwin.render.views import render_view
    from splattwin.scene import gather_gaussians, robot_link_overrides
    from splattwin.usd import open_usd_stage

    stage = open_usd_stage(stage_path)
    scene = gather_gaussians(stage, overrides=robot_link_overrides(stage, joints))
    camera = look_at_camera(EYE, TARGET, width=WIDTH, height=HEIGHT, vertical_fov_deg=FOV_DEG)
    view = render_view(scene, camera, background=(0.0, 0.0, 0.0))
    labels = view.segmentation
    robot = np.isin(labels, [k for k, p in enumerate(view.prim_paths) if p.startswith("/World/Robot")])
    table = labels == view.prim_paths.index("/World/Scene/Splat")
    return robot, table


def _compared(mask: np.ndarray) -> np.ndarray:
    keep = mask.copy()
    keep[:, WIDTH - PANEL_X :] = False
    keep[:160, :330] = False
    return keep


def _hide_frames(viewer: object) -> None:
    for handle in [*viewer.frame_handles, *viewer.camera_handles]:  # type: ignore[attr-defined]
        handle.visible = False


# After every frame the page draws on its WebGL canvas, a grid of its pixels is read back (rows, columns).
_FRAME_GRID = (30, 40)
_RECORD_FRAMES = """
window.__frames = [];
let gl = null;
const getContext = HTMLCanvasElement.prototype.getContext;
HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
  const context = getContext.call(this, type, ...rest);
  if (type === 'webgl2' && context) gl = context;
  return context;
};
const raf = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = (callback) => raf((t) => {
  callback(t);
  if (gl === null) return;
  const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, px = new Uint8Array(w * h * 4), out = [];
  gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < COLS; c++) {
    const i = ((h - 1 - Math.floor((r + 0.5) * h / ROWS)) * w + Math.floor((c + 0.5) * w / COLS)) * 4;
    out.push(px[i], px[i + 1], px[i + 2]);
  }
  const frames = window.__frames, last = frames.length ? frames[frames.length - 1] : null;
  if (last === null || out.some((v, k) => v !== last[k])) frames.push(out);
});
""".replace("ROWS", str(_FRAME_GRID[0])).replace("COLS", str(_FRAME_GRID[1]))


def test_the_coarse_level_is_drawn_first_then_the_full_sets(browser: object, tmp_path: Path) -> None:  # noqa: ANN001
    """First in the module, before the shared page opens: the browser's tabs share one software rasterizer, and a
    tab drawing 47,000 Gaussians stalls the others' frames for seconds.

    A plane of 1 cm red and blue stripes (4,800 Gaussians) with a coarse level of about 300: the page's first
    drawing of the plane is the coarse level (each merged Gaussian averages both colours: purple), and its last
    the full sets (red or blue pixels); the server sent 300-odd Gaussians first and the 4,800 after."""
    from splattwin.viewer.server import TwinViewer, free_port

    xs, ys = np.meshgrid(np.arange(80) * 0.01 - 0.395, np.arange(60) * 0.01 - 0.295)
    n = xs.size
    red = (np.arange(80)[None, :].repeat(60, axis=0).ravel() % 2) == 0  # columns alternate along x
    write_ply(
        tmp_path / "stripes.ply",
        Gaussians(
            means=np.stack([xs.ravel(), ys.ravel(), np.zeros(n)], axis=1).astype(np.float32),
            quats_wxyz=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
            scales=np.tile(np.float32([0.004, 0.006, 0.001]), (n, 1)),
            opacities=np.full(n, 0.95, dtype=np.float32),
            sh=rgb_to_sh0(np.where(red[:, None], [0.95, 0.05, 0.05], [0.05, 0.05, 0.95]))[:, None, :],
        ),
    )
    stage = tmp_path / "twin.usda"
    assert (
        main(["import-splat", str(tmp_path / "stripes.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat"])
        == 0
    )
    port = free_port("127.0.0.1")
    server = viser.ViserServer(host="127.0.0.1", port=port, verbose=False)
    viewer = TwinViewer(server, stage, coarse=300)
    initial = server.initial_camera  # from above, the plane filling the middle of the view
    initial.up, initial.look_at, initial.position = (0.0, 0.0, 1.0), (0.0, 0.0, 0.0), (0.0, -0.25, 0.9)
    initial.fov = np.radians(FOV_DEG)
    _hide_frames(viewer)
    tab = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})  # type: ignore[attr-defined]
    try:
        assert 200 < viewer.first_count < 400 and viewer.model.gaussian_count == n
        tab.add_init_script(_RECORD_FRAMES)
        tab.goto(f"http://127.0.0.1:{port}")
        assert viewer.full_detail.wait(120), "the full sets never followed the coarse level"
        assert viewer.probe is not None  # the browser's render that showed the coarse level drawn
        assert all(len(h.buffer) == n_k for h, n_k in zip(viewer.splat_handles.values(), [n], strict=True))
        _screenshot(tab)  # settled
        frames = np.asarray(tab.evaluate("() => window.__frames"), dtype=np.float32).reshape(-1, *_FRAME_GRID, 3)
    finally:
        tab.close()
        viewer.close()
        server.stop()
    frames /= 255.0
    middle = np.zeros(_FRAME_GRID, dtype=bool)
    middle[10:20, 14:26] = True  # well inside the plane from this camera
    drawn = [k for k, f in enumerate(frames) if (f[middle].max(axis=-1) > 0.3).mean() > 0.9]
    assert drawn, "the plane was never drawn"

    def purple(frame: np.ndarray) -> float:  # share of the middle where red and blue are both strong
        rgb = frame[middle]
        return float(((rgb[:, 0] > 0.2) & (rgb[:, 2] > 0.2) & (np.abs(rgb[:, 0] - rgb[:, 2]) < 0.25)).mean())

    def pure(frame: np.ndarray) -> float:  # share of the middle that is one stripe's colour
        rgb = frame[middle]
        return float((np.abs(rgb[:, 0] - rgb[:, 2]) > 0.3).mean())

    first, last = frames[drawn[0]], frames[-1]
    assert purple(first) > 0.8 and pure(first) < 0.1, (purple(first), pure(first))
    assert pure(last) > 0.6 and purple(last) < 0.3, (purple(last), pure(last))


def test_table_and_robot_are_drawn_where_the_renderer_puts_them(served, page, twin: Path) -> None:  # noqa: ANN001
    _, viewer, _ = served
    _hide_frames(viewer)
    shot = _screenshot(page)
    robot, table = _reference(twin, dict(viewer.joints))
    green = (shot[..., 1] > 0.45) & (shot[..., 0] < 0.45)
    bright = shot.max(axis=-1) > 0.25
    robot_only, table_only = _compared(robot & ~table), _compared(table & ~robot)
    background = _compared(~robot & ~table)
    assert robot_only.sum() > 2000 and table_only.sum() > 5000  # the camera sees both
    assert bright[robot_only].mean() > 0.8
    assert green[table_only].mean() > 0.8
    assert bright[background].mean() < 0.05
    assert green[robot_only].mean() < 0.2


def test_a_joint_slider_moved_in_the_browser_moves_the_robots_pixels(served, page, twin: Path) -> None:  # noqa: ANN001
    _, viewer, _ = served
    before = _screenshot(page)
    robot_before, _ = _reference(twin, dict(viewer.joints))
    slider = page.locator('[role="slider"][aria-valuemin^="-2.96"]').first
    slider.focus()
    page.keyboard.press("Home")  # the slider's lower limit: -2.97 rad about the base
    deadline = time.monotonic() + 20
    while viewer.joints["panda_joint1"] > -1.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert viewer.joints["panda_joint1"] < -1.0, "the slider did not reach the server"
    after = _screenshot(page)
    robot_after, table = _reference(twin, dict(viewer.joints))
    changed = np.abs(after - before).max(axis=-1) > 0.2
    moved = _compared(robot_before ^ robot_after)
    still = _compared(~robot_before & ~robot_after)
    assert changed[moved].mean() > 0.5
    assert changed[still].mean() < 0.03
    bright = after.max(axis=-1) > 0.25
    assert bright[_compared(robot_after & ~table)].mean() > 0.8  # drawn where the renderer puts the new pose


def test_play_plays_the_keyed_trajectory(served, page, twin: Path) -> None:  # noqa: ANN001
    from splattwin.viewer.model import sample_timeline

    _, viewer, _ = served
    viewer.seek(0.0)
    start = _screenshot(page)
    robot_start, _ = _reference(twin, dict(viewer.joints))
    page.get_by_text("Play", exact=True).click()
    deadline = time.monotonic() + 30
    while (viewer.time or 0.0) < 1.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    viewer.play.value = False  # paused here: a click takes the loaded browser seconds, past the 2 s swing's end
    time.sleep(0.5)
    t = float(viewer.time)
    assert t >= 1.0
    expected = sample_timeline(viewer.model.timeline, t)
    assert viewer.joints["panda_joint1"] == pytest.approx(expected["panda_joint1"])
    assert expected["panda_joint1"] == pytest.approx(1.2 * t / 2.0, abs=1e-6)  # the keyed swing, by hand
    shot = _screenshot(page)
    robot, table = _reference(twin, dict(viewer.joints))
    bright = shot.max(axis=-1) > 0.25
    assert bright[_compared(robot & ~table)].mean() > 0.8
    assert (np.abs(shot - start).max(axis=-1) > 0.2)[_compared(robot ^ robot_start)].mean() > 0.5
    import imageio.v3 as iio

    out = os.environ.get("SPLATTWIN_VIEWER_SCREENSHOT")
    if out:  # docs/images/viewer.png is taken here
        iio.imwrite(out, (shot * 255).astype(np.uint8))


def test_a_save_by_another_process_is_shown_without_restart(served, page, twin: Path, tmp_path: Path) -> None:  # noqa: ANN001
    import subprocess
    import sys

    _, viewer, _ = served
    reloads = viewer.reloads
    block = tmp_path / "block.obj"
    block.write_text(
        "v 0.3 0.2 0\nv 0.4 0.2 0\nv 0.4 0.3 0\nv 0.3 0.3 0\n"
        "v 0.3 0.2 0.1\nv 0.4 0.2 0.1\nv 0.4 0.3 0.1\nv 0.3 0.3 0.1\n"
        "f 1 3 2\nf 1 4 3\nf 5 6 7\nf 5 7 8\nf 1 2 6\nf 1 6 5\nf 2 3 7\nf 2 7 6\nf 3 4 8\nf 3 8 7\nf 4 1 5\nf 4 5 8\n"
    )
    command = [sys.executable, "-m", "splattwin", "import-mesh", str(block), "--stage", str(twin),
               "--prim", "/World/Objects/Block", "--dynamic", "--mass", "0.3"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, env={**os.environ})
    deadline = time.monotonic() + 30
    while viewer.reloads == reloads and time.monotonic() < deadline:
        time.sleep(0.1)
    assert viewer.reloads > reloads
    bodies = {b.prim: b for b in viewer.model.bodies}
    assert bodies["/World/Objects/Block"].mass == pytest.approx(0.3)
    deadline = time.monotonic() + 20
    while "/World/Objects/Block" not in page.content() and time.monotonic() < deadline:  # the redrawn panel
        time.sleep(0.2)
    assert "/World/Objects/Block" in page.content()


@pytest.mark.skipif(
    os.environ.get("SPLATTWIN_BROWSER_1M") != "1", reason="minutes in software WebGL: SPLATTWIN_BROWSER_1M=1 runs it"
)
def test_a_million_gaussian_scene_splat_is_drawn(browser: object, tmp_path: Path) -> None:  # noqa: ANN001
    """1M Gaussians in one scene splat (a 2 x 2 m floor, red for x < 0, blue for x > 0) load in the browser and
    are drawn from the viewer's own initial view: each pixel whose ray meets the floor's red (blue) half, worked
    out here from the camera, is red (blue); rays that miss the floor are dark."""
    from splattwin.render.camera import look_at_camera
    from splattwin.viewer.model import framing_view
    from splattwin.viewer.server import TwinViewer, free_port

    count = 1_000_000
    rng = np.random.default_rng(3)
    means = np.c_[rng.uniform(-1, 1, (count, 2)), np.zeros(count)].astype(np.float32)
    colors = np.where(means[:, :1] < 0, [0.9, 0.1, 0.1], [0.1, 0.2, 0.9])
    write_ply(
        tmp_path / "floor.ply",
        Gaussians(
            means=means,
            quats_wxyz=np.tile(np.float32([1, 0, 0, 0]), (count, 1)),
            scales=np.tile(np.float32([0.006, 0.006, 0.001]), (count, 1)),
            opacities=np.full(count, 0.95, dtype=np.float32),
            sh=rgb_to_sh0(colors)[:, None, :].astype(np.float32),
        ),
    )
    stage = tmp_path / "twin.usda"
    assert (
        main(["import-splat", str(tmp_path / "floor.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat"]) == 0
    )
    port = free_port("127.0.0.1")
    server = viser.ViserServer(host="127.0.0.1", port=port, verbose=False)
    viewer = TwinViewer(server, stage)
    width, height = WIDTH, HEIGHT
    tab = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    try:
        assert viewer.model.gaussian_count == count
        _hide_frames(viewer)
        tab.goto(f"http://127.0.0.1:{port}")
        assert viewer.full_detail.wait(600), "the full set never followed the coarse level"
        shot = _screenshot(tab, settle_s=5.0, within_s=240.0)
    finally:
        tab.close()
        viewer.close()
        server.stop()
    eye, target = framing_view(means, server.initial_camera.fov)
    camera = look_at_camera(
        eye, target, width=width, height=height, vertical_fov_deg=np.degrees(server.initial_camera.fov)
    )
    v, u = np.mgrid[0:height, 0:width] + 0.5
    rays = np.stack([(u - camera.K[0, 2]) / camera.K[0, 0], (v - camera.K[1, 2]) / camera.K[1, 1], np.ones_like(u)], -1)
    rays = rays @ camera.viewmat[:3, :3]  # camera -> world directions (the rotation's inverse is its transpose)
    depth = -eye[2] / rays[..., 2]  # to the plane z = 0
    hit = eye[:2] + depth[..., None] * rays[..., :2]
    on_floor = (depth > 0) & (np.abs(hit) < 0.97).all(axis=-1)
    off_floor = ~((depth > 0) & (np.abs(hit) < 1.03).all(axis=-1))
    red_half, blue_half = on_floor & (hit[..., 0] < -0.03), on_floor & (hit[..., 0] > 0.03)
    compared = np.ones((height, width), dtype=bool)
    compared[:, width - PANEL_X :] = False  # viser's panel and notices
    compared[:160, :330] = False
    red = (shot[..., 0] > shot[..., 2] + 0.3) & (shot[..., 0] > 0.4)
    blue = (shot[..., 2] > shot[..., 0] + 0.3) & (shot[..., 2] > 0.4)
    assert (red_half & compared).sum() > 5000 and (blue_half & compared).sum() > 5000  # the view sees both halves
    assert red[red_half & compared].mean() > 0.9
    assert blue[blue_half & compared].mean() > 0.9
    assert (shot.max(axis=-1) > 0.3)[off_floor & compared].mean() < 0.05
