"""``splattwin render`` end to end on hand-built stages: files, 16-bit depth, segmentation, video, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from splattwin.cli import main

pytest.importorskip("pxr")
iio = pytest.importorskip("imageio.v3")

from test_render_scene import _articulated_stage, _camera_stage  # noqa: E402

VIEW = ["--view", "1.1,-3,1.5", "1.1,0,1.5", "--fov", "20", "--size", "64x48"]


def test_render_writes_rgb_depth_and_segmentation(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    stage = tmp_path / "robot.usda"
    _articulated_stage(stage)
    out = tmp_path / "frame.png"
    assert main(["render", "--stage", str(stage), *VIEW, "--out", str(out), "--depth", "--segmentation"]) == 0
    rgb = iio.imread(out)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    depth = iio.imread(tmp_path / "frame_depth.png")
    assert depth.dtype == np.uint16
    assert depth[24, 32] == pytest.approx(3000, abs=2)  # 3 m from the eye to the Gaussian, in millimetres
    assert depth[0, 0] == 0
    labels = iio.imread(tmp_path / "frame_seg.png")
    table = json.loads((tmp_path / "frame_seg.json").read_text())
    assert table[str(labels[24, 32])] == "/World/Robot/link1/Gaussians"
    assert labels[0, 0] == 0 and table["0"] is None


def _error_line(capsys) -> str:  # noqa: ANN001
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    ("camera_kwargs", "prim", "message"),
    [
        ({"focal": 0.0}, "/World/Cam", "focal length"),
        ({"aperture": 0.0}, "/World/Cam", "aperture"),
        ({}, "/World/NotACamera", "not a Camera"),
    ],
)
def test_bad_cameras_exit_2_and_write_nothing(tmp_path: Path, capsys, camera_kwargs, prim, message) -> None:  # noqa: ANN001
    stage = tmp_path / "cam.usda"
    _camera_stage(stage, **camera_kwargs)
    out = tmp_path / "out" / "x.png"
    out.parent.mkdir()
    assert main(["render", "--stage", str(stage), "--camera", prim, "--out", str(out), "--depth"]) == 2
    line = _error_line(capsys)
    assert line.startswith("error: ") and str(stage) in line and message in line
    assert list(out.parent.iterdir()) == []


def test_empty_stage_and_nan_splat_exit_2(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    stage = tmp_path / "cam.usda"
    _camera_stage(stage)  # a camera but no Gaussians
    out = tmp_path / "out"
    out.mkdir()
    assert main(["render", "--stage", str(stage), "--camera", "/World/Cam", "--out", str(out / "x.png")]) == 2
    assert "no Gaussian prims" in _error_line(capsys)
    robot = tmp_path / "robot.usda"
    _articulated_stage(robot)
    text = robot.read_text()
    assert "(5, 0, 0)" in text
    robot.write_text(text.replace("(5, 0, 0)", "(nan, 0, 0)"))
    assert main(["render", "--stage", str(robot), *VIEW, "--out", str(out / "x.png")]) == 2
    line = _error_line(capsys)
    assert "NaN" in line and "robot.usda" in line
    assert list(out.iterdir()) == []


def test_bad_trajectories_exit_2_and_write_nothing(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    stage = tmp_path / "robot.usda"
    _articulated_stage(stage)
    out = tmp_path / "out"
    out.mkdir()
    for text, message in (("time,j1\n0,0\n0,1\n", "increase"), ("time,nope\n0,0\n", "unknown joint")):
        trajectory = tmp_path / "t.csv"
        trajectory.write_text(text)
        args = ["render", "--stage", str(stage), *VIEW, "--trajectory", str(trajectory), "--out", str(out / "v.mp4")]
        assert main(args) == 2
        line = _error_line(capsys)
        assert message in line and "t.csv" in line
    assert list(out.iterdir()) == []


def test_trajectory_renders_frames_and_an_mp4(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The video path with a stand-in for splattwin.robot: joint 'slide' moves link1 along x (one frame each)."""
    import splattwin.pipelines.render as pipeline

    def fake_overrides(stage, joints):  # noqa: ANN001, ANN202
        pose = np.eye(4)
        pose[:3, 3] = [1.0 + joints.get("slide", 0.0), 0.0, 1.0]
        return {"/World/Robot/link1": pose}

    monkeypatch.setattr(pipeline, "_robot_joint_names", lambda stage: ["slide"])
    monkeypatch.setattr(pipeline, "_link_overrides", fake_overrides)
    stage = tmp_path / "robot.usda"
    _articulated_stage(stage)
    trajectory = tmp_path / "t.csv"
    trajectory.write_text("time,slide\n0,0\n0.1,0.1\n0.2,0.2\n")
    out = tmp_path / "video.mp4"
    assert main(["render", "--stage", str(stage), *VIEW, "--trajectory", str(trajectory), "--out", str(out)]) == 0
    frames = sorted((tmp_path / "video_frames").glob("frame_*.png"))
    assert [f.name for f in frames] == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    count = sum(1 for _ in reader)
    assert meta["size"] == (64, 48) and count == 3
    # the Gaussian moves right by 0.1 m per frame: its brightest column moves right
    columns = [int(np.argmax((1.0 - iio.imread(f)[..., 1] / 255.0).sum(axis=0))) for f in frames]
    assert columns[0] < columns[1] < columns[2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging leftovers
