"""Kit-free controllers behind the extension: panel actions return messages and leave the stage unchanged on
error; training runs as a subprocess whose progress is parsed; the overlay renders on a worker, never blocking
the caller and dropping stale frames."""

from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pxr")

from conftest import file_bytes  # noqa: E402

from splattwin.app.overlay import OverlayController, OverlayRequest, poses_at_time  # noqa: E402
from splattwin.app.panel import PanelController  # noqa: E402
from splattwin.app.training import TrainingProgress, TrainingRun, parse_progress_line, training_command  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TABLETOP = REPO / "usd_assets" / "tabletop"
# From README / capture.json: two points 1.2 m apart in the y-up reconstruction.
P1, P2 = (3.122894, -0.049246, 3.391272), (1.482622, 0.045655, 1.053802)


def test_panel_imports_and_frame_unification(tmp_path: Path, box_obj: Path) -> None:
    panel = PanelController(stage=tmp_path / "twin.usda")
    result = panel.import_splat(TABLETOP / "tabletop.ply")
    assert result.ok and "Gaussians into /World/Scene/Splat" in result.text

    before = file_bytes(tmp_path)
    for bad in (
        panel.import_splat(tmp_path / "missing.ply", "/World/Other"),
        panel.import_mesh(tmp_path / "missing.obj", "/World/M"),
        panel.import_mesh(box_obj, "/World/Scene/Splat"),  # the prim exists
        panel.unify_frame(1.2),  # no points picked yet
        panel.import_robot("pybullet_data:no_such/robot.urdf"),
    ):
        assert not bad.ok and len(bad.messages) == 1 and bad.messages[0].level == "error", bad.text
        assert file_bytes(tmp_path) == before
    assert "pick two points" in panel.unify_frame(1.2).text
    assert not panel.pick_scale_point((0.0, float("nan"), 0.0)).ok

    panel.pick_scale_point((9.0, 9.0, 9.0))  # a wrong pick, pushed out by the next two
    panel.pick_scale_point(P1)
    panel.pick_scale_point(P2)
    panel.pick_table("auto")
    result = panel.unify_frame(1.2, up_axis="y")
    assert result.ok, result.text
    expected_scale = 1.2 / float(np.linalg.norm(np.subtract(P1, P2)))
    assert result.value.applied.scale == pytest.approx(expected_scale, rel=1e-9)


def test_identification_reports_a_missing_object_and_cancels_without_writing(tmp_path: Path) -> None:
    panel = PanelController(stage=tmp_path / "twin.usda")
    # The log's own metric mesh: the reconstruction's block.obj in an unaligned twin is refused as another scale.
    logs = [TABLETOP / "pushes" / "push_0"]
    assert panel.import_mesh(logs[0] / "object.obj", "/World/Objects/Block", dynamic=True).ok
    before = file_bytes(tmp_path)
    missing = panel.identify_mass("/World/Objects/Nope", logs, tmp_path / "r.json")
    assert not missing.ok and "/World/Objects/Nope" in missing.text
    cancel = threading.Event()
    cancel.set()
    calls = []
    cancelled = panel.identify_mass(
        "/World/Objects/Block", logs, tmp_path / "r.json", progress=calls.append, cancel=cancel
    )
    assert not cancelled.ok and "cancelled" in cancelled.text and calls == []
    assert file_bytes(tmp_path) == before  # no report, no physics layer change
    mass = panel.read_mass("/World/Objects/Block")
    assert mass.ok and mass.value.source == "prior"


FAKE_TRAINER = textwrap.dedent(
    """
    import sys, time
    print("argv:", " ".join(sys.argv[1:]), flush=True)
    if "sleep" in sys.argv:
        time.sleep(60)
    for i in range(1, 4):
        print(f"Learning iteration {i}/3", flush=True)
        print(f"  Mean reward: {i * 1.5}", flush=True)
    print("done", flush=True)
    """
)


def test_training_runs_as_a_subprocess_and_its_progress_is_parsed(tmp_path: Path) -> None:
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAINER)
    argv = training_command("SplatTwin-Push-v0", overrides={"max_iterations": 3}, command=[sys.executable, str(script)])
    assert argv[2:] == ["train", "task=SplatTwin-Push-v0", "runtime=embedded", "max_iterations=3"]
    final = TrainingRun(argv).wait(timeout_s=60)
    assert final.lines[0] == "argv: train task=SplatTwin-Push-v0 runtime=embedded max_iterations=3"
    assert (final.iteration, final.total, final.reward, final.fraction) == (3, 3, 4.5, 1.0)
    assert not final.running and final.returncode == 0 and final.lines[-1] == "done"

    run = TrainingRun([sys.executable, str(script), "sleep"])
    assert run.status().running
    assert run.stop(timeout_s=10) is not None and not run.status().running


def test_progress_line_formats() -> None:
    progress = TrainingProgress()
    assert parse_progress_line("iteration: 7 / 20  reward=-0.25", progress)
    assert (progress.iteration, progress.total, progress.reward) == (7, 20, -0.25)
    assert not parse_progress_line("loading task", progress)
    assert progress.fraction == pytest.approx(0.35)


def test_overlay_never_blocks_and_drops_stale_frames(tmp_path: Path) -> None:
    gate = threading.Event()
    rendered = []

    def slow_render(request: OverlayRequest) -> np.ndarray:
        gate.wait(timeout=30)
        rendered.append(request.frame)
        return np.full((2, 2, 3), request.frame, dtype=np.float32)

    overlay = OverlayController(tmp_path / "unused.usda", render=slow_render)
    try:
        started = [overlay.submit(OverlayRequest(camera=None, poses={}, frame=i)) for i in range(5)]
        # All five returned while the first render was still blocked: the caller never waits for a render.
        assert started == [True, False, False, False, False] and overlay.latest() is None
        gate.set()
        assert overlay.idle()
        assert rendered == [0, 4] and overlay.dropped == 3  # frames 1-3 went stale while 0 rendered
        assert overlay.latest().frame == 4 and overlay.latest().image[0, 0, 0] == 4
    finally:
        gate.set()
        overlay.close()


