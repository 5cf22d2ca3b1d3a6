"""``splattwin view``'s bad input and pure parts, without a browser: a port in use is one line naming another to
try, a missing stage one line, a stage that is not a twin is still read (as ``inspect`` does), and the pose maths
(covariances, node transforms, timeline sampling) against hand-computed values."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("viser")
pytest.importorskip("pxr")

from splattwin.cli import main  # noqa: E402
from splattwin.viewer.model import Timeline, covariances, node_poses, read_model, sample_timeline  # noqa: E402


def test_a_port_in_use_is_one_line_naming_another(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from pxr import Usd

    stage = tmp_path / "plain.usda"
    created = Usd.Stage.CreateNew(str(stage))
    created.GetRootLayer().Save()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["view", str(stage), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --port: {port} is in use on 127.0.0.1; try another (e.g. --port {port + 1})"]


def test_a_missing_stage_is_one_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["view", "--stage", str(tmp_path / "nope.usda")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope.usda'}: no such USD file"


def test_a_negative_coarse_level_is_one_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["view", str(tmp_path / "twin.usda"), "--coarse", "-1"]) == 2
    assert capsys.readouterr().err.strip() == "error: --coarse: must be 0 (off) or a number of Gaussians, got -1"


def test_a_stage_that_is_not_a_twin_is_shown_as_far_as_it_goes(tmp_path: Path) -> None:
    from pxr import Gf, Usd, UsdGeom

    path = tmp_path / "plain.usda"
    stage = Usd.Stage.CreateNew(str(path))
    cube = UsdGeom.Mesh.Define(stage, "/Box")
    cube.GetPointsAttr().Set([Gf.Vec3f(0, 0, 0), Gf.Vec3f(1, 0, 0), Gf.Vec3f(0, 1, 0)])
    cube.GetFaceVertexCountsAttr().Set([3])
    cube.GetFaceVertexIndicesAttr().Set([0, 1, 2])
    stage.GetRootLayer().Save()
    model = read_model(path)
    assert not model.twin and model.splats == []
    assert [m.prim for m in model.meshes] == ["/Box"]
    assert any("not a SplatTwin twin" in p for p in model.problems)
    assert any("no Gaussian prims" in p for p in model.problems)


def test_covariance_of_a_rotated_gaussian_by_hand() -> None:
    half = np.sqrt(0.5)  # 90 degrees about z: x and y swap
    cov = covariances(np.array([[half, 0, 0, half]]), np.array([[0.1, 0.2, 0.3]]))[0]
    np.testing.assert_allclose(cov, np.diag([0.04, 0.01, 0.09]), atol=1e-7)


def test_only_nodes_following_a_posed_prim_move_and_by_posed_times_inverse_rest() -> None:
    rest = {"/R/link": np.eye(4)}
    rest["/R/link"][:3, 3] = (1.0, 0.0, 0.0)
    posed = np.eye(4)
    posed[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # the link turned 90 degrees about z at the origin
    posed[:3, 3] = (0.0, 1.0, 0.0)
    moves = node_poses({"a": "/R/link", "b": None}, rest, {"/R/link": posed})
    assert set(moves) == {"a"}
    point_at_rest = np.array([1.5, 0.0, 0.0, 1.0])  # 0.5 m along the link's x
    np.testing.assert_allclose(moves["a"] @ point_at_rest, [0.0, 1.5, 0.0, 1.0], atol=1e-12)


def test_timeline_interpolates_and_holds_at_the_ends() -> None:
    timeline = Timeline(0.0, 2.0, 10.0, joints={"/R": (["j"], np.array([0.0, 2.0]), np.array([[0.0], [1.0]]))})
    assert sample_timeline(timeline, 0.5) == {"j": pytest.approx(0.25)}
    assert sample_timeline(timeline, 5.0) == {"j": pytest.approx(1.0)}


def _table_and_panda(folder: Path) -> Path:
    """A twin made here: a table of Gaussians and the Panda at the origin (the browser test's twin, without keys)."""
    pybullet_data = pytest.importorskip("pybullet_data")
    from splattwin.gaussians import Gaussians, rgb_to_sh0
    from splattwin.io.ply import write_ply

    xs, ys = np.meshgrid(np.linspace(-0.15, 0.85, 30), np.linspace(-0.4, 0.4, 24))
    n = xs.size
    write_ply(
        folder / "table.ply",
        Gaussians(
            means=np.stack([xs.ravel(), ys.ravel(), np.zeros(n)], axis=1).astype(np.float32),
            quats_wxyz=np.tile([1.0, 0, 0, 0], (n, 1)).astype(np.float32),
            scales=np.full((n, 3), 0.01, dtype=np.float32),
            opacities=np.full(n, 0.9, dtype=np.float32),
            sh=rgb_to_sh0(np.tile([0.2, 0.8, 0.2], (n, 1)))[:, None, :],
        ),
    )
    stage = folder / "twin.usda"
    panda = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    assert main(["import-splat", str(folder / "table.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat"]) == 0
    assert main(["import-robot", str(panda), "--stage", str(stage), "--prim", "/World/Robot"]) == 0
    return stage


def test_a_joint_slider_sends_only_the_robots_moving_link_poses(tmp_path: Path) -> None:
    """Moving joint 1 sends one rigid pose per robot link node beyond joint 1 (about the base's z axis, by hand),
    and nothing for the scene: no Gaussians are re-sent, the scene's node is not touched."""
    import viser

    from splattwin.viewer.server import TwinViewer, free_port

    stage = _table_and_panda(tmp_path)
    server = viser.ViserServer(host="127.0.0.1", port=free_port("127.0.0.1"), verbose=False)
    viewer = TwinViewer(server, stage)
    try:
        sent: list[object] = []
        interface = server.scene._websock_interface  # every scene message goes through here
        original = interface.queue_message
        interface.queue_message = lambda message: (sent.append(message), original(message))[1]
        viewer.sliders["panda_joint1"].value = 0.7  # the slider's callback, as a browser's move runs it
        assert viewer.joints["panda_joint1"] == pytest.approx(0.7)
    finally:
        viewer.close()
        server.stop()
    scene_messages = [m for m in sent if hasattr(m, "name")]
    assert not [m for m in sent if type(m).__name__ == "GaussianSplatsMessage"]  # no buffer re-sent
    touched = {m.name for m in scene_messages}
    robot = {name for name in viewer.splat_handles if name.startswith("/gaussians/World/Robot/")}
    assert "/gaussians/World/Scene/Splat" not in touched
    assert touched == robot - {"/gaussians/World/Robot/panda_link0/Gaussians"}  # the base does not move
    assert {type(m).__name__ for m in scene_messages} <= {"SetOrientationMessage", "SetPositionMessage"}
    half = 0.35  # 0.7 rad about +z through the base at the origin: wxyz (cos 0.35, 0, 0, sin 0.35), no shift
    for m in scene_messages:
        if type(m).__name__ == "SetOrientationMessage":
            np.testing.assert_allclose(m.wxyz, [np.cos(half), 0, 0, np.sin(half)], atol=1e-9)
        else:
            np.testing.assert_allclose(m.position, [0, 0, 0], atol=1e-9)


def test_the_server_needs_no_display_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    """``splattwin view`` in a process with no DISPLAY / WAYLAND_DISPLAY serves the page; SIGINT ends it with the
    interrupted line and exit code 130."""
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    from splattwin.viewer.server import free_port

    stage = _table_and_panda(tmp_path)
    port = free_port("127.0.0.1")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY")}
    process = subprocess.Popen(
        [sys.executable, "-m", "splattwin", "view", str(stage), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        lines = [process.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
        assert lines[0].strip() == f"viewing {stage} at http://127.0.0.1:{port}; Ctrl-C stops"
        assert lines[1].startswith("drawn: 44,720 Gaussians in 12 splat nodes")  # the table, 11 links
        with urllib.request.urlopen(f"http://127.0.0.1:{port}", timeout=30) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == "interrupted: viewer stopped (it writes nothing)"


def test_play_runs_in_real_time_and_follows_a_moved_slider(tmp_path: Path) -> None:
    """Play advances a keyed 300 s timeline by the wall-clock time (2 s of timeline within 30 s of wall clock,
    however slow the machine), a slider moved while it plays (as a browser's message: the update callbacks with a
    client) is where playback goes on from, and pausing stops it."""
    import time

    import viser
    from viser._gui_handles import GuiEvent

    from splattwin.io.trajectory import Trajectory, write_trajectory
    from splattwin.viewer.server import TwinViewer, free_port

    stage = _table_and_panda(tmp_path)
    t = np.linspace(0.0, 300.0, 301)
    positions = np.zeros((len(t), 7))
    positions[:, 0] = 0.004 * t
    arm = [f"panda_joint{i}" for i in range(1, 8)]
    write_trajectory(tmp_path / "swing.csv", Trajectory(times=t, positions=positions, joint_names=arm))
    code = main(["trajectory", "import", str(tmp_path / "swing.csv"), "--stage", str(stage), "--robot", "/World/Robot"])
    assert code == 0
    server = viser.ViserServer(host="127.0.0.1", port=free_port("127.0.0.1"), verbose=False)
    viewer = TwinViewer(server, stage)
    slider = viewer.timeline_slider
    assert slider.step <= 300.0 / 500.0  # fine enough to scrub (one time code is a second here)

    def from_browser(value: float) -> None:  # what viser does with a client's GUI update message
        slider._impl.value = value
        for callback in list(slider._impl.update_cb):
            callback(GuiEvent(client=object(), client_id=1, target=slider))

    try:
        started = time.monotonic()
        viewer.play.value = True
        deadline = started + 30.0
        while (viewer.time or 0.0) < 2.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        reached, wall = float(viewer.time), time.monotonic() - started
        from_browser(200.0)
        time.sleep(0.5)
        moved = float(viewer.time)
        viewer.play.value = False
        time.sleep(0.3)
        paused = float(viewer.time)
        time.sleep(0.5)
        still = float(viewer.time)
    finally:
        viewer.close()
        server.stop()
    assert 2.0 <= reached <= wall + 0.2  # never ahead of the wall clock
    assert 200.0 < moved < 200.0 + 0.5 + 1.0
    assert still == paused
    assert viewer.joints["panda_joint1"] == pytest.approx(0.004 * still, abs=1e-6)  # the keyed swing, by hand
