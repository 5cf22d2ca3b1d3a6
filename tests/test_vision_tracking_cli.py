"""``track-object`` end to end: a twin with a robot, a box with Gaussians and two cameras; frames drawn by the mesh
z-buffer with the box's mask as alpha, the robot's joint log; the pose file out and the poses keyed with
provenance. Bad input is one error line, exit 2, no pose file and an unchanged twin."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pxr")

from test_vision_pose import ARM  # noqa: E402
from vision_tracking_support import box_gaussians, cameras, pose, render_frames  # noqa: E402

from splattwin.cli import main  # noqa: E402
from splattwin.vision.tracking import rotation_error_deg  # noqa: E402

SIZE = 64
NAMES = ("front", "side")
TRUTH = [pose(0.600, 0.000, 0.0), pose(0.603, 0.002, 1.0)]
START = pose(0.597, -0.002, -1.5)  # the twin's pose of the box


def _write_frames(folder: Path, images: np.ndarray, masks: np.ndarray, times: np.ndarray) -> None:
    import imageio.v3 as iio

    folder.mkdir()
    rows = ["name,time"]
    for t, (image, mask) in enumerate(zip(images, masks, strict=True)):
        rgba = np.concatenate([image, mask[..., None].astype(np.float32)], axis=-1)
        iio.imwrite(folder / f"f{t}.png", (rgba * 255).round().astype(np.uint8))
        rows.append(f"f{t}.png,{float(times[t])!r}")
    (folder / "timestamps.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from pxr import Gf, UsdGeom

    from splattwin.pipelines.robot import ImportRobotConfig, import_robot
    from splattwin.usd import edit_twin
    from splattwin.usd.cameras import define_camera
    from splattwin.usd.splats import define_gaussians_prim

    folder = tmp_path_factory.mktemp("track")
    urdf = folder / "arm2.urdf"
    urdf.write_text(ARM)
    stage_path = folder / "twin.usda"
    import_robot(ImportRobotConfig(urdf=urdf, stage=stage_path, prim="/World/Robot", gaussians_per_link=200))
    views = cameras(SIZE)
    with edit_twin(stage_path) as twin_stage:
        with twin_stage.edit_layer("objects") as stage:
            box = UsdGeom.Xform.Define(stage, "/World/Objects/Box")
            box.AddTranslateOp(UsdGeom.XformOp.PrecisionDouble).Set(Gf.Vec3d(*START[:3, 3]))
            half = np.radians(-1.5) / 2
            box.AddOrientOp(UsdGeom.XformOp.PrecisionDouble).Set(Gf.Quatd(np.cos(half), 0, 0, np.sin(half)))
            define_gaussians_prim(stage, "/World/Objects/Box/Gaussians", box_gaussians())
        with twin_stage.edit_layer("scene") as stage:
            for name, camera in zip(NAMES, views, strict=True):
                define_camera(stage, f"/World/Cameras/{name}", K=camera.K, width=SIZE, height=SIZE,
                              camera_to_world=np.linalg.inv(camera.viewmat))  # fmt: skip
    images, masks = render_frames(TRUTH, views)
    times = np.array([0.5, 0.5 + 1 / 30])
    for c, name in enumerate(NAMES):
        _write_frames(folder / name, images[:, c], masks[:, c], times)
    _write_frames(folder / "late", images[:, 1], masks[:, 1], times + 0.01)
    _write_frames(folder / "empty", images[:, 1], np.zeros_like(masks[:, 1]), times)
    (folder / "joints.csv").write_text("time,yaw,pitch\n0.0,0.0,0.2\n1.0,0.1,0.3\n")
    (folder / "short.csv").write_text("time,yaw,pitch\n0.0,0.0,0.2\n0.52,0.1,0.3\n")
    return {"stage": stage_path, "folder": folder}


def _args(twin: dict, out: Path, images: list[str], joints: str = "joints.csv") -> list[str]:
    f = twin["folder"]
    return [
        "track-object", "--stage", str(twin["stage"]), "--object", "/World/Objects/Box", "--cameras", "front,side",
        "--images", *(str(f / i) for i in images), "--joints", str(f / joints), "--out", str(out),
        "--scale", "0.5", "--erode", "1",  # Gaussians sampled on the mesh
    ]  # fmt: skip


def test_track_object_writes_poses_and_keys_them(twin: dict) -> None:
    from pxr import Usd

    from splattwin.pipelines.tracking import PROVENANCE_KEY
    from splattwin.robot.trajectories import read_object_poses

    out = twin["folder"] / "poses.csv"
    assert main([*_args(twin, out, ["front", "side"]), "--key"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [float(r["time"]) for r in rows] == pytest.approx([0.5, 0.5 + 1 / 30])
    for row, truth in zip(rows, TRUTH, strict=True):
        position = np.array([float(row[k]) for k in "xyz"])
        assert np.linalg.norm(position - truth[:3, 3]) < 2e-3
        assert row["converged"] == "1" and float(row["residual"]) > 0
    stage = Usd.Stage.Open(str(twin["stage"]))
    times, positions, quats = read_object_poses(stage, "/World/Objects/Box")
    assert times == pytest.approx([0.5, 0.5 + 1 / 30])
    assert np.allclose(positions, [[float(r[k]) for k in "xyz"] for r in rows], atol=1e-9)
    w, z = quats[1, 0], quats[1, 3]
    keyed = pose(*positions[1, :2], np.degrees(2 * np.arctan2(z, w)), positions[1, 2])
    assert rotation_error_deg(keyed, TRUTH[1]) < 2.0
    provenance = stage.GetPrimAtPath("/World/Objects/Box").GetCustomDataByKey(PROVENANCE_KEY)
    assert provenance["verb"] == "track-object" and provenance["frames"] == 2 and provenance["unconverged"] == 0


@pytest.mark.parametrize("case", ["camera", "hidden", "unconverged", "log", "stamps", "suffix"])
def test_bad_input_exit_2_nothing_written(twin: dict, case: str, capsys: pytest.CaptureFixture) -> None:
    layers = sorted((twin["folder"] / "twin_layers").iterdir())
    before = {p: p.read_bytes() for p in layers}
    out = twin["folder"] / ("poses.txt" if case == "suffix" else f"bad_{case}.csv")
    images, joints, extra = ["front", "side"], "joints.csv", ["--key"]
    if case == "camera":
        extra += ["--cameras", "front,top"]
    elif case == "hidden":
        images = ["front", "empty"]
    elif case == "unconverged":
        extra += ["--min-iou", "0.99", "--iterations", "1", "--first-iterations", "1"]
    elif case == "log":
        joints = "short.csv"
    elif case == "stamps":
        images = ["front", "late"]
    assert main([*_args(twin, out, images, joints), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    expected = {
        "camera": "no camera 'top'",
        "hidden": "not visible in any frame of camera side",
        "unconverged": "residual",
        "log": "outside the joint log",
        "stamps": "not at the first camera's timestamps",
        "suffix": ".csv or .npz",
    }
    assert expected[case] in err[0], err[0]
    assert not out.exists()
    assert {p: p.read_bytes() for p in layers} == before
