"""Cameras from USD prims and look-at views, gathering Gaussian prims with transform overrides, mesh rasterizing,
compositing, against hand-computed values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.geometry import quat_wxyz_to_matrix
from splattwin.render.camera import look_at_camera
from splattwin.scene import camera_from_prim, gather_gaussians

pytest.importorskip("pxr")


def _one_gaussian(mean=(0.0, 0.0, 0.0), scale: float = 0.01, rgb=(1.0, 0.0, 0.0)) -> Gaussians:  # noqa: ANN001
    sh = ((np.asarray(rgb, dtype=np.float32) - 0.5) / 0.28209479177387814)[None, None]
    return Gaussians(
        means=np.asarray([mean]),
        quats_wxyz=np.asarray([[1.0, 0, 0, 0]]),
        scales=np.full((1, 3), scale),
        opacities=np.asarray([0.9]),
        sh=sh,
    )


def _new_stage(path: Path):  # noqa: ANN202
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    return stage


def _camera_stage(path: Path, *, focal: float = 50.0, aperture: float = 20.955, rotate_x: float = 0.0):  # noqa: ANN202
    from pxr import Gf, UsdGeom

    stage = _new_stage(path)
    camera = UsdGeom.Camera.Define(stage, "/World/Cam")
    camera.GetFocalLengthAttr().Set(focal)
    camera.GetHorizontalApertureAttr().Set(aperture)
    camera.GetVerticalApertureAttr().Set(aperture * 0.75)
    camera.GetClippingRangeAttr().Set(Gf.Vec2f(0.05, 100.0))
    xform = UsdGeom.Xformable(camera)
    if rotate_x:
        xform.AddTranslateOp().Set(Gf.Vec3d(0, -5, 0))
        xform.AddRotateXOp().Set(rotate_x)
    else:
        xform.AddTranslateOp().Set(Gf.Vec3d(0, 0, 5))
    UsdGeom.Xform.Define(stage, "/World/NotACamera")
    stage.GetRootLayer().Save()
    return stage


def _project(camera, point) -> tuple[float, float, float]:  # noqa: ANN001
    p = camera.viewmat @ np.append(point, 1.0)
    uvw = camera.K @ p[:3]
    return uvw[0] / uvw[2], uvw[1] / uvw[2], p[2]


def test_usd_camera_looking_down_projects_points_as_computed_by_hand(tmp_path: Path) -> None:
    stage = _camera_stage(tmp_path / "cam.usda")
    camera = camera_from_prim(stage, "/World/Cam", width=640, height=480)
    fx = 640 * 50.0 / 20.955
    # USD camera at z=5 looking down -Z, +Y up: world (0.1, 0.2, 0) is 5 m ahead, right and up in the image.
    u, v, z = _project(camera, (0.1, 0.2, 0.0))
    assert z == pytest.approx(5.0)
    assert u == pytest.approx(320 + fx * 0.1 / 5)
    assert v == pytest.approx(240 - fx * 0.2 / 5)
    assert (camera.near, camera.far) == pytest.approx((0.05, 100.0))


def test_usd_camera_rotated_to_look_along_y(tmp_path: Path) -> None:
    stage = _camera_stage(tmp_path / "cam.usda", rotate_x=90.0)
    camera = camera_from_prim(stage, "/World/Cam", width=640, height=480)
    fx = 640 * 50.0 / 20.955
    np.testing.assert_allclose(camera.position, [0, -5, 0], atol=1e-9)
    u, v, z = _project(camera, (0.1, 0.0, 0.2))  # 5 m ahead along +y, right and up (world z is image up)
    assert z == pytest.approx(5.0)
    assert u == pytest.approx(320 + fx * 0.1 / 5)
    assert v == pytest.approx(240 - fx * 0.2 / 5)


def test_look_at_camera_puts_the_target_at_the_centre_and_z_up() -> None:
    camera = look_at_camera((3.0, -2.0, 1.5), (0.2, 0.1, 0.3), width=200, height=100, vertical_fov_deg=60.0)
    u, v, z = _project(camera, (0.2, 0.1, 0.3))
    assert (u, v) == pytest.approx((100.0, 50.0))
    assert z == pytest.approx(math.dist((3.0, -2.0, 1.5), (0.2, 0.1, 0.3)))
    _, v_above, _ = _project(camera, (0.2, 0.1, 0.5))
    assert v_above < 50.0  # up in the world is up in the image
    assert camera.K[1, 1] == pytest.approx(50.0 / math.tan(math.radians(30.0)))


@pytest.mark.parametrize(
    ("kwargs", "prim", "message"),
    [
        ({"focal": 0.0}, "/World/Cam", "focal length"),
        ({"aperture": 0.0}, "/World/Cam", "aperture"),
        ({}, "/World/NotACamera", "not a Camera"),
        ({}, "/World/Nothing", "no prim"),
    ],
)
def test_bad_cameras_are_refused_naming_the_stage(tmp_path: Path, kwargs: dict, prim: str, message: str) -> None:
    path = tmp_path / "cam.usda"
    stage = _camera_stage(path, **kwargs)
    with pytest.raises(InputError, match=message) as info:
        camera_from_prim(stage, prim, width=64, height=48)
    assert str(path) in str(info.value)


def _articulated_stage(path: Path):  # noqa: ANN202
    """/World/Robot (at z=1) / link1 (x+1) / Gaussians (z+0.5, one Gaussian at local (0.1, 0, 0)); plus a scene."""
    from pxr import Gf, UsdGeom

    from splattwin.usd import define_gaussians_prim

    stage = _new_stage(path)
    robot = UsdGeom.Xform.Define(stage, "/World/Robot")
    robot.AddTranslateOp().Set(Gf.Vec3d(0, 0, 1))
    link = UsdGeom.Xform.Define(stage, "/World/Robot/link1")
    link.AddTranslateOp().Set(Gf.Vec3d(1, 0, 0))
    field = define_gaussians_prim(stage, "/World/Robot/link1/Gaussians", _one_gaussian((0.1, 0.0, 0.0), scale=0.05))
    UsdGeom.Xformable(field).AddTranslateOp().Set(Gf.Vec3d(0, 0, 0.5))
    define_gaussians_prim(stage, "/World/Scene/Splat", _one_gaussian((5.0, 0.0, 0.0), rgb=(0.0, 0.0, 1.0)))
    stage.GetRootLayer().Save()
    return stage


def test_gather_applies_world_transforms_and_link_overrides(tmp_path: Path) -> None:
    stage = _articulated_stage(tmp_path / "robot.usda")
    plain = gather_gaussians(stage)
    assert plain.prim_paths == ["/World/Robot/link1/Gaussians", "/World/Scene/Splat"]
    np.testing.assert_allclose(plain.gaussians.means[0], [1.1, 0.0, 1.5], atol=1e-6)
    np.testing.assert_array_equal(plain.prim_index, [0, 1])

    pose = np.eye(4)
    pose[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # 90 degrees about z
    pose[:3, 3] = [2, 3, 4]
    posed = gather_gaussians(stage, overrides={"/World/Robot/link1": pose})
    # the Gaussians prim keeps its (0, 0, 0.5) offset from the link: R (0.1, 0, 0.5) + (2, 3, 4)
    np.testing.assert_allclose(posed.gaussians.means[0], [2.0, 3.1, 4.5], atol=1e-6)
    np.testing.assert_allclose(quat_wxyz_to_matrix(posed.gaussians.quats_wxyz[0]), pose[:3, :3], atol=1e-6)
    np.testing.assert_allclose(posed.gaussians.means[1], [5.0, 0.0, 0.0], atol=1e-6)  # scene untouched


def test_gather_refuses_empty_stages_nan_splats_and_unknown_override_paths(tmp_path: Path) -> None:
    empty = _new_stage(tmp_path / "empty.usda")
    with pytest.raises(InputError, match="no Gaussian prims"):
        gather_gaussians(empty)
    stage = _articulated_stage(tmp_path / "robot.usda")
    with pytest.raises(InputError, match="no such prim"):
        gather_gaussians(stage, overrides={"/World/Robot/nope": np.eye(4)})
    attr = stage.GetPrimAtPath("/World/Scene/Splat").GetAttribute("positions")
    from pxr import Gf, Vt

    attr.Set(Vt.Vec3fArray([Gf.Vec3f(float("nan"), 0, 0)]))
    with pytest.raises(InputError, match="NaN") as info:
        gather_gaussians(stage)
    assert "robot.usda" in str(info.value)


def test_render_view_segments_each_pixel_by_the_prim_that_dominates_it(tmp_path: Path) -> None:
    from splattwin.render.views import render_view

    stage = _articulated_stage(tmp_path / "robot.usda")
    scene = gather_gaussians(stage)
    # camera 3 m in front (along -y) of the robot Gaussian at (1.1, 0, 1.5), looking at it
    camera = look_at_camera((1.1, -3.0, 1.5), (1.1, 0.0, 1.5), width=64, height=48, vertical_fov_deg=20.0)
    view = render_view(scene, camera, background=(0.0, 1.0, 0.0))
    assert view.segmentation[24, 32] == 0  # the robot's prim index
    assert view.segmentation[0, 0] == -1
    np.testing.assert_allclose(view.rgb[0, 0], [0.0, 1.0, 0.0])
    assert view.rgb[24, 32, 0] > 0.8 and view.rgb[24, 32, 2] < 0.1
    assert view.depth[24, 32] == pytest.approx(3.0, abs=1e-3)
    assert np.isinf(view.depth[0, 0])


def test_mesh_rasterizer_depth_matches_a_plane_computed_by_hand() -> None:
    from splattwin.render.meshes import SceneMeshes, rasterize_meshes

    # a square at world z = 0 seen from 2 m straight above; depth is 2 m everywhere on it
    quad = np.array([[[-1, -1, 0], [1, -1, 0], [1, 1, 0]], [[-1, -1, 0], [1, 1, 0], [-1, 1, 0]]], dtype=float)
    meshes = SceneMeshes(quad, np.array([[1.0, 0, 0], [1.0, 0, 0]]), ["/Quad"], np.zeros(2, dtype=np.int32))
    camera = look_at_camera((0.0, -0.001, 2.0), (0.0, 0.0, 0.0), width=40, height=40, vertical_fov_deg=90.0)
    rgb, depth, labels = rasterize_meshes(meshes, camera)
    # the quad spans +-1 m at 2 m with a 90 degree view (+-2 m): the middle half of the image
    assert np.isfinite(depth[20, 20]) and depth[20, 20] == pytest.approx(2.0, rel=1e-3)
    assert np.isinf(depth[2, 2]) and labels[2, 2] == -1
    assert labels[20, 20] == 0
    covered = np.isfinite(depth).sum()
    assert covered == pytest.approx(20 * 20, rel=0.1)
    assert rgb[20, 20, 0] > 0.9 and rgb[20, 20, 1] < 0.05


def test_composite_depth_test_per_pixel() -> None:
    from splattwin.render.views import composite

    splat_rgb = np.zeros((1, 3, 3))
    splat_rgb[..., 0] = 1.0  # red splat
    sim_rgb = np.zeros((1, 3, 3))
    sim_rgb[..., 2] = 1.0  # blue simulated object
    splat_depth = np.array([[1.0, 3.0, np.inf]])
    sim_depth = np.array([[2.0, 2.0, 2.0]])
    out = composite(splat_rgb, splat_depth, sim_rgb, sim_depth)
    np.testing.assert_allclose(out[0], [[1, 0, 0], [0, 0, 1], [0, 0, 1]])  # front splat, hidden splat, no splat
    # half-transparent splat in front: premultiplied 0.5 red over blue
    out = composite(splat_rgb * 0.5, splat_depth, sim_rgb, sim_depth, splat_alpha=np.full((1, 3), 0.5))
    np.testing.assert_allclose(out[0, 0], [0.5, 0, 0.5])
    with pytest.raises(InputError):
        composite(splat_rgb, splat_depth, sim_rgb[:, :2], sim_depth)


def test_robot_link_overrides_follow_the_robot_api(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """robot_link_overrides against a stand-in module with the ROBOT_API contract: q in joint order, unset
    joints at 0, the link poses keyed by link prim path, unknown joints refused."""
    import sys
    import types

    import torch

    from splattwin.scene import robot_link_overrides

    seen = {}

    class FakeRobot:
        joint_names = ["j_slide", "j_other"]
        link_paths = ["/World/Robot/link1"]

        def link_poses(self, q: torch.Tensor) -> torch.Tensor:
            seen["q"] = q.clone()
            pose = torch.eye(4, dtype=q.dtype).repeat(q.shape[0], 1, 1)[:, None]
            pose[:, 0, 0, 3] = 1.0 + q[:, 0]
            return pose

    fake = types.ModuleType("splattwin.robot")
    fake.find_robots = lambda stage: ["/World/Robot"]
    fake.load_robot = lambda stage, prim: FakeRobot()
    monkeypatch.setitem(sys.modules, "splattwin.robot", fake)
    stage = _articulated_stage(tmp_path / "robot.usda")
    overrides = robot_link_overrides(stage, {"j_slide": 0.25})
    assert seen["q"].tolist() == [[0.25, 0.0]]
    posed = gather_gaussians(stage, overrides=overrides)
    np.testing.assert_allclose(posed.gaussians.means[0], [1.35, 0.0, 0.5], atol=1e-6)  # link at x=1.25, prim z+0.5
    with pytest.raises(InputError, match="unknown joint"):
        robot_link_overrides(stage, {"nope": 1.0})


def test_robot_posing_through_the_robot_api(tmp_path: Path) -> None:
    """The Panda from pybullet_data posed at a joint value: the renderer's link overrides are robot.link_poses, and
    (independently) turning panda_joint1 by 0.5 rad turns panda_link1 by 0.5 rad about the base's z axis."""
    import splattwin.robot as robot_module

    pybullet_data = pytest.importorskip("pybullet_data")
    import torch

    from splattwin.cli import main
    from splattwin.scene import robot_link_overrides
    from splattwin.usd import open_usd_stage

    urdf = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    stage_path = tmp_path / "robot.usda"
    assert main(["import-robot", str(urdf), "--stage", str(stage_path), "--prim", "/World/Robot"]) == 0
    stage = open_usd_stage(stage_path)
    root = robot_module.find_robots(stage)[0]
    robot = robot_module.load_robot(stage, root)
    joints = {robot.joint_names[0]: 0.5}
    overrides = robot_link_overrides(stage, joints)
    q = torch.zeros(1, len(robot.joint_names), dtype=torch.float64)
    q[0, 0] = 0.5
    expected = robot.link_poses(q)[0].detach().double().numpy()
    for i, path in enumerate(robot.link_paths):
        np.testing.assert_allclose(overrides[path], expected[i], atol=1e-6)
    rest = robot.link_poses(torch.zeros_like(q))[0].detach().double().numpy()
    link1 = robot.link_names.index("panda_link1")
    turn = rest[link1, :3, :3].T @ overrides[robot.link_paths[link1]][:3, :3]
    c, s_ = np.cos(0.5), np.sin(0.5)
    np.testing.assert_allclose(turn, [[c, -s_, 0], [s_, c, 0], [0, 0, 1]], atol=1e-9)
    with pytest.raises(InputError, match="unknown joint"):
        robot_link_overrides(stage, {"no_such_joint": 0.0})


