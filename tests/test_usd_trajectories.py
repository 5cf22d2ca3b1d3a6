"""Trajectories as USD time samples: file -> stage -> file exactly, edits made in the stage come back, limit /
velocity / gap problems are reported, bad input is one line with exit 2 and the stage byte-identical."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pybullet_data = pytest.importorskip("pybullet_data")
pytest.importorskip("pxr")

from conftest import file_bytes  # noqa: E402

from splattwin.cli import main  # noqa: E402
from splattwin.io.trajectory import Trajectory, read_trajectory, write_trajectory  # noqa: E402

PANDA = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
ARM = [f"panda_joint{i}" for i in range(1, 8)]
# From panda.urdf, read by hand: joint1 limits and velocity limit, joint4 upper limit.
JOINT1_LIMIT, JOINT1_VELOCITY, JOINT4_UPPER = 2.9671, 2.1750, -0.0698


@pytest.fixture(scope="module")
def panda_twin_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("panda")
    assert main(["import-robot", str(PANDA), "--stage", str(folder / "twin.usda"), "--prim", "/World/Robot"]) == 0
    return folder


@pytest.fixture
def twin(panda_twin_template: Path, tmp_path: Path) -> Path:
    shutil.copytree(panda_twin_template, tmp_path / "t")
    return tmp_path / "t" / "twin.usda"


def _safe_motion(count: int, rate: float = 100.0) -> Trajectory:
    """Slow motion inside every arm joint's limits (joint4 stays in [-3.07, -0.07], joint6 in [-0.02, 3.75])."""
    t = np.arange(count) / rate
    centre = np.array([0.0, 0.0, 0.0, -1.5, 0.0, 1.8, 0.0])
    q = centre + 0.2 * np.sin(0.5 * t[:, None] + np.arange(7))
    return Trajectory(times=t, positions=q, joint_names=list(ARM))


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_10000_samples_round_trip_exactly(twin: Path, tmp_path: Path, suffix: str) -> None:
    source = _safe_motion(10_000)
    write_trajectory(tmp_path / f"in{suffix}", source)
    assert (
        main(["trajectory", "import", str(tmp_path / f"in{suffix}"), "--stage", str(twin), "--robot", "/World/Robot"])
        == 0
    )
    assert (
        main(["trajectory", "export", "--stage", str(twin), "--robot", "/World/Robot", str(tmp_path / f"out{suffix}")])
        == 0
    )
    back = read_trajectory(tmp_path / f"out{suffix}")
    assert back.joint_names == ARM
    assert np.array_equal(back.times, source.times)
    assert np.array_equal(back.positions, source.positions)

    from pxr import Usd

    stage = Usd.Stage.Open(str(twin))
    assert stage.GetTimeCodesPerSecond() == 100.0  # the file's rate: sample k sits on frame k of the timeline
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (0.0, 9999.0)
    attribute = stage.GetPrimAtPath("/World/Robot").GetAttribute("splattwin:joint:panda_joint3")
    assert attribute.GetTimeSamples()[1234] == 1234.0
    assert attribute.Get(1234) == source.positions[1234, 2]
    layer = Path(str(twin).replace("twin.usda", "twin_layers/trajectories.usda")).read_text()
    assert "splattwin:joint:panda_joint3.timeSamples" in layer  # in the trajectories layer, not the root


