"""USD camera authoring and reading (usd/cameras.py, scene.camera_from_prim) against Gf.Camera and hand projection."""

from __future__ import annotations

import numpy as np
import pytest

pxr = pytest.importorskip("pxr")
from pxr import Gf, Usd, UsdGeom  # noqa: E402

from splattwin.errors import InputError  # noqa: E402
from splattwin.render.camera import project_points  # noqa: E402
from splattwin.scene import camera_from_prim  # noqa: E402
from splattwin.usd.cameras import define_camera, read_cameras  # noqa: E402

# Off-centre principal point, non-square focal lengths: centred, square cameras hide sign and axis mistakes.
K = np.array([[520.0, 0.0, 290.0], [0.0, 470.0, 215.0], [0.0, 0.0, 1.0]])
WIDTH, HEIGHT = 640, 480
POINTS = np.array([[0.3, 0.1, 2.0], [-0.5, 0.4, 3.0], [0.05, -0.6, 1.5], [0.0, 0.0, 4.0]])


def _camera_to_world() -> np.ndarray:
    a, b = 0.3, -0.7
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    pose = np.eye(4)
    pose[:3, :3] = rz @ rx
    pose[:3, 3] = [0.4, -0.2, 0.9]
    return pose


def _stage() -> Usd.Stage:
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.Xform.Define(stage, "/World")
    UsdGeom.Xform.Define(stage, "/World/Cameras")
    define_camera(stage, "/World/Cameras/left", K=K, width=WIDTH, height=HEIGHT, camera_to_world=_camera_to_world())
    return stage


def _world_points() -> np.ndarray:
    """POINTS are in the camera's OpenCV frame; these are the same points in the world."""
    pose = _camera_to_world()
    return POINTS @ pose[:3, :3].T + pose[:3, 3]


def test_read_cameras_reproduces_k_rt_x_within_0_01_px() -> None:
    cameras = read_cameras(_stage())
    assert list(cameras) == ["left"]
    camera = cameras["left"]
    assert (camera.width, camera.height) == (WIDTH, HEIGHT)
    by_hand = POINTS @ K.T
    expected = by_hand[:, :2] / by_hand[:, 2:]
    np.testing.assert_allclose(project_points(camera, _world_points()), expected, atol=0.01)


def test_projection_agrees_with_gf_camera_frustum() -> None:
    """USD's own camera model is the independent expectation for the aperture offsets' sign."""
    stage = _stage()
    gf_camera = UsdGeom.Camera(stage.GetPrimAtPath("/World/Cameras/left")).GetCamera(Usd.TimeCode.Default())
    frustum = gf_camera.frustum
    view_projection = frustum.ComputeViewMatrix() * frustum.ComputeProjectionMatrix()  # row vectors
    ndc = np.array([list(view_projection.Transform(Gf.Vec3d(*p))) for p in _world_points()])
    from_usd = np.stack([(ndc[:, 0] + 1) / 2 * WIDTH, (1 - ndc[:, 1]) / 2 * HEIGHT], axis=1)
    camera = camera_from_prim(stage, "/World/Cameras/left")
    np.testing.assert_allclose(project_points(camera, _world_points()), from_usd, atol=0.01)


def test_hand_authored_offset_camera_matches_gf_camera() -> None:
    """A camera authored by hand (no stored size, square pixels): positive offsets move the window right / up."""
    stage = Usd.Stage.CreateInMemory()
    camera = UsdGeom.Camera.Define(stage, "/Cam")
    camera.CreateFocalLengthAttr(24.0)
    camera.CreateHorizontalApertureAttr(36.0)
    camera.CreateVerticalApertureAttr(24.0)
    camera.CreateHorizontalApertureOffsetAttr(3.0)
    camera.CreateVerticalApertureOffsetAttr(-2.0)
    UsdGeom.Xformable(camera).AddTranslateOp().Set(Gf.Vec3d(0.1, 0.2, 3.0))
    ours = camera_from_prim(stage, "/Cam", width=600, height=400)
    # Hand-computed: fx = 24 * 600 / 36 = 400; cx = 300 - 3 * 600 / 36 = 250; cy = 200 + (-2) * 400 / 24 = 166.67.
    np.testing.assert_allclose(ours.K, [[400, 0, 250], [0, 400, 200 - 2 * 400 / 24], [0, 0, 1]], atol=1e-9)
    frustum = camera.GetCamera(Usd.TimeCode.Default()).frustum
    view_projection = frustum.ComputeViewMatrix() * frustum.ComputeProjectionMatrix()
    world = np.array([[0.3, 0.0, 0.5], [-0.4, 0.6, 1.0]])
    ndc = np.array([list(view_projection.Transform(Gf.Vec3d(*p))) for p in world])
    expected = np.stack([(ndc[:, 0] + 1) / 2 * 600, (1 - ndc[:, 1]) / 2 * 400], axis=1)
    np.testing.assert_allclose(project_points(ours, world), expected, atol=1e-6)


def test_resized_camera_scales_the_intrinsics() -> None:
    camera = camera_from_prim(_stage(), "/World/Cameras/left", width=320, height=240)
    np.testing.assert_allclose(camera.K, np.diag([0.5, 0.5, 1.0]) @ K, atol=1e-3)


def test_camera_without_size_needs_one() -> None:
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.Camera.Define(stage, "/Cam")
    with pytest.raises(InputError, match=r"/Cam has no stored image size"):
        camera_from_prim(stage, "/Cam")


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.array([[-5.0, 0, 10], [0, 5, 10], [0, 0, 1]]), "focal lengths"),
        (np.array([[5.0, 1.0, 10], [0, 5, 10], [0, 0, 1]]), "no skew"),
        (np.array([[np.nan, 0, 10], [0, 5, 10], [0, 0, 1]]), "NaN"),
        (np.eye(2), "3x3"),
    ],
)
def test_impossible_intrinsics_are_refused(bad: np.ndarray, match: str) -> None:
    stage = Usd.Stage.CreateInMemory()
    with pytest.raises(InputError, match=match):
        define_camera(stage, "/World/Cameras/x", K=bad, width=20, height=20, camera_to_world=np.eye(4))
    assert not stage.GetPrimAtPath("/World/Cameras/x")