def test_demo_composites_only_meshes_that_no_gaussians_stand_for(tmp_path: Path) -> None:
    from pxr import UsdGeom

    from splattwin.pipelines.render import _meshes_without_gaussians

    stage = _articulated_stage(tmp_path / "robot.usda")
    UsdGeom.Mesh.Define(stage, "/World/Robot/link1/visuals/mesh_0")  # represented by link1's Gaussians
    UsdGeom.Mesh.Define(stage, "/World/Scene/Static")  # beside the scene splat
    UsdGeom.Mesh.Define(stage, "/World/Objects/Tool/mesh")  # a spawned object without Gaussians
    assert _meshes_without_gaussians(stage) == ["/World/Objects/Tool/mesh"]


def test_keyed_object_poses_move_its_gaussians_per_time_code(tmp_path: Path) -> None:
    """An object whose pose is keyed (as a recorded rollout keys it) is drawn where its keys put it at each time;
    unkeyed prims are not overridden."""
    from pxr import Gf, UsdGeom

    from splattwin.scene import keyed_pose_overrides
    from splattwin.usd import define_gaussians_prim

    stage = _articulated_stage(tmp_path / "robot.usda")
    block = UsdGeom.Xform.Define(stage, "/World/Objects/Block")
    translate = block.AddTranslateOp()
    translate.Set(Gf.Vec3d(0.5, 0.0, 0.0))  # the default (static) pose
    translate.Set(Gf.Vec3d(0.5, 0.0, 0.0), 0.0)
    translate.Set(Gf.Vec3d(0.7, 0.2, 0.0), 10.0)
    define_gaussians_prim(stage, "/World/Objects/Block/Gaussians", _one_gaussian((0.0, 0.0, 0.1)))
    assert list(keyed_pose_overrides(stage, 0.0)) == ["/World/Objects/Block"]
    for code, expected in ((0.0, [0.5, 0.0, 0.1]), (5.0, [0.6, 0.1, 0.1]), (10.0, [0.7, 0.2, 0.1])):
        scene = gather_gaussians(stage, overrides=keyed_pose_overrides(stage, code))
        block_index = scene.prim_paths.index("/World/Objects/Block/Gaussians")
        np.testing.assert_allclose(scene.gaussians.means[scene.prim_index == block_index][0], expected, atol=1e-6)
        np.testing.assert_allclose(scene.gaussians.means[0], [1.1, 0.0, 1.5], atol=1e-6)  # the robot link: unkeyed