def test_overlay_composites_the_splats_with_depth(tmp_path: Path) -> None:
    from splattwin.render import look_at_camera

    panel = PanelController(stage=tmp_path / "twin.usda")
    assert panel.import_splat(TABLETOP / "tabletop.ply", up_axis="y").ok
    camera = look_at_camera((0.0, 6.0, 0.0), (1.5, 0.0, 2.0), width=40, height=30, vertical_fov_deg=60.0)
    sim_rgb = np.zeros((30, 40, 3), dtype=np.float32)
    sim_rgb[..., 2] = 1.0
    sim_depth = np.full((30, 40), np.inf, dtype=np.float32)
    sim_depth[:, :20] = 1e-3  # a simulated surface right in front of the camera on the left half
    overlay = OverlayController(tmp_path / "twin.usda")
    try:
        overlay.submit(OverlayRequest(camera=camera, poses={}, sim_rgb=sim_rgb, sim_depth=sim_depth))
        assert overlay.idle(timeout_s=120) and not overlay.errors
        image = overlay.latest().image
    finally:
        overlay.close()
    assert image.shape == (30, 40, 3)
    np.testing.assert_array_equal(image[:, :20], sim_rgb[:, :20])  # nearer sim geometry hides the splats
    assert np.abs(image[:, 20:] - sim_rgb[:, 20:]).max() > 0.3  # the splats show where the sim is empty


def test_poses_at_time_follow_the_time_samples(tmp_path: Path) -> None:
    pybullet_data = pytest.importorskip("pybullet_data")
    from splattwin.io.trajectory import Trajectory, write_trajectory
    from splattwin.scene import robot_link_overrides
    from splattwin.usd import open_twin

    panel = PanelController(stage=tmp_path / "twin.usda")
    assert panel.import_robot(f"{pybullet_data.getDataPath()}/franka_panda/panda.urdf").ok
    names = [f"panda_joint{i}" for i in range(1, 8)]
    q = np.zeros((3, 7))
    q[:, 3] = -1.5
    q[:, 0] = [0.0, 0.4, 0.8]
    write_trajectory(tmp_path / "t.csv", Trajectory(times=np.array([0.0, 0.5, 1.0]), positions=q, joint_names=names))
    assert panel.import_trajectory(tmp_path / "t.csv", "/World/Robot").ok
    stage = open_twin(tmp_path / "twin.usda").stage
    rate = stage.GetTimeCodesPerSecond()
    at_half = poses_at_time(stage, 0.75 * rate)  # halfway between samples 1 and 2
    expected = robot_link_overrides(stage, dict(zip(names, 0.5 * (q[1] + q[2]), strict=True)))
    assert set(at_half) == set(expected)
    for path, pose in expected.items():
        np.testing.assert_allclose(at_half[path], pose, atol=1e-9)


def test_undo_snapshot_restores_every_layer(tmp_path: Path, box_obj: Path) -> None:
    from pxr import Usd

    from splattwin.app.undo import restore_twin, snapshot_twin

    panel = PanelController(stage=tmp_path / "twin.usda")
    assert snapshot_twin(tmp_path / "twin.usda") is None
    assert panel.import_splat(TABLETOP / "tabletop.ply").ok
    before = snapshot_twin(tmp_path / "twin.usda")
    assert panel.import_mesh(box_obj, "/World/Box", dynamic=True).ok
    assert Usd.Stage.Open(str(tmp_path / "twin.usda")).GetPrimAtPath("/World/Box")
    assert restore_twin(tmp_path / "twin.usda", before) == ["objects"]
    assert not Usd.Stage.Open(str(tmp_path / "twin.usda")).GetPrimAtPath("/World/Box")  # undone, on disk
    assert snapshot_twin(tmp_path / "twin.usda") == before
    assert panel.import_mesh(box_obj, "/World/Box", dynamic=True).ok  # redo works on the restored twin


def test_samples_edited_past_a_joint_limit_are_a_panel_warning(tmp_path: Path) -> None:
    pybullet_data = pytest.importorskip("pybullet_data")
    from pxr import Usd

    panel = PanelController(stage=tmp_path / "twin.usda")
    assert panel.import_robot(f"{pybullet_data.getDataPath()}/franka_panda/panda.urdf").ok
    assert panel.import_trajectory(TABLETOP / "panda_wave.csv", "/World/Robot").ok
    assert panel.check_trajectory("/World/Robot").messages[0].level == "info"
    stage = Usd.Stage.Open(str(tmp_path / "twin.usda"))
    layer = next(layer for layer in stage.GetLayerStack() if layer.identifier.endswith("trajectories.usda"))
    with Usd.EditContext(stage, layer):  # a key dragged above joint4's upper limit (-0.0698 rad in panda.urdf)
        stage.GetPrimAtPath("/World/Robot").GetAttribute("splattwin:joint:panda_joint4").Set(0.2, 10.0)
    layer.Save()
    before = file_bytes(tmp_path)
    result = panel.check_trajectory("/World/Robot")
    assert result.ok and any(
        m.level == "warning" and "panda_joint4 = 0.2 rad at t=1 s" in m.text for m in result.messages
    )
    assert file_bytes(tmp_path) == before
    assert not panel.check_trajectory("/World/Nope").ok  # no robot there: an error line, no exception