def test_edited_samples_read_back(twin: Path, tmp_path: Path) -> None:
    source = _safe_motion(50, rate=10.0)
    write_trajectory(tmp_path / "in.csv", source)
    assert (
        main(["trajectory", "import", str(tmp_path / "in.csv"), "--stage", str(twin), "--robot", "/World/Robot"]) == 0
    )
    from pxr import Usd

    # A person edits keys in Kit with the trajectories layer as the authoring layer (docs/extension.md says why).
    stage = Usd.Stage.Open(str(twin))
    layer = next(layer for layer in stage.GetLayerStack() if layer.identifier.endswith("trajectories.usda"))
    with Usd.EditContext(stage, layer):
        robot = stage.GetPrimAtPath("/World/Robot")
        robot.GetAttribute("splattwin:joint:panda_joint2").Set(0.5, 20.0)  # frame 20 = t 2.0 s
        robot.GetAttribute("splattwin:joint:panda_joint5").Set(0.25, 20.5)  # a new key between two samples
    layer.Save()

    assert main(["trajectory", "export", "--stage", str(twin), "--robot", "/World/Robot", str(tmp_path / "o.csv")]) == 0
    back = read_trajectory(tmp_path / "o.csv")
    assert len(back.times) == 51 and back.times[21] == 2.05
    row20 = source.positions[20].copy()
    row20[1] = 0.5
    assert np.array_equal(back.positions[20], row20)
    assert back.positions[21, 4] == 0.25
    # The other joints at the new key: USD's linear interpolation, halfway between samples 20 and 21.
    halfway = 0.5 * (source.positions[20] + source.positions[21])
    np.testing.assert_allclose(back.positions[21, [0, 2, 3, 5, 6]], halfway[[0, 2, 3, 5, 6]], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(back.positions[22:], source.positions[21:])


def test_resampling_to_a_control_rate_is_linear(twin: Path, tmp_path: Path) -> None:
    t = np.array([0.0, 1.0, 3.0])
    q = np.zeros((3, 7))
    q[:, 0] = [0.0, 1.0, -1.0]
    write_trajectory(tmp_path / "in.csv", Trajectory(times=t, positions=q, joint_names=list(ARM)))
    args = ["--stage", str(twin), "--robot", "/World/Robot"]
    assert main(["trajectory", "import", str(tmp_path / "in.csv"), *args]) == 0
    assert main(["trajectory", "export", *args, str(tmp_path / "o.csv"), "--rate", "2"]) == 0
    back = read_trajectory(tmp_path / "o.csv")
    np.testing.assert_array_equal(back.times, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    np.testing.assert_allclose(back.positions[:, 0], [0.0, 0.5, 1.0, 0.5, 0.0, -0.5, -1.0], atol=1e-15)


def test_limit_velocity_and_gap_violations_are_reported(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    args = ["--stage", str(twin), "--robot", "/World/Robot"]
    safe = _safe_motion(100)
    write_trajectory(tmp_path / "safe.csv", safe)
    assert main(["trajectory", "import", str(tmp_path / "safe.csv"), *args]) == 0
    capsys.readouterr()
    assert main(["trajectory", "check", *args]) == 0

    bad = _safe_motion(100)
    bad.positions[40, 3] = JOINT4_UPPER + 0.1  # joint4 past its upper limit
    bad.positions[70:, 0] += 0.03  # joint1 steps 0.03 rad in 0.01 s: 3 rad/s > 2.175 rad/s
    bad.times[90:] += 0.5  # half a second without samples
    write_trajectory(tmp_path / "bad.csv", bad)
    assert main(["trajectory", "import", str(tmp_path / "bad.csv"), *args]) == 0
    capsys.readouterr()
    assert main(["trajectory", "check", *args]) == 1
    out = capsys.readouterr().out
    assert "limit: panda_joint4" in out and "t=0.4 s" in out
    assert "velocity: panda_joint1" in out and f"{JOINT1_VELOCITY:.6g}" in out
    assert "gap: gap of 0.51 s after t=0.89 s" in out
    flagged = sorted(line.split(" moves")[0].split(" =")[0].split(" of")[0] for line in out.splitlines())
    # The joint4 spike is also too fast both ways; nothing else is flagged.
    assert flagged == ["gap: gap", "limit: panda_joint4", "velocity: panda_joint1", "velocity: panda_joint4"]


def _run_bad(capsys, argv: list[str], folder: Path) -> str:  # noqa: ANN001
    before = file_bytes(folder)
    assert main(argv) == 2
    assert file_bytes(folder) == before
    return _error_line(capsys)


def test_bad_input_exit_2_and_leave_the_stage_identical(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    args = ["--stage", str(twin), "--robot", "/World/Robot"]
    folder = twin.parent
    t = np.arange(5) / 10.0
    (tmp_path / "unknown.csv").write_text("time,panda_joint1,elbow\n" + "".join(f"{v},0,0\n" for v in t))
    line = _run_bad(capsys, ["trajectory", "import", str(tmp_path / "unknown.csv"), *args], folder)
    assert "unknown.csv" in line and "elbow" in line
    (tmp_path / "back.csv").write_text("time,panda_joint1\n0,0\n0.2,0\n0.1,0\n")
    line = _run_bad(capsys, ["trajectory", "import", str(tmp_path / "back.csv"), *args], folder)
    assert "back.csv" in line and "increase" in line
    (tmp_path / "nan.csv").write_text("time,panda_joint1\n0,0\n0.1,nan\n")
    line = _run_bad(capsys, ["trajectory", "import", str(tmp_path / "nan.csv"), *args], folder)
    assert "nan.csv" in line and "NaN" in line
    write_trajectory(tmp_path / "ok.csv", _safe_motion(5))
    line = _run_bad(
        capsys,
        ["trajectory", "import", str(tmp_path / "ok.csv"), "--stage", str(twin), "--robot", "/World/Nope"],
        folder,
    )
    assert "no robot at /World/Nope" in line and "/World/Robot" in line
    line = _run_bad(capsys, ["trajectory", "import", str(tmp_path / "ok.csv"), *args, "--rate", "-3"], folder)
    assert "--rate" in line
    line = _run_bad(capsys, ["trajectory", "check", *args], folder)
    assert "no time-sampled joint values" in line
    line = _run_bad(capsys, ["trajectory", "export", *args, str(tmp_path / "out.txt")], folder)
    assert "no time-sampled" in line and not (tmp_path / "out.txt").exists()


def test_a_stage_without_a_robot_is_refused(tmp_path: Path, box_obj: Path, capsys) -> None:  # noqa: ANN001
    assert main(["import-mesh", str(box_obj), "--stage", str(tmp_path / "s" / "twin.usda"), "--prim", "/World/B"]) == 0
    capsys.readouterr()
    write_trajectory(tmp_path / "ok.csv", _safe_motion(5))
    argv = ["trajectory", "import", str(tmp_path / "ok.csv"), "--stage", str(tmp_path / "s" / "twin.usda")]
    line = _run_bad(capsys, [*argv, "--robot", "/World/Robot"], tmp_path / "s")
    assert "has no robot" in line


def test_object_poses_round_trip_in_the_trajectories_layer(tmp_path: Path, box_obj: Path) -> None:
    from splattwin.robot.trajectories import read_object_poses, write_object_poses
    from splattwin.usd import edit_twin

    stage_path = tmp_path / "twin.usda"
    assert main(["import-mesh", str(box_obj), "--stage", str(stage_path), "--prim", "/World/Box", "--dynamic"]) == 0
    objects_before = (tmp_path / "twin_layers" / "objects.usdc").read_bytes()
    times = np.arange(20) / 30.0
    positions = np.stack([times, 2 * times, np.full(20, 0.025)], axis=1)
    angles = times
    quats = np.stack([np.cos(angles / 2), 0 * angles, 0 * angles, np.sin(angles / 2)], axis=1)
    with edit_twin(stage_path) as twin_stage:
        write_object_poses(twin_stage, "/World/Box", times, positions, quats)
    assert (tmp_path / "twin_layers" / "objects.usdc").read_bytes() == objects_before
    from splattwin.usd import open_twin

    back_t, back_p, back_q = read_object_poses(open_twin(stage_path).stage, "/World/Box")
    assert np.array_equal(back_t, times)
    np.testing.assert_array_equal(back_p, positions)
    np.testing.assert_allclose(back_q, quats, atol=1e-7)  # the orient op is a float quaternion


def test_render_trajectory_stage_renders_the_time_samples(twin: Path, tmp_path: Path) -> None:
    """``render --trajectory stage`` gives the same frames as rendering the file that was imported."""
    q = np.zeros((2, 7))
    q[:, 3] = -1.5
    q[1, 0] = 1.0  # the arm swings about its base joint
    write_trajectory(tmp_path / "in.csv", Trajectory(times=np.array([0.0, 0.5]), positions=q, joint_names=list(ARM)))
    assert (
        main(["trajectory", "import", str(tmp_path / "in.csv"), "--stage", str(twin), "--robot", "/World/Robot"]) == 0
    )
    view = ["--stage", str(twin), "--view", "1.5,-1.5,1", "0,0,0.4", "--size", "48x36", "--backend", "cpu"]
    assert main(["render", *view, "--trajectory", "stage", "--out", str(tmp_path / "s.mp4")]) == 0
    assert main(["render", *view, "--trajectory", str(tmp_path / "in.csv"), "--out", str(tmp_path / "f.mp4")]) == 0
    from_stage = sorted((tmp_path / "s_frames").glob("*.png"))
    from_file = sorted((tmp_path / "f_frames").glob("*.png"))
    assert len(from_stage) == 2
    assert [p.read_bytes() for p in from_stage] == [p.read_bytes() for p in from_file]
    assert from_stage[0].read_bytes() != from_stage[1].read_bytes()  # the samples did pose the robot


def test_recording_is_keyed_and_replays_as_drive_targets(twin: Path, tmp_path: Path) -> None:
    from pxr import Usd

    from splattwin.app.recording import TrajectoryRecorder
    from splattwin.robot.trajectories import drive_targets

    recorder = TrajectoryRecorder(ARM)
    motion = _safe_motion(30, rate=60.0)
    for t, q in zip(motion.times, motion.positions, strict=True):
        recorder.add(float(t), dict(zip(ARM, q, strict=True)))
        recorder.add(float(t), q)  # a repeated step is ignored
    assert len(recorder) == 30
    recorder.save(twin, "/World/Robot")
    assert main(["trajectory", "export", "--stage", str(twin), "--robot", "/World/Robot", str(tmp_path / "r.npz")]) == 0
    back = read_trajectory(tmp_path / "r.npz")
    assert np.array_equal(back.times, motion.times) and np.array_equal(back.positions, motion.positions)

    stage = Usd.Stage.Open(str(twin))
    targets = drive_targets(stage, "/World/Robot", 12.0)  # frame 12 at 60 Hz: sample 12
    assert set(targets) == {f"/World/Robot/joints/{name}" for name in ARM}
    assert targets["/World/Robot/joints/panda_joint4"] == pytest.approx(np.degrees(motion.positions[12, 3]), abs=1e-12)


def test_irregular_times_round_trip_exactly_with_seconds_as_time_codes(twin: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    times = np.cumsum(rng.uniform(0.001, 0.02, 200)) + 0.3
    source = Trajectory(
        times=times, positions=rng.uniform(-0.5, 0.5, (200, 2)), joint_names=["panda_joint1", "panda_joint7"]
    )
    write_trajectory(tmp_path / "in.npz", source)
    args = ["--stage", str(twin), "--robot", "/World/Robot"]
    assert main(["trajectory", "import", str(tmp_path / "in.npz"), *args]) == 0
    assert main(["trajectory", "export", *args, str(tmp_path / "out.npz")]) == 0
    back = read_trajectory(tmp_path / "out.npz")
    assert np.array_equal(back.times, times) and np.array_equal(back.positions, source.positions)
    from pxr import Usd

    stage = Usd.Stage.Open(str(twin))
    assert stage.GetTimeCodesPerSecond() == 1.0 and stage.GetStartTimeCode() == times[0]


def test_an_import_replaces_the_robots_whole_trajectory(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """A file without panda_joint7 after one with it: joint7's older keys go (issue 22, item 5), never merged."""
    from splattwin.robot.trajectories import read_joint_trajectory
    from splattwin.usd import open_twin

    args = ["--stage", str(twin), "--robot", "/World/Robot"]
    write_trajectory(tmp_path / "all.csv", _safe_motion(20))
    assert main(["trajectory", "import", str(tmp_path / "all.csv"), *args]) == 0
    six = _safe_motion(10, rate=50.0)
    six = Trajectory(times=six.times, positions=six.positions[:, :6] + 0.05, joint_names=ARM[:6])
    write_trajectory(tmp_path / "six.csv", six)
    capsys.readouterr()
    assert main(["trajectory", "import", str(tmp_path / "six.csv"), *args]) == 0
    out = capsys.readouterr().out
    assert "no longer keyed" in out and "panda_joint7" in out
    stage = open_twin(twin).stage
    assert stage.GetPrimAtPath("/World/Robot").GetAttribute("splattwin:joint:panda_joint7").GetNumTimeSamples() == 0
    back = read_joint_trajectory(stage, "/World/Robot")
    assert back.joint_names == ARM[:6]
    assert np.array_equal(back.times, six.times) and np.array_equal(back.positions, six.positions)

    # A person's key in the root layer is theirs and stays, but the import says that it hides the new keys.
    from pxr import Sdf

    root = Sdf.Layer.FindOrOpen(str(twin))
    spec = Sdf.CreatePrimInLayer(root, "/World/Robot")
    spec.specifier = Sdf.SpecifierOver
    Sdf.AttributeSpec(spec, "splattwin:joint:panda_joint2", Sdf.ValueTypeNames.Double, Sdf.VariabilityVarying, True)
    root.SetTimeSample("/World/Robot.splattwin:joint:panda_joint2", 3.0, 0.7)
    root.Save()
    with pytest.warns(UserWarning, match=r"root layer has its own keys for \['panda_joint2'\] on /World/Robot"):
        assert main(["trajectory", "import", str(tmp_path / "six.csv"), *args]) == 0


def test_a_rate_that_collapses_the_trajectory_is_refused(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """100 samples at 100 Hz span 0.99 s: 0.1 Hz and 1 Hz give one sample (refused); 1.02 Hz gives 2 (t 0, 0.98)."""
    args = ["--stage", str(twin), "--robot", "/World/Robot"]
    write_trajectory(tmp_path / "in.csv", _safe_motion(100))
    line = _run_bad(capsys, ["trajectory", "import", str(tmp_path / "in.csv"), *args, "--rate", "0.1"], twin.parent)
    assert line.startswith("error: --rate: 0.1 Hz gives 1 sample") and "0.99 s span" in line and "1.0101" in line
    assert main(["trajectory", "import", str(tmp_path / "in.csv"), *args]) == 0
    for rate in ("0.1", "1"):
        out = tmp_path / f"out_{rate}.csv"
        line = _run_bad(capsys, ["trajectory", "export", *args, str(out), "--rate", rate], twin.parent)
        assert "--rate" in line and not out.exists()
    assert main(["trajectory", "export", *args, str(tmp_path / "two.csv"), "--rate", "1.02"]) == 0
    np.testing.assert_allclose(read_trajectory(tmp_path / "two.csv").times, [0.0, 1 / 1.02])


def test_values_in_degrees_are_refused_naming_the_likely_mistake(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    args = ["--stage", str(twin), "--robot", "/World/Robot"]
    degrees = _safe_motion(20)
    degrees.positions = np.degrees(degrees.positions)  # joint4 near -86 deg, joint6 near 103 deg
    write_trajectory(tmp_path / "deg.csv", degrees)
    line = _run_bad(capsys, ["trajectory", "import", str(tmp_path / "deg.csv"), *args], twin.parent)
    assert "deg.csv" in line and "degrees? the values look like degrees" in line and "numpy.radians" in line
    view = ["render", "--stage", str(twin), "--view", "1.5,-1.5,1", "0,0,0.4", "--size", "16x12", "--backend", "cpu"]
    out = tmp_path / "v.png"
    line = _run_bad(capsys, [*view, "--joints", '{"panda_joint1": 45}', "--out", str(out)], twin.parent)
    assert line.startswith("error: --joints: degrees?") and "panda_joint1 = 45" in line and "0.7854 rad" in line
    assert not out.exists()
    # Radians a little past a limit are a limit problem, not degrees: keyed and reported.
    overshoot = _safe_motion(20)
    overshoot.positions[5, 0] = JOINT1_LIMIT + 0.5
    write_trajectory(tmp_path / "rad.csv", overshoot)
    capsys.readouterr()
    assert main(["trajectory", "import", str(tmp_path / "rad.csv"), *args]) == 0
    assert "limit: panda_joint1" in capsys.readouterr().out
    assert main([*view, "--joints", '{"panda_joint1": 0.7854}', "--out", str(out)]) == 0


def test_mimic_columns_are_checked_against_their_master(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """pybullet's Panda: panda_finger_joint2 mimics panda_finger_joint1 (multiplier 1, offset 0, from panda.urdf)."""
    from splattwin.robot.trajectories import read_joint_trajectory
    from splattwin.usd import open_twin

    args = ["--stage", str(twin), "--robot", "/World/Robot"]
    arm = _safe_motion(20)
    finger = 0.01 + 0.02 * arm.times / arm.times[-1]  # opening from 1 to 3 cm
    both = np.column_stack([arm.positions, finger, finger])
    names = [*ARM, "panda_finger_joint1", "panda_finger_joint2"]
    write_trajectory(tmp_path / "fingers.csv", Trajectory(times=arm.times, positions=both, joint_names=names))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # agreeing columns pass silently
        assert main(["trajectory", "import", str(tmp_path / "fingers.csv"), *args]) == 0
    back = read_joint_trajectory(open_twin(twin).stage, "/World/Robot")
    assert back.joint_names == [*ARM, "panda_finger_joint1"]  # the mimic follows its master; it is not keyed
    np.testing.assert_array_equal(back.positions[:, -1], finger)

    off = both.copy()
    off[7:, -1] += 0.004  # 4 mm off from sample 7 on
    write_trajectory(tmp_path / "off.csv", Trajectory(times=arm.times, positions=off, joint_names=names))
    with pytest.warns(UserWarning, match=r"mimic joint panda_finger_joint2 .* disagrees .* by 0.004 m \(13 samples\)"):
        assert main(["trajectory", "import", str(tmp_path / "off.csv"), *args]) == 0

    only = np.column_stack([arm.positions, finger])
    names = [*ARM, "panda_finger_joint2"]
    write_trajectory(tmp_path / "only.csv", Trajectory(times=arm.times, positions=only, joint_names=names))
    with pytest.warns(UserWarning, match="panda_finger_joint1 keyed from its mimic joint panda_finger_joint2"):
        assert main(["trajectory", "import", str(tmp_path / "only.csv"), *args]) == 0
    back = read_joint_trajectory(open_twin(twin).stage, "/World/Robot")
    np.testing.assert_array_equal(back.positions[:, back.joint_names.index("panda_finger_joint1")], finger)

    # render --trajectory takes the mimic column too: the frames are those of the file without it.
    q = np.array([[0.0, 0.0, 0.0, -1.5, 0.0, 1.8, 0.0, 0.01], [0.8, 0.0, 0.0, -1.5, 0.0, 1.8, 0.0, 0.04]])
    names = [*ARM, "panda_finger_joint1"]
    times = np.array([0.0, 0.5])
    write_trajectory(tmp_path / "master.csv", Trajectory(times=times, positions=q, joint_names=names))
    with_mimic = Trajectory(times=times, positions=np.column_stack([q, q[:, -1]]), joint_names=[*names, *names[-1:]])
    with_mimic.joint_names[-1] = "panda_finger_joint2"
    write_trajectory(tmp_path / "mimic.csv", with_mimic)
    view = ["--stage", str(twin), "--view", "0.6,-0.6,0.9", "0,0,0.6", "--size", "32x24", "--backend", "cpu"]
    for name in ("master", "mimic"):
        assert (
            main(
                ["render", *view, "--trajectory", str(tmp_path / f"{name}.csv"), "--out", str(tmp_path / f"{name}.mp4")]
            )
            == 0
        )
    frames = [sorted((tmp_path / f"{name}_frames").glob("*.png")) for name in ("master", "mimic")]
    assert len(frames[0]) == 2 and [p.read_bytes() for p in frames[0]] == [p.read_bytes() for p in frames[1]]
