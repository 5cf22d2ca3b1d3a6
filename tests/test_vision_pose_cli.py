"""``estimate-pose`` and ``reach-image`` end to end: a camera on the twin, a TinyRenderer PNG with the robot's mask
as alpha, the trajectory CSV out; bad input is one error line, exit 2 and no file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pybullet")
pytest.importorskip("pxr")
pytest.importorskip("splattwin.usd.cameras")  # issue 20 item 1 (cameras), merged separately

from test_vision_pose import ARM, SIZE, TinyScene  # noqa: E402

from splattwin.cli import main  # noqa: E402
from splattwin.io.trajectory import read_trajectory  # noqa: E402
from splattwin.pipelines.robot import ImportRobotConfig, import_robot  # noqa: E402
from splattwin.render.camera import look_at_camera  # noqa: E402


@pytest.fixture()
def twin(tmp_path: Path):
    import imageio.v3 as iio
    from pxr import Usd

    from splattwin.usd.cameras import define_camera

    urdf = tmp_path / "arm2.urdf"
    urdf.write_text(ARM)
    stage_path = tmp_path / "twin.usda"
    import_robot(ImportRobotConfig(urdf=urdf, stage=stage_path, prim="/World/Robot", gaussians_per_link=1500))
    camera = look_at_camera((0.9, -0.7, 0.6), (0.0, 0.0, 0.22), width=SIZE, height=SIZE, vertical_fov_deg=45)
    stage = Usd.Stage.Open(str(stage_path))
    define_camera(
        stage,
        "/World/Cameras/front",
        K=camera.K,
        width=SIZE,
        height=SIZE,
        camera_to_world=np.linalg.inv(camera.viewmat),
    )
    stage.GetRootLayer().Save()
    scene = TinyScene(urdf)
    truth = np.array([0.6, -0.4])
    scene.set_joints({"yaw": truth[0], "pitch": truth[1]})
    rgb, mask = scene.render(camera)
    scene.close()
    image = tmp_path / "frame.png"
    rgba = np.concatenate([rgb, mask[..., None].astype(np.float32)], axis=-1)
    iio.imwrite(image, (rgba * 255).round().astype(np.uint8))
    small = tmp_path / "small.png"
    iio.imwrite(small, (rgba[::2, ::2] * 255).round().astype(np.uint8))
    return {"stage": stage_path, "image": image, "small": small, "truth": truth, "folder": tmp_path}


def test_estimate_pose_writes_a_trajectory(twin) -> None:
    out = twin["folder"] / "traj.csv"
    init = json.dumps({"yaw": 0.85, "pitch": -0.65})
    args = ["estimate-pose", "--stage", str(twin["stage"]), "--robot", "/World/Robot", "--camera", "front"]
    assert main([*args, "--images", str(twin["image"]), "--out", str(out), "--init", init]) == 0
    trajectory = read_trajectory(out)
    assert trajectory.joint_names == ["yaw", "pitch"]
    assert np.abs(trajectory.positions[0] - twin["truth"]).max() < 0.03
    target = twin["folder"] / "reach.csv"
    reach = ["reach-image", "--stage", str(twin["stage"]), "--robot", "/World/Robot", "--camera", "front"]
    start = json.dumps({"yaw": 0.35, "pitch": -0.15})
    assert main([*reach, "--target", str(twin["image"]), "--out", str(target), "--start", start]) == 0
    motion = read_trajectory(target)
    assert np.allclose(motion.positions[0], [0.35, -0.15])
    assert np.abs(motion.positions[-1] - twin["truth"]).max() < 0.03


@pytest.mark.parametrize("case", ["size", "camera", "unconverged", "count"])
def test_bad_input_exit_2_nothing_written(twin, case: str, capsys: pytest.CaptureFixture) -> None:
    out = twin["folder"] / "traj.csv"
    args = ["estimate-pose", "--stage", str(twin["stage"]), "--robot", "/World/Robot", "--out", str(out)]
    images, camera, extra = [str(twin["image"])], ["front"], []
    if case == "size":
        images = [str(twin["small"])]
    elif case == "camera":
        camera = ["side"]
    elif case == "unconverged":
        extra = ["--iterations", "1", "--init", json.dumps({"yaw": -1.5, "pitch": 1.2})]
    else:  # two cameras, one image: a camera with no image
        camera = ["front", "front"]
    assert main([*args, "--camera", *camera, "--images", *images, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    expected = {"size": "64x64", "camera": "no camera 'side'", "unconverged": "residual", "count": "2 cameras"}
    assert expected[case] in err[0]
    assert not out.exists()
